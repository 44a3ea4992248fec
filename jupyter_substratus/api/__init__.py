"""substratus.ai/v1: the Model, Dataset, Server and Notebook kinds as pydantic models.

The single source of truth for the API: crds/ is generated from these classes
(`substratus-crds`), and the operator, the backends and the REST API all parse with them.
"""

from .errors import FieldError, ResourceValidationError
from .fields import GPU, GPU_TYPES, Build, GitSource, ObjectRef, Resources, UploadSource
from .images import DEFAULT_IMAGES, GPU_SERVER_IMAGE, server_image
from .kinds import (
    API_VERSION,
    GROUP,
    KINDS,
    KINDS_BY_PLURAL,
    VERSION,
    Dataset,
    DatasetSpec,
    Model,
    ModelSpec,
    Notebook,
    NotebookSpec,
    ObjectMeta,
    Resource,
    Server,
    ServerSpec,
    parse,
)
from .status import BUILT, COMPLETE, SERVING, UPLOADED, Artifacts, BuildUpload, Condition, Status

__all__ = [
    "API_VERSION",
    "Artifacts",
    "BUILT",
    "Build",
    "BuildUpload",
    "COMPLETE",
    "Condition",
    "DEFAULT_IMAGES",
    "GPU_SERVER_IMAGE",
    "Dataset",
    "DatasetSpec",
    "FieldError",
    "GPU",
    "GPU_TYPES",
    "GROUP",
    "GitSource",
    "KINDS",
    "KINDS_BY_PLURAL",
    "Model",
    "ModelSpec",
    "Notebook",
    "NotebookSpec",
    "ObjectMeta",
    "ObjectRef",
    "Resource",
    "ResourceValidationError",
    "Resources",
    "SERVING",
    "Server",
    "ServerSpec",
    "Status",
    "UPLOADED",
    "UploadSource",
    "VERSION",
    "parse",
    "server_image",
]
