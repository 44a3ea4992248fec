"""The four kinds of substratus.ai/v1 and how to parse a manifest into one of them."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Final, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from .errors import FieldError, ResourceValidationError
from .fields import DURATION_PATTERN, NAME_PATTERN, Build, Env, ObjectRef, Params, Resources, SpecPart
from .status import ArtifactStatus, NotebookStatus, ServingStatus, Status
from .trainer_params import trainer_param_problems

API_VERSION: Final = "substratus.ai/v1"
GROUP, VERSION = API_VERSION.split("/")

_ONE_SOURCE_RULE = {
    "rule": "has(self.image) != has(self.build)",
    "message": "set exactly one of image, build.git, build.upload",
}
# A Server may name no image: it then gets the default model server for its hardware
# (jupyter_substratus.api.images.server_image).
_AT_MOST_ONE_SOURCE_RULE = {
    "rule": "!has(self.image) || !has(self.build)",
    "message": "set at most one of image, build.git, build.upload",
}
_IMMUTABLE_RULE = {
    "rule": "self == oldSelf",
    "message": "spec is immutable: create a new object with the changes instead",
}
_DATASET_NEEDS_MODEL_RULE = {
    "rule": "!has(self.dataset) || has(self.model)",
    "message": "a dataset is for fine-tuning: set model (the base model) too",
}


def _spec_schema(*rules: dict) -> dict:
    # oneOf makes the API server's schema check reject image+build even where CEL is not
    # evaluated; the CEL rule gives the clear message on clusters that do evaluate it.
    return {
        "oneOf": [{"required": ["image"]}, {"required": ["build"]}],
        "x-kubernetes-validations": [_ONE_SOURCE_RULE, *rules],
    }


def _optional_image_schema() -> dict:
    return {"x-kubernetes-validations": [_AT_MOST_ONE_SOURCE_RULE]}


class WorkloadSpec(SpecPart):
    """What every kind has: the container that does the work and how to run it."""

    image: str | None = Field(default=None, min_length=1, max_length=1024, pattern=r"^\S+$")
    build: Build | None = None
    command: list[str] | None = None
    env: Env | None = None
    params: Params | None = None
    resources: Resources | None = None

    # The CRD's rule on the image's sources, checked here too.
    source_rule: ClassVar[dict[str, str]] = _ONE_SOURCE_RULE

    @model_validator(mode="after")
    def _one_source(self):
        both = self.image is not None and self.build is not None
        neither = self.image is None and self.build is None
        if both or (neither and self.source_rule is _ONE_SOURCE_RULE):
            raise ValueError(self.source_rule["message"])
        return self


class ModelSpec(WorkloadSpec):
    model_config = ConfigDict(
        **SpecPart.model_config,
        json_schema_extra=_spec_schema(_DATASET_NEEDS_MODEL_RULE, _IMMUTABLE_RULE),
    )

    model: ObjectRef | None = Field(default=None, description="the base model to fine-tune")
    dataset: ObjectRef | None = Field(default=None, description="the training data")

    @model_validator(mode="after")
    def _dataset_needs_model(self):
        if self.dataset is not None and self.model is None:
            raise ValueError(_DATASET_NEEDS_MODEL_RULE["message"])
        return self

    @model_validator(mode="after")
    def _trainer_params(self):
        # A fine-tune that runs an image gives its params to the trainer; one built from a
        # notebook (spec.build) hands them to the notebook, whose names mean what it says.
        if not self.is_fine_tune or self.build is not None or not self.params:
            return self
        problems = trainer_param_problems(self.params)
        if problems:
            raise ValidationError.from_exception_data(
                "params",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("trainer_param", "{problem}", {"problem": problem}),
                        loc=("params", key),
                        input=self.params[key],
                    )
                    for key, problem in problems.items()
                ],
            )
        return self

    @property
    def is_fine_tune(self) -> bool:
        return self.model is not None


class DatasetSpec(WorkloadSpec):
    model_config = ConfigDict(**SpecPart.model_config, json_schema_extra=_spec_schema(_IMMUTABLE_RULE))


class ServerSpec(WorkloadSpec):
    model_config = ConfigDict(**SpecPart.model_config, json_schema_extra=_optional_image_schema())
    source_rule = _AT_MOST_ONE_SOURCE_RULE

    model: ObjectRef = Field(description="the Model to serve")
    adapters: list[ObjectRef] | None = Field(
        default=None,
        max_length=16,
        description="LoRA adapter Models (fine-tunes of model kept unmerged) served on its one copy in memory, "
        "each its own `model` in the OpenAI API under its name; mounted at /content/adapters/<name>",
    )


class NotebookSpec(WorkloadSpec):
    model_config = ConfigDict(**SpecPart.model_config, json_schema_extra=_spec_schema())

    model: ObjectRef | None = Field(default=None, description="mounted at /content/model")
    dataset: ObjectRef | None = Field(default=None, description="mounted at /content/data")
    suspend: bool = Field(default=False, description="stop the pod, keep the work")
    suspend_after_idle: str | None = Field(
        default=None,
        alias="suspendAfterIdle",
        pattern=DURATION_PATTERN,
        description="set suspend after this long without activity: no kernel busy and no request to its "
        "Jupyter server (e.g. 90s, 30m, 2h); clusters only",
    )

    @property
    def idle_limit(self) -> timedelta | None:
        """suspendAfterIdle as a duration."""
        if self.suspend_after_idle is None:
            return None
        unit = {"s": "seconds", "m": "minutes", "h": "hours"}[self.suspend_after_idle[-1]]
        return timedelta(**{unit: int(self.suspend_after_idle[:-1])})


class ObjectMeta(BaseModel):
    """The part of metav1.ObjectMeta we read; the rest is kept as the API server wrote it."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    namespace: str | None = Field(default=None, min_length=1, max_length=63, pattern=NAME_PATTERN)
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    priority: int = 0  # 1: only with `kubectl get -o wide`


