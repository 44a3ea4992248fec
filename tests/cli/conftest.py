"""A real Jupyter server on localhost standing in for the Notebook's pod (the far end of the
forwarded port): `jupyter server` in a subprocess with a token, its root a fresh folder."""

import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PodJupyter:
    url: str
    token: str
    root: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def pod_jupyter_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("pod-content")
    token, port = secrets.token_hex(16), _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.jpserver_extensions={}",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(
                urllib.request.Request(f"{url}api/status", headers={"Authorization": f"token {token}"}), timeout=2
            )
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("jupyter server did not start") from None
            time.sleep(0.2)
    yield PodJupyter(url, token, root)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def pod_jupyter(pod_jupyter_server):
    """The server with an empty root for this test."""
    for child in pod_jupyter_server.root.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    return pod_jupyter_server
