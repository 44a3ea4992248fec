"""The reconcile flow, written once for both backends.

An adapter (the operator's Reconciler, the local backend's) observes a resource: its parsed
spec, its dependencies, its upload and image build, its workload, the trainer's progress lines.
`decide` says what to do (build the image, run the workload, stop it, nothing) and the whole
status to report. The adapter acts, and when acting changed what it sees (a Job created, a
Server's children ensured), observes and decides again before it writes the status.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from jupyter_substratus.api.images import server_image
from jupyter_substratus.api.kinds import Dataset, Model, Notebook, Resource, Server
from jupyter_substratus.api.progress import trainer_status
from jupyter_substratus.api.status import BUILT, UPLOADED, Phase
from jupyter_substratus.api.workloads import (
    AWAITING_UPLOAD,
    BUILD_FAILED,
    BUILDING,
    CANCEL_ANNOTATION,
    CANCELLED,
    DEPENDENCY_FAILED,
    DEPENDENCY_NOT_FOUND,
    SUSPENDED,
    UPLOAD_UNSUPPORTED,
    BuildPlan,
    Inputs,
    Plan,
    Role,
    build_plan,
    main_condition,
    plan,
)

from .idle import Activity, Idleness, idleness
from .status import phase_of, rfc3339, write_conditions
from .verdicts import (
    Progress,
    Verdict,
    build_verdict,
    dependency_verdict,
    invalid_verdict,
    upload_verdict,
    workload_verdict,
)

DEFAULT_STALLED_AFTER = timedelta(seconds=60)
# status.dependencyMissingSince: while a dependency does not exist, when it was first found
# missing; the phase turns Stalled `stalled_after` later.
DEPENDENCY_MISSING_SINCE = "dependencyMissingSince"
NO_UPLOAD_BUCKET = "this cluster has no upload bucket: set UPLOAD_URL in the operator's ConfigMap"


class Action(StrEnum):
    NOTHING = "nothing"
    BUILD = "build"  # start the image build
    RUN = "run"  # make the workload as planned (create the Job or process, ensure a Server's children)
    STOP = "stop"  # stop the workload: cancelled
    SUSPEND = "suspend"  # set the Notebook's spec.suspend: idle for its suspendAfterIdle


@dataclass(frozen=True)
class Seen:
    """What a workload (or an image build) showed its adapter; `message` says why it failed or waits."""

    progress: Progress
    message: str = ""


@dataclass(frozen=True)
class Observed:
    kind: str
    generation: int | None
    status: dict[str, Any]  # as last reported
    resource: Resource | None = None  # None when `invalid`
    invalid: str | None = None  # why it cannot run: it does not parse, or needs what this backend lacks
    namespace: str = "default"
    stored_md5: str | None = None  # the uploaded build context's, once stored
    uploads: bool = True  # whether this backend takes uploads at all
    build: Seen | None = None  # the image build, once started
    built_image: str | None = None  # the image the build makes
    found: dict[tuple[str, str], Resource | None] = field(default_factory=dict)  # the dependencies
    invalid_dependency: tuple[str, str] | None = None  # (kind, name) of one that does not parse
    workload: Seen | None = None  # None: nothing runs (yet)
    trainer_lines: tuple[str, ...] = ()  # the trainer's last output lines, while it runs
    activity: Activity | None = None  # a running Notebook's, when suspendAfterIdle watches it
    activity_unread: str = ""  # why it could not be read
    gpus: int | None = None  # GPUs on this machine; None: the scheduler finds them
    runs_vllm: bool = True  # whether a GPU Server without an image gets the vLLM image here
    extra: dict[str, Any] = field(default_factory=dict)  # status fields the adapter owns (url, artifacts)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def seeing(self, workload: Seen, **extra: Any) -> "Observed":
        """The same, with the workload as acting on it left it."""
        return replace(self, workload=workload, extra={**self.extra, **extra})


@dataclass(frozen=True)
class Decision:
    action: Action
    status: dict[str, Any]  # the whole status to report
    plan: Plan | None = None  # for RUN
    build: BuildPlan | None = None  # for BUILD
    awaiting_upload: bool = False  # the user's upload: look again after a while
    recheck_after: timedelta | None = None  # look again then (a Notebook watched for idleness)

    @property
    def phase(self) -> Phase:
        return Phase(self.status["phase"])

    @property
    def ready(self) -> bool:
        return bool(self.status["ready"])


def decide(seen: Observed, stalled_after: timedelta = DEFAULT_STALLED_AFTER) -> Decision:
    resource = seen.resource
    if seen.invalid is not None or resource is None:
        build = [build_verdict(built=False, failed=True, message=seen.build.message)] if seen.build else []
        return _decision(seen, Action.NOTHING, [*build, invalid_verdict(seen.kind, seen.invalid or "invalid")])
    condition = main_condition(resource)

    cancelled = (resource.metadata.annotations or {}).get(CANCEL_ANNOTATION)
    done = seen.workload is not None and seen.workload.progress is Progress.SUCCEEDED
    if cancelled and isinstance(resource, (Model, Dataset)) and not done:
        verdict = Verdict(condition, "False", CANCELLED, f"cancelled by the user at {cancelled}")
        return _decision(seen, Action.STOP if seen.workload else Action.NOTHING, [verdict])

    # The image first: an upload or a build need not wait for the dependencies.
    verdicts: list[Verdict] = []
    image = server_image(resource, vllm=seen.runs_vllm) if isinstance(resource, Server) else resource.spec.image
    wanted_build = build_plan(resource)
    if wanted_build is not None:
        if wanted_build.upload_md5 is not None:
            uploaded = (
                upload_verdict(expected_md5=wanted_build.upload_md5, stored_md5=seen.stored_md5)
                if seen.uploads
                else Verdict(UPLOADED, "False", UPLOAD_UNSUPPORTED, NO_UPLOAD_BUCKET)
            )
            verdicts.append(uploaded)
            if not uploaded.ok:
                reason = uploaded.reason if uploaded.failed else AWAITING_UPLOAD
                main = Verdict(condition, "False", reason, uploaded.message)
                return _decision(seen, Action.NOTHING, [*verdicts, main], awaiting_upload=not uploaded.failed)
        if seen.build is None:
            built = build_verdict(built=False, failed=False)
        else:
            built = build_verdict(
                built=seen.build.progress is Progress.SUCCEEDED,
                failed=seen.build.progress is Progress.FAILED,
                message=seen.build.message,
            )
        verdicts.append(built)
        if not built.ok:
            main = Verdict(condition, "False", BUILD_FAILED if built.failed else BUILDING, built.message)
            action = Action.BUILD if seen.build is None else Action.NOTHING
            return _decision(seen, action, [*verdicts, main], build=wanted_build)
        image = seen.built_image

    if seen.invalid_dependency is not None:
        kind, name = seen.invalid_dependency
        failed = Verdict(condition, "False", DEPENDENCY_FAILED, f"{kind} {name} has an invalid spec")
        return _decision(seen, Action.NOTHING, [*verdicts, failed])
    waiting = dependency_verdict(resource, seen.found)
    if waiting is not None:
        missing_since = _missing_since(seen) if waiting.reason == DEPENDENCY_NOT_FOUND else None
        stalled = missing_since is not None and seen.now - missing_since >= stalled_after
        if stalled:
            waiting = dependency_verdict(resource, seen.found, stalled=True) or waiting
        return _decision(
            seen, Action.NOTHING, [*verdicts, waiting], image=image, stalled=stalled, missing_since=missing_since
        )

    if image is None:
        raise ValueError(f"{seen.kind} has neither an image nor a build")  # parse() holds one of them
    planned = plan(resource, Inputs(seen.namespace, image, seen.found))
    progress = seen.workload or Seen(Progress.PENDING)
    verdict = workload_verdict(resource, progress.progress, _with_gpu_note(progress, planned, seen.gpus))
    trainer = trainer_status(seen.trainer_lines) if planned.role is Role.TRAINER else None
    action = Action.RUN if seen.workload is None else Action.NOTHING
    idle = None
    if isinstance(resource, Notebook) and seen.workload is not None:
        running = progress.progress is Progress.SUCCEEDED
        activity, unread = (seen.activity, seen.activity_unread) if running else (None, "")
        idle = idleness(resource, seen.status, activity, seen.now, unread)
        if idle.message:
            verdict = replace(verdict, message=idle.message)
        if idle.suspend:
            action = Action.SUSPEND
            limit = resource.spec.suspend_after_idle
            verdict = Verdict(verdict.type, "False", SUSPENDED, f"suspending: no activity for {limit}")
    return _decision(seen, action, [*verdicts, verdict], image=image, plan=planned, trainer=trainer, idle=idle)


def _missing_since(seen: Observed) -> datetime:
    """When a dependency was first found missing, in this wait: the time recorded in the status,
    else now. Not the main condition's lastTransitionTime: that counts from the first False,
    which is often the creation, before an upload, a build or a wait for a dependency that
    exists, and the grace period would be spent before anything went missing."""
    recorded = seen.status.get(DEPENDENCY_MISSING_SINCE)
    try:
        return datetime.strptime(recorded, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if recorded else seen.now
    except (TypeError, ValueError):  # not written by this flow: the wait starts again
        return seen.now


def _with_gpu_note(workload: Seen, planned: Plan, gpus: int | None) -> str:
    """A workload that asked for GPUs on a machine without any says where it runs instead."""
    wanted = planned.sizing.gpu_count
    if not wanted or gpus is None or gpus >= wanted or workload.progress in (Progress.FAILED, Progress.PENDING):
        return workload.message
    doing = "training" if planned.role is Role.TRAINER else ("serving" if planned.role is Role.SERVER else "running")
    have = f"only {gpus}" if gpus else "none"
    note = f"requested {wanted} GPU{'s' if wanted > 1 else ''}; {have} on this machine, {doing} on the CPU"
    return f"{workload.message}; {note}" if workload.message else note


def _decision(
    seen: Observed,
    action: Action,
    verdicts: list[Verdict],
    *,
    image: str | None = None,
    plan: Plan | None = None,
    build: BuildPlan | None = None,
    trainer: Any = None,
    stalled: bool = False,
    missing_since: datetime | None = None,
    awaiting_upload: bool = False,
    idle: Idleness | None = None,
) -> Decision:
    main = verdicts[-1]  # every path ends with the main condition's verdict
    # A resource that does not build has no image conditions (they are left from an earlier spec).
    drop = {BUILT, UPLOADED} if seen.resource is not None and seen.resource.spec.build is None else set()
    old = seen.status
    status = {
        **old,
        "ready": main.ok,
        "phase": phase_of(main, stalled=stalled).value,
        "conditions": write_conditions(old.get("conditions") or [], verdicts, seen.generation, seen.now, drop),
        **seen.extra,
    }
    status.pop(DEPENDENCY_MISSING_SINCE, None)
    if missing_since is not None:
        status[DEPENDENCY_MISSING_SINCE] = rfc3339(missing_since)
    if image:
        status["image"] = image
    if trainer is not None:
        status["trainerStatus"] = trainer.model_dump(by_alias=True, exclude_none=True, mode="json")
    for key, value in (idle.status if idle else {}).items():
        if value is None:
            status.pop(key, None)
        else:
            status[key] = value
    recheck = idle.recheck_after if idle else None
    return Decision(action, status, plan=plan, build=build, awaiting_upload=awaiting_upload, recheck_after=recheck)


__all__ = ["Action", "Decision", "Observed", "Seen", "decide", "rfc3339"]
