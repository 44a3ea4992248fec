"""How results look: tables (HTML in Jupyter, text in a terminal) and progress lines/bars."""

from __future__ import annotations

import html
import sys
from datetime import UTC, datetime


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
    """(state, detail) for a row: ready / failed / the reason it is on its way."""
    from .session import outcome

    status = obj.get("status") or {}
    verdict = outcome(obj)
    if verdict == "ready":
        return "Ready", status.get("url") or (status.get("artifacts") or {}).get("url") or ""
    if verdict == "suspended":
        return "Suspended", ""
    if verdict:
        return "Failed", verdict
    conditions = [c for c in status.get("conditions") or [] if c.get("status") != "True"]
    if conditions:
        c = conditions[-1]
        return c.get("reason") or "Pending", c.get("message", "")
    return "Pending", ""


class ResourceTable:
    """Resources as a table; `rows` are (kind, name, state, detail, age)."""

    columns = ("Kind", "Name", "State", "Detail", "Age")

    def __init__(self, objects: list[dict]):
        self.objects = objects
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
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.rows:
            return "<p>No resources.</p>"
        head = "".join(f"<th>{c}</th>" for c in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in self.rows)
        return f'<table class="substratus-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


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
