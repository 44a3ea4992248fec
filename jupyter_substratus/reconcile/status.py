"""The one status writer: conditions (transition times kept while their status holds, one
truncation rule, observedGeneration), `ready`, `phase`, and whether a resource is settled."""

from datetime import datetime
from typing import Any

from jupyter_substratus.api.status import SETTLED_PHASES, Phase
from jupyter_substratus.api.workloads import BUILDING, RUNNING, SUSPENDED, condition_type

from .verdicts import Verdict

MAX_MESSAGE = 32768  # metav1.Condition's limit
TRUNCATED = " [...]"


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def truncated(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - len(TRUNCATED)] + TRUNCATED


def phase_of(main: Verdict, *, stalled: bool = False) -> Phase:
    """One word for the main condition (Complete or Serving)."""
    if main.ok:
        return Phase.READY
    if main.failed:
        return Phase.FAILED
    if main.reason == SUSPENDED:
        return Phase.SUSPENDED
    if stalled:
        return Phase.STALLED
    if main.reason == BUILDING:
        return Phase.BUILDING
    if main.reason == RUNNING:  # a Model's or Dataset's job; a Server's Running is its True
        return Phase.RUNNING
    return Phase.PENDING


def write_conditions(
    old: list[dict[str, Any]], verdicts: list[Verdict], generation: int | None, now: datetime, drop: set[str]
) -> list[dict[str, Any]]:
    """`old` with each verdict's condition written in its place (new ones last), `drop` removed."""
    previous = {c["type"]: c for c in old}
    written = dict(previous)
    for verdict in verdicts:
        before = previous.get(verdict.type, {})
        kept = before.get("status") == verdict.status and before.get("lastTransitionTime")
        written[verdict.type] = {
            "type": verdict.type,
            "status": verdict.status,
            "reason": verdict.reason,
            "message": truncated(verdict.message),
            "lastTransitionTime": kept or rfc3339(now),
            **({"observedGeneration": generation} if generation is not None else {}),
        }
    return [c for t, c in written.items() if t not in drop]


def main_condition_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    wanted = condition_type(obj["kind"])
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == wanted), None)


def settled(obj: dict[str, Any]) -> bool:
    """Whether its status is final for its current spec: a client waiting for it stops here, and
    nothing but a change (a new spec, a rerun, a dependency's news) moves it on."""
    status = obj.get("status") or {}
    if status.get("phase") not in SETTLED_PHASES:
        return False
    generation = obj["metadata"].get("generation")
    main = main_condition_of(obj)
    return generation is None or (main is not None and main.get("observedGeneration") == generation)


def same_but_times(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether writing `new` over `old` would change more than transition and update times."""

    def essence(status: dict[str, Any]) -> dict[str, Any]:
        conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
        return {**status, "conditions": conditions}

    return essence({k: old.get(k) for k in new}) == essence(new)
