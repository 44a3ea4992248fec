"""The reconcile decisions: what runs for a resource, given its dependencies.

Plain functions of the parsed resources, with no Kubernetes objects in them: the operator
translates a `Plan` into a Job, Deployment or Pod, and the local backend runs the same plan as a
process with the content directories mapped.
"""

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum

from .fields import SECRET_REFERENCE_PATTERN, GitSource, ObjectRef, Resources
from .kinds import Dataset, Model, Notebook, Resource, Server
from .status import COMPLETE, SERVING

CONTENT_DIR = "/content"
MODEL_DIR = f"{CONTENT_DIR}/model"
DATA_DIR = f"{CONTENT_DIR}/data"
ADAPTERS_DIR = f"{CONTENT_DIR}/adapters"
ARTIFACTS_DIR = f"{CONTENT_DIR}/artifacts"
PARAMS_FILE = f"{CONTENT_DIR}/params.json"
SERVER_PORT = 8080
NOTEBOOK_PORT = 8888
NOTEBOOK_TOKEN_ENV = "NOTEBOOK_TOKEN"

# Condition reasons. A "False" condition with one of FAILURE_REASONS is final until the spec
# changes; any other "False" reason means the resource is still on its way.
INVALID_SPEC = "InvalidSpec"
JOB_FAILED = "JobFailed"
POD_FAILED = "PodFailed"
BUILD_FAILED = "BuildFailed"
DEPENDENCY_FAILED = "DependencyFailed"
CHECKSUM_MISMATCH = "ChecksumMismatch"
UPLOAD_UNSUPPORTED = "UploadUnsupported"
INTERRUPTED = "Interrupted"  # the local backend's: the run stopped with the Jupyter server
CANCELLED = "Cancelled"  # the user cancelled the run (CANCEL_ANNOTATION); run it again to go on
FAILURE_REASONS = frozenset(
    {
        INVALID_SPEC,
        JOB_FAILED,
        POD_FAILED,
        BUILD_FAILED,
        DEPENDENCY_FAILED,
        CHECKSUM_MISMATCH,
        UPLOAD_UNSUPPORTED,
        INTERRUPTED,
        CANCELLED,
    }
)
WAITING_FOR_DEPENDENCY = "WaitingForDependency"
DEPENDENCY_NOT_FOUND = "DependencyNotFound"
AWAITING_UPLOAD = "AwaitingUpload"
BUILDING = "Building"
RUNNING = "Running"
STARTING = "Starting"
SUSPENDED = "Suspended"
SUCCEEDED = "Succeeded"


# Set by `Backend.cancel` (its value: when, RFC 3339); the flow stops the run and reports
# CANCELLED; a rerun removes it.
CANCEL_ANNOTATION = "substratus.ai/cancel-requested"


class Role(StrEnum):
    LOADER = "loader"  # Model import or Dataset: a run-to-completion job fetching content
    TRAINER = "trainer"  # Model fine-tune: a run-to-completion job
    SERVER = "server"  # a long-running replica behind a port
    NOTEBOOK = "notebook"  # one interactive pod behind a port, stoppable


@dataclass(frozen=True)
class SecretRef:
    name: str
    key: str


@dataclass(frozen=True)
class ArtifactRef:
    """The output of one Model or Dataset; where it lives is the backend's business."""

    kind: str
    namespace: str
    name: str

    def path(self, cluster: str) -> str:
        """The deterministic location under a store's root: cluster/namespace/kind/name."""
        return f"{cluster}/{self.namespace}/{self.kind.lower()}s/{self.name}"


@dataclass(frozen=True)
class Mount:
    path: str
    artifact: ArtifactRef
    read_only: bool


@dataclass(frozen=True)
class Sizing:
    cpu: float
    memory_gb: int
    disk_gb: int
    gpu_type: str | None = None
    gpu_count: int = 0


@dataclass(frozen=True)
class Plan:
    role: Role
    image: str
    command: tuple[str, ...] | None
    env: dict[str, str | SecretRef]
    params_json: str
    mounts: tuple[Mount, ...]
    sizing: Sizing
    port: int | None = None
    readiness_path: str | None = None


