"""The magics as a user of the Lab runs them: a notebook executed by nbclient in a kernel that a
real `jupyter server` (a subprocess, local backend, no cluster) started. The kernel talks to the
server's backend over its REST API and never owns the state directory; `%substratus serve`'s
client answers as returned; `--wait` returns within seconds of ready; a failed `use` keeps the
backend it had."""

from __future__ import annotations

import calendar
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from jupyter_client.asynchronous import AsyncKernelClient
from nbclient import NotebookClient

from tests.images.fixtures import toy_records, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "kernel-test-token"
pytestmark = pytest.mark.slow


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


@pytest.fixture
def jupyter_server(tmp_path):
    server = JupyterServer(tmp_path)
    yield server
    server.stop()


def _notebook(*cells: str) -> nbformat.NotebookNode:
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


def test_the_magics_in_a_kernel_of_the_lab(jupyter_server, tmp_path, tiny_model_dirs):
    data = write_jsonl(tmp_path / "toy.jsonl", toy_records())
    base = tiny_model_dirs["gpt2"]
    nb = _notebook(
        "%load_ext jupyter_substratus\n%substratus use",
        # a kernel of the server never owns its state directory: the server's backend does
        "%substratus use --backend local",
        "%substratus use --backend kubernetes --kubeconfig /nonexistent/kubeconfig",
        "%substratus list models",  # still the Jupyter server's backend
        f"%substratus import base {base} --wait\n%substratus dataset toy --url {data} --wait",
        "import time",
        "%%substratus finetune tuned --model base --dataset toy --wait --timeout 240\n"
        "import os, shutil\nfrom pathlib import Path\n"
        "content = Path(os.environ['CONTENT_DIR'])\n"
        "shutil.copytree(content / 'model', content / 'artifacts', dirs_exist_ok=True)",
        "wait_returned = time.time()",
        "client = %substratus serve srv --model base --param max_new_tokens=4",
        "completion = client.completions.create(prompt='Q: color of sky?', max_tokens=3)\n"
        "assert completion.choices[0].text is not None and completion.usage.completion_tokens >= 1\n"
        "streamed = list(client.completions.create(prompt='Q:', max_tokens=3, stream=True))\n"
        "assert streamed and all(chunk.choices for chunk in streamed)\n"
        "chat = list(client.chat.completions.create(messages=[{'role': 'user', 'content': 'hi'}], max_tokens=3,"
        " stream=True))\n"
        "assert chat and chat[0].choices[0].delta is not None\n"
        "print('answered', len(streamed), len(chat))",
        "import json\nprint(json.dumps({'base_url': str(client.base_url), 'wait_returned': wait_returned}))",
    )
    run_in_kernel(jupyter_server, nb)
    texts = [output_text(cell) for cell in nb.cells]
    assert "the Jupyter server's local backend" in texts[0], texts[0]
    assert "is owned by another process" in texts[1], texts[1]
    assert "no Kubernetes configuration" in texts[2], texts[2]
    assert "No resources." in texts[3], texts[3]
    assert "answered" in texts[9], texts[9]
    facts = json.loads(texts[10].strip().splitlines()[-1])
    assert facts["base_url"].startswith(
        jupyter_server.url + "substratus/api/v1/namespaces/default/servers/srv/proxy/v1"
    )

    tuned = jupyter_server.client.get("substratus/api/v1/models/tuned").json()
    assert tuned["status"]["ready"], tuned["status"]
    complete = next(c for c in tuned["status"]["conditions"] if c["type"] == "Complete")
    completed_at = calendar.timegm(time.strptime(complete["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ"))
    # --wait returned within seconds of the Model becoming complete (the timestamp has 1 s steps)
    assert facts["wait_returned"] - completed_at < 6, (facts, complete)
