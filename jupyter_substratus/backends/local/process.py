"""Workload processes: started in their own session with output to a log file, recorded in
run.json (pid and the kernel's start time, so a reused pid is never mistaken for ours), waited
for without blocking the event loop, and stopped as a process group.

A workload never outlives the process that owns the backend: on Linux the kernel sends it
SIGKILL when its parent dies (PR_SET_PDEATHSIG; strictly, when the thread that started it ends:
a backend's event loop thread lives as long as the backend), however the parent ends; the next owner of the
state directory finds the run.json and marks the job Interrupted (see reconciler.recover).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return False


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking the kernel to kill the child when its parent dies (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no locks, no allocations to speak of
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


@dataclass
class Recorded:
    """A process a run.json names: maybe started by an earlier Jupyter server."""

    pid: int
    started: str | None

    @classmethod
    def load(cls, run_file: Path) -> Recorded | None:
        try:
            data = json.loads(run_file.read_text())
            return cls(int(data["pid"]), data.get("started"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def alive(self) -> bool:
        return self.started is not None and _start_time(self.pid) == self.started and not _zombie(self.pid)

    def kill(self, wait: float = 5.0) -> None:
        """Kill its process group and wait (up to `wait` s) until it has stopped writing anything."""
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.02)


class Workload:
    """One running process of a resource."""

    def __init__(self, process: asyncio.subprocess.Process, run_file: Path):
        self.process = process
        self.run_file = run_file
        self.port: int | None = None  # where a server listens

    @classmethod
    async def start(cls, entry: Path, env: dict[str, str], cwd: Path, log_file: Path, run_file: Path) -> Workload:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-u",
                str(entry),
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        run_file.write_text(json.dumps({"pid": process.pid, "started": _start_time(process.pid)}))
        return cls(process, run_file)

    async def wait(self) -> int:
        code = await self.process.wait()
        self.run_file.unlink(missing_ok=True)
        return code

    async def stop(self, grace: float = 5.0) -> None:
        if self.process.returncode is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                await asyncio.wait_for(self.process.wait(), grace)
            except ProcessLookupError:
                pass
            except TimeoutError:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await self.process.wait()
        self.run_file.unlink(missing_ok=True)
