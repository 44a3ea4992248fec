"""Run the model server's program as the local backend does, on a free port, and stop it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.images.fixtures import IMAGES, program_entry, program_env, termination_reason


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def complete_copy(source: Path, target: Path) -> Path:
    """A copy of a save_pretrained dir with the contract's completion marker, as a job leaves it."""
    shutil.copytree(source, target)
    contract = _contract()
    contract.mark_complete(target)
    return target


def _contract():
    import importlib.util

    spec = importlib.util.spec_from_file_location("substratus_contract", IMAGES / "common" / "substratus_contract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class ServerProcess:
    def __init__(self, process: subprocess.Popen, port: int, content: Path):
        self.process = process
        self.port = port
        self.content = content
        self.url = f"http://127.0.0.1:{port}"
        self.statuses: list[int] = []  # what GET / answered while it started

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"the server exited ({self.process.returncode}): {self.failure()}")
                try:
                    status = client.get(self.url + "/").status_code
                except httpx.TransportError:
                    time.sleep(0.02)
                    continue
                self.statuses.append(status)
                if status == 200:
                    return
                time.sleep(0.02)
        raise AssertionError(f"the server was not ready within {timeout} s")

    def failure(self) -> str:
        return termination_reason(self.content) or "(no termination message)"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def serve(content: Path, params: dict[str, Any] | None = None, wait: bool = True, env: dict[str, str] | None = None):
    """Start images/model-server on `content` (model/ inside it), yield it ready, stop it after."""
    content.mkdir(parents=True, exist_ok=True)
    if params is not None:
        (content / "params.json").write_text(json.dumps(params))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-u", str(program_entry("model-server"))],
        cwd=content,
        env=program_env("model-server", content, {"PORT": str(port), **(env or {})}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = ServerProcess(process, port, content)
    try:
        if wait:
            server.wait_ready()
        yield server
    finally:
        server.stop()
