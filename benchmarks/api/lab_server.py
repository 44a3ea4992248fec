"""A real `jupyter server` with jupyter-substratus on a free local port, for the API benchmarks
(bench_api.py on the Kubernetes emulator, soak.py on the local backend)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(scratch: Path, port: int, token: str, *settings: str, env: dict[str, str]) -> subprocess.Popen:
    """The server rooted at `scratch`, its config and runtime there too, with extra `settings`
    (command-line traitlets) and `env` over this process's environment."""
    environ = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(scratch / "cfg"),
        "JUPYTER_RUNTIME_DIR": str(scratch / "rt"),
        "JUPYTER_DATA_DIR": str(scratch / "data"),
        **env,
    }
    environ.pop("KUBERNETES_SERVICE_HOST", None)
    command = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={scratch}",
        "--allow-root",
        "--ServerApp.jpserver_extensions={'jupyter_substratus': True}",
        "--ServerApp.log_level=WARN",
        *settings,
    ]
    return subprocess.Popen(command, env=environ, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
