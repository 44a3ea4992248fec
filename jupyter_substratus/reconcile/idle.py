"""A Notebook with spec.suspendAfterIdle: when it is idle long enough to suspend, and what its
status says about its activity.

Activity is what its Jupyter server reports, as JupyterHub's idle culler reads it: GET /api/status
(`last_activity`: the last API request or kernel message; that request itself does not count)
and GET /api/kernels?no_track_activity=1 (a kernel `busy` running a cell is never idle, however
long the cell prints nothing). A browser tab left open polls the API and so keeps it active.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jupyter_substratus.api.kinds import Notebook

from .status import rfc3339

CHECK_EVERY = timedelta(seconds=60)  # at most this long between two looks at a running Notebook
LAST_ACTIVITY = "lastActivity"
IDLE_SUSPENDED_AT = "idleSuspendedAt"
STATUS_PATH = "/api/status"
KERNELS_PATH = "/api/kernels"
KERNELS_QUERY = {"no_track_activity": "1"}  # asking must not count as activity


@dataclass(frozen=True)
class Activity:
    last: datetime
    busy_kernels: int


def activity_of(status: Any, kernels: Any) -> Activity | None:
    """The Activity in Jupyter's answers to /api/status and /api/kernels, or None when they are
    not what a Jupyter server answers."""
    try:
        last = datetime.fromisoformat(str(status["last_activity"]).replace("Z", "+00:00"))
        busy = sum(1 for kernel in kernels if kernel.get("execution_state") == "busy")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return Activity(last if last.tzinfo else last.replace(tzinfo=UTC), busy)


@dataclass(frozen=True)
class Idleness:
    suspend: bool = False  # set spec.suspend now
    recheck_after: timedelta | None = None  # look at it again then
    status: dict[str, str | None] = field(default_factory=dict)  # lastActivity, idleSuspendedAt; None: removed
    message: str = ""  # the condition's message, when idleness suspended it or cannot be judged


def idleness(
    resource: Notebook, status: dict[str, Any], activity: Activity | None, now: datetime, unread: str = ""
) -> Idleness:
    """For a running Notebook `activity` is what its Jupyter server said (None: not asked, or no
    answer: never a reason to suspend; `unread` says why it could not be read); a suspended one
    keeps idleSuspendedAt until it resumes."""
    limit = resource.spec.idle_limit
    if resource.spec.suspend:
        suspended_at = status.get(IDLE_SUSPENDED_AT)
        if not suspended_at:
            return Idleness(status={LAST_ACTIVITY: None})
        last = status.get(LAST_ACTIVITY)
        since = f" (last activity {last})" if last else ""
        message = (
            f"suspended at {suspended_at} after {resource.spec.suspend_after_idle} without activity{since}: "
            "the pod is stopped, the work is kept; resume it to start it again"
        )
        return Idleness(status={IDLE_SUSPENDED_AT: suspended_at}, message=message)
    if limit is None:
        return Idleness(status={LAST_ACTIVITY: None, IDLE_SUSPENDED_AT: None})
    if activity is None:
        message = f"answering requests; suspendAfterIdle cannot read its activity: {unread}" if unread else ""
        return Idleness(recheck_after=CHECK_EVERY, status={IDLE_SUSPENDED_AT: None}, message=message)
    fields: dict[str, str | None] = {LAST_ACTIVITY: rfc3339(activity.last), IDLE_SUSPENDED_AT: None}
    idle_for = now - activity.last
    if activity.busy_kernels or idle_for < limit:
        wait = CHECK_EVERY if activity.busy_kernels else min(CHECK_EVERY, limit - idle_for)
        return Idleness(recheck_after=max(wait, timedelta(seconds=1)), status=fields)
    return Idleness(suspend=True, status={**fields, IDLE_SUSPENDED_AT: rfc3339(now)})
