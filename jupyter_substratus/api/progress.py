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
    if not isinstance(value, dict) or _number(value.get("step")) is None:
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
    total = _number(last.get("max_steps"), minimum=1)
    eta = _number(last.get("eta_seconds"), minimum=0)
    when = _number(last.get("time"))
    return TrainerStatus(
        currentStep=step,
        totalSteps=int(total) if total else None,
        currentEpoch=_number(last.get("epoch"), minimum=0),
        loss=_number(last.get("loss")),
        progressPercentage=min(100, int(step * 100 // total)) if total else None,
        estimatedRemainingSeconds=round(eta) if eta is not None else None,
        lastUpdatedTime=datetime.fromtimestamp(when, UTC) if when is not None else None,
    )


def _number(value: object, minimum: float = -math.inf) -> float | None:
    """`value` when it is a finite number of at least `minimum`, else None."""
    if isinstance(value, int | float) and not isinstance(value, bool) and minimum <= value < math.inf:
        return value
    return None