# --- what a resource needs ----------------------------------------------------------------


def child_name(owner: str, suffix: str, limit: int = 63) -> str:
    """The name of a child the operator makes for a resource (`OWNER-SUFFIX`: its Job, Deployment,
    Service, ...); past `limit`, the owner's part is cut short and a digest of the whole keeps it unique."""
    name = f"{owner}-{suffix}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{owner[: limit - len(suffix) - 10].rstrip('-')}-{digest}-{suffix}"


def server_service(server: str) -> tuple[str, int]:
    """The name and port of the Service in front of a Server's model server on a cluster."""
    return child_name(server, Role.SERVER.value), SERVER_PORT


def condition_type(kind: str) -> str:
    """The condition that says whether a resource of this kind did its job."""
    return COMPLETE if kind in ("Model", "Dataset") else SERVING


def main_condition(resource: Resource) -> str:
    return condition_type(resource.kind)


def role(resource: Resource) -> Role:
    if isinstance(resource, Model):
        return Role.TRAINER if resource.spec.is_fine_tune else Role.LOADER
    if isinstance(resource, Dataset):
        return Role.LOADER
    return Role.SERVER if isinstance(resource, Server) else Role.NOTEBOOK


def dependencies(resource: Resource) -> list[tuple[str, str]]:
    """(kind, name) of every resource whose artifacts this one mounts, in its namespace."""
    refs = [
        (kind, ref.name)
        for kind, ref in (("Model", _ref(resource, "model")), ("Dataset", _ref(resource, "dataset")))
        if ref is not None
    ]
    refs += [("Model", adapter.name) for adapter in getattr(resource.spec, "adapters", None) or []]
    return refs


def _ref(resource: Resource, field: str) -> ObjectRef | None:
    """spec.model or spec.dataset, where the kind has that field."""
    return getattr(resource.spec, field, None)


# --- the image ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    """Build the resource's image from source; `tag` names the content, so equal content is built once."""

    tag: str
    git: GitSource | None = None
    upload_md5: str | None = None

    def image(self, repository: str) -> str:
        return f"{repository}:{self.tag}"


def build_plan(resource: Resource) -> BuildPlan | None:
    build = resource.spec.build
    if build is None:
        return None
    if build.upload is not None:
        return BuildPlan(tag=f"upload-{build.upload.md5_checksum}", upload_md5=build.upload.md5_checksum)
    git = build.git
    assert git is not None  # Build's validator: exactly one of git, upload
    ref = f"tag:{git.tag}" if git.tag else f"branch:{git.branch or ''}"
    digest = hashlib.sha256(f"{git.url}\n{ref}\n{git.path or ''}".encode()).hexdigest()[:32]
    return BuildPlan(tag=f"git-{digest}", git=git)


# --- the workload -------------------------------------------------------------------------


def params_json(resource: Resource) -> str:
    return json.dumps(resource.spec.params or {}, sort_keys=True)


def env(resource: Resource) -> dict[str, str | SecretRef]:
    """PARAM_<KEY> for each param, then spec.env (which wins), secret references resolved."""
    result: dict[str, str | SecretRef] = {}
    for key, value in (resource.spec.params or {}).items():
        result[f"PARAM_{key.upper()}"] = json.dumps(value) if isinstance(value, bool) else str(value)
    for key, value in (resource.spec.env or {}).items():
        match = re.match(SECRET_REFERENCE_PATTERN, value)
        result[key] = SecretRef(match.group(1), match.group(3)) if match else value
    return result


def mounts(resource: Resource, namespace: str) -> tuple[Mount, ...]:
    spec = resource.spec
    inputs = [(MODEL_DIR, getattr(spec, "model", None), "Model"), (DATA_DIR, getattr(spec, "dataset", None), "Dataset")]
    inputs += [(f"{ADAPTERS_DIR}/{a.name}", a, "Model") for a in getattr(spec, "adapters", None) or []]
    found = [Mount(path, ArtifactRef(kind, namespace, ref.name), read_only=True) for path, ref, kind in inputs if ref]
    if isinstance(resource, (Model, Dataset)):
        found.append(Mount(ARTIFACTS_DIR, ArtifactRef(resource.kind, namespace, resource.name), read_only=False))
    return tuple(found)