@dataclass(frozen=True)
class CRDNames:
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[PrinterColumn, ...]


_READY = PrinterColumn("Ready", ".status.ready", "boolean")
_GPUS = PrinterColumn("GPUs", ".spec.resources.gpu.count", "integer")
_GPU_TYPE = PrinterColumn("GPU Type", ".spec.resources.gpu.type", priority=1)
_IMAGE = PrinterColumn("Image", ".status.image", priority=1)


def _reason(condition_type: str) -> PrinterColumn:
    return PrinterColumn("Reason", f'.status.conditions[?(@.type=="{condition_type}")].reason')


class Resource(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    names: ClassVar[CRDNames]
    # A run-to-completion kind's workload is a Job that makes artifacts; it can be run again.
    # Its spec is immutable (the artifacts stay reproducible from it); the others' specs change.
    run_to_completion: ClassVar[bool] = False
    immutable_spec: ClassVar[bool] = False

    api_version: Literal["substratus.ai/v1"] = Field(default=API_VERSION, alias="apiVersion")
    kind: str  # each kind narrows it to its own name
    metadata: ObjectMeta
    spec: WorkloadSpec
    status: Status | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    def to_manifest(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Model(Resource):
    names = CRDNames(
        "models",
        ("mdl",),
        (
            _READY,
            PrinterColumn("Base", ".spec.model.name"),
            PrinterColumn("Dataset", ".spec.dataset.name"),
            _GPUS,
            _reason("Complete"),
            _GPU_TYPE,
            _IMAGE,
        ),
    )
    kind: Literal["Model"] = "Model"
    run_to_completion = True
    immutable_spec = True
    spec: ModelSpec
    status: ArtifactStatus | None = None


class Dataset(Resource):
    names = CRDNames("datasets", ("data", "ds"), (_READY, _reason("Complete"), _IMAGE))
    kind: Literal["Dataset"] = "Dataset"
    run_to_completion = True
    immutable_spec = True
    spec: DatasetSpec
    status: ArtifactStatus | None = None


class Server(Resource):
    names = CRDNames(
        "servers",
        ("srv",),
        (
            _READY,
            PrinterColumn("Model", ".spec.model.name"),
            _GPUS,
            PrinterColumn("URL", ".status.url"),
            _reason("Serving"),
            _GPU_TYPE,
            _IMAGE,
        ),
    )
    kind: Literal["Server"] = "Server"
    spec: ServerSpec
    status: ServingStatus | None = None


class Notebook(Resource):
    names = CRDNames(
        "notebooks",
        ("nb",),
        (
            _READY,
            PrinterColumn("Suspended", ".spec.suspend", "boolean"),
            PrinterColumn("Model", ".spec.model.name"),
            PrinterColumn("Dataset", ".spec.dataset.name"),
            _GPUS,
            _reason("Serving"),
            _GPU_TYPE,
            _IMAGE,
        ),
    )
    kind: Literal["Notebook"] = "Notebook"
    spec: NotebookSpec
    status: NotebookStatus | None = None


KINDS: dict[str, type[Resource]] = {cls.__name__: cls for cls in (Model, Dataset, Server, Notebook)}
KINDS_BY_PLURAL: dict[str, type[Resource]] = {cls.names.plural: cls for cls in KINDS.values()}


def parse(manifest: Any) -> Resource:
    """A manifest (a dict, as from YAML or JSON) as one of the four kinds.

    Raises ResourceValidationError naming each offending field.
    """
    if not isinstance(manifest, dict):
        raise ResourceValidationError("resource", [FieldError("", "a manifest must be a mapping")])
    kind = manifest.get("kind")
    if kind not in KINDS:
        known = ", ".join(KINDS)
        raise ResourceValidationError("resource", [FieldError("kind", f"must be one of {known}, got {kind!r}")])
    if manifest.get("apiVersion") != API_VERSION:
        got = manifest.get("apiVersion")
        raise ResourceValidationError(kind, [FieldError("apiVersion", f"must be {API_VERSION}, got {got!r}")])
    try:
        return KINDS[kind].model_validate(manifest)
    except pydantic.ValidationError as error:
        raise ResourceValidationError.from_pydantic(kind, error) from None
