"""A real `jupyter server` with jupyter_substratus (a subprocess, local backend, no cluster) and
notebooks run by nbclient in kernels it started, for the tests of the magics as users of the Lab
run them. The `jupyter_server` fixture (tests/magics/conftest.py) starts one per test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
from jupyter_client.asynchronous import AsyncKernelClient
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "kernel-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterServer:
    """`jupyter server` with jupyter_substratus in a process of its own, everything under `root`."""

    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.runtime = root / "runtime"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "KUBE"))}
        env.update(
            HOME=str(root / "home"),
            JUPYTER_CONFIG_DIR=str(root / "config"),
            JUPYTER_DATA_DIR=str(root / "data"),
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            KUBECONFIG=str(root / "no-kubeconfig"),
            PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
            JUPYTER_TOKEN=TOKEN,
            HF_TOKEN="hf-secret-of-the-server",
        )
        (root / "notebooks").mkdir(parents=True)
        self.log = open(root / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ip=127.0.0.1",
                f"--ServerApp.root_dir={root / 'notebooks'}",
                "--ServerApp.jpserver_extensions={'jupyter_substratus': True}",
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": f"token {TOKEN}"}, timeout=30)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.client.get("substratus/api/v1").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.logs()
            time.sleep(0.3)
        raise AssertionError(f"the Jupyter server did not start:\n{self.logs()}")

    def logs(self) -> str:
        return (self.root / "server.log").read_text(errors="replace")[-5000:]

    def start_kernel(self) -> Path:
        kernel = self.client.post("api/kernels", json={"name": "python3"}).json()
        return self.runtime / f"kernel-{kernel['id']}.json"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class ServerKernel:
    """What nbclient needs of a kernel manager, for a kernel the Jupyter server owns."""

    has_kernel = True
    owns_km = False

    def __init__(self, connection_file: Path):
        self.connection_file = connection_file

    async def is_alive(self) -> bool:
        return True


def notebook(*cells: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])


def run_in_kernel(server: JupyterServer, nb: nbformat.NotebookNode, timeout: int = 300) -> nbformat.NotebookNode:
    connection_file = server.start_kernel()
    client = NotebookClient(nb, km=ServerKernel(connection_file), timeout=timeout, kernel_name="python3")
    kc = AsyncKernelClient(connection_file=str(connection_file))
    kc.load_connection_file()
    kc.start_channels()
    client.kc = kc
    try:
        client.execute()
    except Exception as e:
        raise AssertionError(f"{e}\n--- server log ---\n{server.logs()}") from None
    finally:
        kc.stop_channels()
    return nb


def output_text(cell) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)
