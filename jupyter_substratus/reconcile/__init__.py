"""The reconcile flow, written once: what to do for a resource given what an adapter observed,
and the whole status to report (flow.py); the verdicts behind its conditions (verdicts.py); the
one status writer, `phase` and "settled" (status.py). It imports jupyter_substratus.api only:
the operator (a distribution of its own) and the local backend both import it."""

from .flow import DEFAULT_STALLED_AFTER, Action, Decision, Observed, Seen, decide
from .status import main_condition_of, phase_of, same_but_times, settled
from .verdicts import (
    INTERRUPTED_MESSAGE,
    Progress,
    Verdict,
    build_verdict,
    dependency_verdict,
    invalid_verdict,
    upload_verdict,
    workload_verdict,
)

__all__ = [
    "DEFAULT_STALLED_AFTER",
    "INTERRUPTED_MESSAGE",
    "Action",
    "Decision",
    "Observed",
    "Progress",
    "Seen",
    "Verdict",
    "build_verdict",
    "decide",
    "dependency_verdict",
    "invalid_verdict",
    "main_condition_of",
    "phase_of",
    "same_but_times",
    "settled",
    "upload_verdict",
    "workload_verdict",
]
