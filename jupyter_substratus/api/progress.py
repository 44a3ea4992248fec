"""The trainer's progress lines (JSON objects printed by images/common's `contract.progress`:
time, step, max_steps, epoch, loss, learning_rate, eta_seconds) read into `TrainerStatus`."""

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime

from .status import TrainerStatus


def progress_line(line: str) -> dict | None:
    """The fields of one progress line, or None for any other log line."""
    start = line.find("{")
    if start < 0:
        return None
    try:
        value = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(value, dict) or not _number(value.get("step")):
        return None
    return value


def trainer_status(lines: Iterable[str]) -> TrainerStatus | None:
    """The status the last progress line among `lines` describes, or None when there is none."""
    last = None
    for line in lines:
        last = progress_line(line) or last
    if last is None:
        return None
    step = int(last["step"])
    total = int(last["max_steps"]) if _number(last.get("max_steps")) and last["max_steps"] > 0 else None
    eta = last.get("eta_seconds")
    when = last.get("time")
    return TrainerStatus(
        currentStep=step,
        totalSteps=total,
        currentEpoch=last["epoch"] if _number(last.get("epoch")) and last["epoch"] >= 0 else None,
        loss=last["loss"] if _number(last.get("loss")) else None,
        progressPercentage=min(100, step * 100 // total) if total else None,
        estimatedRemainingSeconds=round(eta) if _number(eta) and eta >= 0 else None,
        lastUpdatedTime=datetime.fromtimestamp(when, UTC) if _number(when) else None,
    )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
