"""How results look: tables (HTML in Jupyter, text in a terminal) and progress lines/bars."""

from __future__ import annotations

import html
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from jupyter_substratus.api.status import TrainerStatus


def _age(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = int((datetime.now(UTC) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def state_of(obj: dict) -> tuple[str, str]:
    """(state, detail) for a row: the phase where the reconcile flow wrote one (else ready, failed or
    the reason it is on its way), and the URL, the failure or what it waits for."""
    from .session import outcome

    status = obj.get("status") or {}
    verdict = outcome(obj)
    conditions = [c for c in status.get("conditions") or [] if c.get("status") != "True"]
    if verdict == "ready":
        state, detail = "Ready", status.get("url") or (status.get("artifacts") or {}).get("url") or ""
    elif verdict:
        state, detail = "Failed", verdict
    elif conditions:
        state, detail = conditions[-1].get("reason") or "Pending", conditions[-1].get("message", "")
    else:
        state, detail = "Pending", ""
    return status.get("phase") or state, detail


def trainer_status(obj: dict) -> TrainerStatus | None:
    """A Model's status.trainerStatus (a fine-tune's progress), where it has one that reads."""
    found = (obj.get("status") or {}).get("trainerStatus") if obj.get("kind") == "Model" else None
    if found is None:
        return None
    try:
        return TrainerStatus.model_validate(found)
    except ValidationError:
        return None


def progress_text(trainer: TrainerStatus, percentage: bool = True) -> str:
    """What is known of it, as "step 10/20 (50%), epoch 0.5, loss 1.25, about 10 s left"."""
    parts = []
    if trainer.current_step is not None:
        step = f"step {trainer.current_step}" + (f"/{trainer.total_steps}" if trainer.total_steps else "")
        if percentage and trainer.progress_percentage is not None:
            step += f" ({trainer.progress_percentage}%)"
        parts.append(step)
    if trainer.current_epoch is not None:
        parts.append(f"epoch {trainer.current_epoch:.3g}")
    if trainer.loss is not None:
        parts.append(f"loss {trainer.loss:.4g}")
    if trainer.estimated_remaining_seconds is not None:
        parts.append(f"about {_duration(trainer.estimated_remaining_seconds)} left")
    return ", ".join(parts)


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


class ResourceTable:
    """Resources as a table; `rows` are (kind, name, state, detail, age), `notes` lines below it."""

    columns = ("Kind", "Name", "State", "Detail", "Age")

    def __init__(self, objects: list[dict], notes: Sequence[str] = ()):
        self.objects = objects
        self.notes = list(notes)
        self.rows = [
            (o.get("kind", ""), o["metadata"]["name"], *state_of(o), _age(o["metadata"].get("creationTimestamp")))
            for o in objects
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.objects[index]

    def __repr__(self) -> str:
        if not self.rows:
            return "No resources."
        cells = [self.columns, *[tuple(str(c) for c in row) for row in self.rows]]
        widths = [min(max(len(row[i]) for row in cells), 60) for i in range(len(self.columns))]
        lines = [
            "  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells
        ]
        return "\n".join(lines + self.notes)

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>No resources.</p>"
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in self.rows)
        notes = "".join(f"<p>{html.escape(note)}</p>" for note in self.notes)
        return f'<table class="substratus-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{notes}'


class Progress:
    """One progress display: a bar that updates in place in Jupyter, lines in a terminal."""

    def __init__(self, title: str, rich: bool):
        self.title = title
        self.rich = rich
        self.handle = None
        self.last = ""

    def _html(self, message: str, fraction: float | None) -> str:
        bar = ""
        if fraction is not None:
            bar = f'<progress value="{fraction:.3f}" max="1" style="width: 20em"></progress> {fraction:.0%} '
        return f"<div><b>{html.escape(self.title)}</b> {bar}{html.escape(message)}</div>"

    def update(self, message: str, fraction: float | None = None) -> None:
        text = f"{self.title}: {message}" + (f" [{fraction:.0%}]" if fraction is not None else "")
        if text == self.last:
            return
        self.last = text
        if self.rich:
            from IPython.display import HTML, display

            if self.handle is None:
                self.handle = display(HTML(self._html(message, fraction)), display_id=True)
            else:
                self.handle.update(HTML(self._html(message, fraction)))
        else:
            print(text, file=sys.stdout, flush=True)

    def done(self, message: str) -> None:
        self.update(message)