_PARAMETER_COUNT = re.compile(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([mb])(?![a-z])", re.IGNORECASE)
_DEFAULT = Sizing(cpu=2, memory_gb=8, disk_gb=20)
_NOTEBOOK_DEFAULT = Sizing(cpu=2, memory_gb=8, disk_gb=20)
_GPU_MEMORY_GB = {"nvidia-t4": 16, "nvidia-l4": 24, "nvidia-a100": 40, "nvidia-h100": 80}


def parameter_count(model: Model) -> float | None:
    """The parameter count a model's name advertises ("falcon-7b", "opt-125m"), if any."""
    candidates = [str(v) for v in (model.spec.params or {}).values() if isinstance(v, str)] + [model.name]
    for text in candidates:
        if found := _PARAMETER_COUNT.search(text):
            return float(found.group(1)) * (1e9 if found.group(2).lower() == "b" else 1e6)
    return None


def sizing(resource: Resource, model: Model | None) -> Sizing:
    """spec.resources where given; else from the served/trained model's size (16-bit weights)."""
    given = resource.spec.resources
    default = _NOTEBOOK_DEFAULT if isinstance(resource, Notebook) else _estimate(resource, model)
    if given is None:
        return default
    return _merge(given, default)


def _estimate(resource: Resource, model: Model | None) -> Sizing:
    count = parameter_count(model) if model is not None else None
    if count is None:
        return _DEFAULT
    weights_gb = count * 2 / 1e9
    # Training holds weights, gradients and optimizer state: about 4x the weights.
    working_gb = weights_gb * (4 if role(resource) is Role.TRAINER else 1.2)
    disk = max(_DEFAULT.disk_gb, math.ceil(weights_gb * 3))
    memory = max(_DEFAULT.memory_gb, math.ceil(weights_gb * 1.5))
    if isinstance(resource, Dataset) or role(resource) is Role.LOADER or working_gb <= 2:
        return Sizing(cpu=_DEFAULT.cpu, memory_gb=memory, disk_gb=disk)
    gpu_type = "nvidia-l4"
    gpu_count = min(8, math.ceil(working_gb / _GPU_MEMORY_GB[gpu_type]))
    if gpu_count == 8:
        gpu_type, gpu_count = "nvidia-h100", min(8, math.ceil(working_gb / _GPU_MEMORY_GB["nvidia-h100"]))
    return Sizing(
        cpu=max(_DEFAULT.cpu, 4 * gpu_count), memory_gb=memory, disk_gb=disk, gpu_type=gpu_type, gpu_count=gpu_count
    )


def _merge(given: Resources, default: Sizing) -> Sizing:
    return Sizing(
        cpu=given.cpu or default.cpu,
        memory_gb=given.memory or default.memory_gb,
        disk_gb=given.disk or default.disk_gb,
        gpu_type=given.gpu.type if given.gpu else None,
        gpu_count=given.gpu.count if given.gpu else 0,
    )


@dataclass(frozen=True)
class Inputs:
    """What a plan is made from besides the resource: its namespace, image and dependencies."""

    namespace: str
    image: str
    found: dict[tuple[str, str], Resource | None] = field(default_factory=dict)


def plan(resource: Resource, inputs: Inputs) -> Plan:
    what = role(resource)
    base = _ref(resource, "model")
    found = inputs.found.get(("Model", base.name)) if base is not None else None
    model = found if isinstance(found, Model) else None
    if isinstance(resource, Model) and not resource.spec.is_fine_tune:
        model = resource
    port = {Role.SERVER: SERVER_PORT, Role.NOTEBOOK: NOTEBOOK_PORT}.get(what)
    return Plan(
        role=what,
        image=inputs.image,
        command=tuple(resource.spec.command) if resource.spec.command else None,
        env=env(resource),
        params_json=params_json(resource),
        mounts=mounts(resource, inputs.namespace),
        sizing=sizing(resource, model),
        port=port,
        readiness_path="/" if what is Role.SERVER else ("/api" if what is Role.NOTEBOOK else None),
    )
