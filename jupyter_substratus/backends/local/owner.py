"""One owner per state directory: an advisory lock on <state>/owner.lock, held for the backend's life.

Two reconcilers on one state directory kill each other's workloads (each one's restart recovery
stops every process a run.json names) and run one job twice, so a second backend on a directory
that is owned is refused, with the owner's pid in the message. The lock is the kernel's
(fcntl.flock): it goes away with the process, however it ends, so a crash never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..base import Unavailable

LOCK_FILE = "owner.lock"


class StateDirOwned(Unavailable):
    """Another process (or another backend of this one) owns the state directory."""

    def __init__(self, state_dir: Path, owner: str):
        super().__init__(
            f"the local state directory {state_dir} is owned by another process ({owner}); exactly one process "
            "may run the local backend on it. In a kernel of that Jupyter server, %substratus talks to the "
            "server's backend (%substratus use --backend jupyter); elsewhere, use another state directory"
        )
        self.state_dir = state_dir


class StateDirLock:
    def __init__(self, state_dir: Path):
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 200, 0).decode(errors="replace").strip() or "pid unknown"
            os.close(fd)
            raise StateDirOwned(self.path.parent, owner) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
