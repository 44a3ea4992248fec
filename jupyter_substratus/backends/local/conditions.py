"""Writing verdicts into a manifest's status, as the operator does (metav1.Condition shape)."""

from __future__ import annotations

from typing import Any

from jupyter_substratus.api.workloads import Verdict

from .store import now


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any] | None:
    return next((c for c in obj.get("status", {}).get("conditions", []) if c["type"] == condition_type), None)


def set_verdict(obj: dict[str, Any], verdict: Verdict) -> None:
    status = obj.setdefault("status", {})
    conditions = status.setdefault("conditions", [])
    generation = obj["metadata"].get("generation", 1)
    new = {
        "type": verdict.type,
        "status": verdict.status,
        "reason": verdict.reason,
        "message": verdict.message,
        "observedGeneration": generation,
    }
    old = condition(obj, verdict.type)
    if old is not None and old["status"] == verdict.status:
        new["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        new["lastTransitionTime"] = now()
    status["conditions"] = [c for c in conditions if c["type"] != verdict.type] + [new]
