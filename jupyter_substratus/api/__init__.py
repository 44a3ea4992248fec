"""substratus.ai/v1: the Model, Dataset, Server and Notebook kinds as pydantic models.

The single source of truth for the API: crds/ is generated from these classes
(`substratus-crds`), and the operator, the backends and the REST API all parse with them.
"""

from .errors import FieldError, ResourceValidationError
from .fields import GPU, GPU_TYPES, Build, GitSource, ObjectRef, Resources, UploadSource
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

__all__ = [name for name in dir() if not name.startswith("_")]
