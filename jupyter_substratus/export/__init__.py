"""A notebook and the files beside it -> a build context for the trainer image -> a Model.

`context.build_context` makes the deterministic tar.gz; `launch.fine_tune` turns it into a
fine-tuning Model through a backend (create, then the upload handshake).
"""

from .context import (
    DEFAULT_MAX_BYTES,
    NOTEBOOK_IMAGE,
    TRAINER_IMAGE,
    BuildContext,
    ExportError,
    build_context,
    generated_dockerfile,
    notebook_context,
    notebook_dockerfile,
)
from .launch import (
    Export,
    ExportManager,
    Launch,
    fine_tune,
    fine_tune_manifest,
    gpu_resource,
    launch,
    parse_gpu,
    prepare_export,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "NOTEBOOK_IMAGE",
    "TRAINER_IMAGE",
    "BuildContext",
    "Export",
    "ExportError",
    "ExportManager",
    "Launch",
    "build_context",
    "fine_tune",
    "fine_tune_manifest",
    "generated_dockerfile",
    "launch",
    "notebook_context",
    "notebook_dockerfile",
    "gpu_resource",
    "parse_gpu",
    "prepare_export",
]
