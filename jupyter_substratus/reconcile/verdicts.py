"""The verdicts: one condition each (status, reason, message), from what the adapter saw."""

from dataclasses import dataclass
from enum import StrEnum

from jupyter_substratus.api.kinds import Resource
from jupyter_substratus.api.status import BUILT, COMPLETE, UPLOADED
from jupyter_substratus.api.workloads import (
    AWAITING_UPLOAD,
    BUILD_FAILED,
    BUILDING,
    CHECKSUM_MISMATCH,
    DEPENDENCY_FAILED,
    DEPENDENCY_NOT_FOUND,
    FAILURE_REASONS,
    INTERRUPTED,
    INVALID_SPEC,
    JOB_FAILED,
    POD_FAILED,
    RUNNING,
    STARTING,
    SUCCEEDED,
    SUSPENDED,
    WAITING_FOR_DEPENDENCY,
    condition_type,
    dependencies,
    main_condition,
)

INTERRUPTED_MESSAGE = (
    "the Jupyter server stopped while this ran; its partial output is not used. "
    "Run it again: Run again in the sidebar, %substratus rerun, or POST .../rerun"
)


@dataclass(frozen=True)
class Verdict:
    """A condition to report: its status, a CamelCase reason and a human message."""

    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "False" and self.reason in FAILURE_REASONS

    @property
    def ok(self) -> bool:
        return self.status == "True"


class Progress(StrEnum):
    """Where a workload (a Job, a process, a Deployment) stands, as its adapter reads it."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SUSPENDED = "Suspended"
    INTERRUPTED = "Interrupted"  # the local backend's: the run stopped with the Jupyter server


def invalid_verdict(resource_kind: str, message: str) -> Verdict:
    return Verdict(condition_type(resource_kind), "False", INVALID_SPEC, message)


# --- dependencies -------------------------------------------------------------------------


def dependency_verdict(
    resource: Resource, found: dict[tuple[str, str], Resource | None], *, stalled: bool = False
) -> Verdict | None:
    """None when every dependency is complete; else why it fails (first), is missing or waits. `stalled`: a
    missing one has been missing past the grace period, and the message says what to fix."""
    condition = main_condition(resource)
    verdicts = []
    for kind, name in dependencies(resource):
        dependency = found.get((kind, name))
        complete = dependency.status.condition(COMPLETE) if dependency is not None and dependency.status else None
        if dependency is None:
            message = (
                f"{kind} '{name}' does not exist; create it or fix {_field(resource, kind, name)}"
                if stalled
                else f"{kind} {name} does not exist (yet)"
            )
            verdicts.append(Verdict(condition, "False", DEPENDENCY_NOT_FOUND, message))
        elif complete is not None and complete.status == "False" and complete.reason in FAILURE_REASONS:
            return Verdict(
                condition, "False", DEPENDENCY_FAILED, f"{kind} {name} failed ({complete.reason}): {complete.message}"
            )
        elif not (dependency.status and dependency.status.ready):
            verdicts.append(
                Verdict(condition, "False", WAITING_FOR_DEPENDENCY, f"waiting for {kind} {name} to be ready")
            )
    # A missing one first: it is what to fix, and what turns the phase Stalled.
    missing = [verdict for verdict in verdicts if verdict.reason == DEPENDENCY_NOT_FOUND]
    return next(iter(missing or verdicts), None)


def _field(resource: Resource, kind: str, name: str) -> str:
    """Where the spec names the dependency `kind` `name`."""
    for field, field_kind in (("model", "Model"), ("dataset", "Dataset")):
        ref = getattr(resource.spec, field, None)
        if field_kind == kind and ref is not None and ref.name == name:
            return f"spec.{field}.name"
    adapters = [adapter.name for adapter in getattr(resource.spec, "adapters", None) or []]
    return f"spec.adapters[{adapters.index(name)}].name" if name in adapters else "the spec"


# --- the image ----------------------------------------------------------------------------


def build_verdict(*, built: bool, failed: bool, message: str = "") -> Verdict:
    if failed:
        return Verdict(BUILT, "False", BUILD_FAILED, message or "the image build failed")
    if built:
        return Verdict(BUILT, "True", SUCCEEDED, message or "the image is built")
    return Verdict(BUILT, "False", BUILDING, "building the image")


def upload_verdict(*, expected_md5: str, stored_md5: str | None) -> Verdict:
    if stored_md5 is None:
        return Verdict(
            UPLOADED, "False", AWAITING_UPLOAD, "waiting for the build context at status.buildUpload.signedURL"
        )
    if stored_md5 != expected_md5:
        return Verdict(
            UPLOADED,
            "False",
            CHECKSUM_MISMATCH,
            f"the uploaded object's MD5 is {stored_md5}, spec.build.upload.md5Checksum is {expected_md5}",
        )
    return Verdict(UPLOADED, "True", SUCCEEDED, "the build context is uploaded and its checksum matches")


# --- the workload -------------------------------------------------------------------------


def workload_verdict(resource: Resource, progress: Progress, message: str = "") -> Verdict:
    condition = main_condition(resource)
    if progress is Progress.FAILED:
        reason = JOB_FAILED if condition == COMPLETE else POD_FAILED
        return Verdict(condition, "False", reason, message or "the workload failed")
    if progress is Progress.INTERRUPTED:
        return Verdict(condition, "False", INTERRUPTED, INTERRUPTED_MESSAGE)
    if progress is Progress.SUSPENDED:
        return Verdict(condition, "False", SUSPENDED, "suspended: the pod is stopped, the work is kept")
    if progress is Progress.SUCCEEDED:
        text = "the artifacts are complete" if condition == COMPLETE else "answering requests"
        return Verdict(condition, "True", SUCCEEDED if condition == COMPLETE else RUNNING, message or text)
    if progress is Progress.RUNNING:
        return Verdict(condition, "False", RUNNING if condition == COMPLETE else STARTING, message or "running")
    return Verdict(condition, "False", STARTING, message or "starting")
