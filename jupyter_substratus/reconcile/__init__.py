"""The reconcile flow, written once: what to do for a resource given what an adapter observed,
and the whole status to report (flow.py); the verdicts behind its conditions (verdicts.py); the
one status writer, `phase` and "settled" (status.py). It imports jupyter_substratus.api only:
the operator (a distribution of its own) and the local backend both import it.

The package exports what an adapter uses; the verdicts are flow.py's own (tests reach them as
`reconcile.verdicts`)."""

from .flow import DEFAULT_STALLED_AFTER, Action, Decision, Observed, Seen, decide
from .status import main_condition_of, same_but_times, settled
from .verdicts import Progress

__all__ = [
    "DEFAULT_STALLED_AFTER",
    "Action",
    "Decision",
    "Observed",
    "Progress",
    "Seen",
    "decide",
    "main_condition_of",
    "same_but_times",
    "settled",
]
