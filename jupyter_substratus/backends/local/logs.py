"""Reading a workload's log file: the last lines, then (following) what is appended."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from pathlib import Path

POLL_SECONDS = 0.2


async def follow_log(path: Path, tail_lines: int | None, keep_following: Callable[[], bool]) -> AsyncIterator[str]:
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
        partial = lines.pop()
        for line in deque(lines, maxlen=tail_lines) if tail_lines is not None else lines:
            yield line.decode(errors="replace")
        while True:
            following = keep_following()
            chunk = f.read()
            if chunk:
                *complete, partial = (partial + chunk).split(b"\n")
                for line in complete:
                    yield line.decode(errors="replace")
            elif not following:
                break
            else:
                await asyncio.sleep(POLL_SECONDS)
        if partial:
            yield partial.decode(errors="replace")
