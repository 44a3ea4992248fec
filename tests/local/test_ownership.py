"""What one process owning a state directory means: no second owner, workloads that end with
their owner and take nothing of its environment but the listed variables, a Server that stops
saying ready when its restart begins, and a re-run exported Model that keeps its upload."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from jupyter_substratus.backends import Conflict
from jupyter_substratus.backends.jupyter import SERVER_INFO_ENV, NoJupyterServer
from jupyter_substratus.backends.local import LocalBackend
from jupyter_substratus.backends.local.owner import StateDirOwned
from jupyter_substratus.magics import Session
from tests.local.conftest import manifest, reason, wait_for
from tests.local.test_backend import _context

ROOT = Path(__file__).resolve().parents[2]
LOADER = "substratusai/model-loader-huggingface"
SERVER = "substratusai/model-server"
TRAINER = "substratusai/model-trainer-huggingface"

ENV_JOB = textwrap.dedent("""
    import json, os
    from pathlib import Path

    artifacts = Path(os.environ["CONTENT_DIR"]) / "artifacts"
    (artifacts / "env.json").write_text(json.dumps(dict(os.environ)))
    (artifacts / ".complete").touch()
""")

SCRIPTED_SERVER = textwrap.dedent("""
    import http.server, os

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

    http.server.HTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Ok).serve_forever()
""")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def server_images(scripted_images) -> Path:
    folder = scripted_images / "model-server"
    folder.mkdir()
    (folder / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY serve.py /app/\nCMD ["python", "/app/serve.py"]\n')
    (folder / "serve.py").write_text(SCRIPTED_SERVER)
    return scripted_images


async def test_a_state_directory_has_one_owner(tmp_path, scripted_images, monkeypatch):
    monkeypatch.delenv(SERVER_INFO_ENV, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))  # auto must mean local here
    state = tmp_path / "state"
    first = LocalBackend(state_dir=state, images_dir=scripted_images)
    with pytest.raises(StateDirOwned, match=rf"owned by another process \(pid {os.getpid()}\)"):
        LocalBackend(state_dir=state, images_dir=scripted_images)
    # a kernel with no Jupyter server may own a local backend only where the directory is free
    session = Session(backend="auto", state_dir=str(state))
    try:
        with pytest.raises(StateDirOwned, match="exactly one process may run the local backend"):
            session.list("models")
    finally:
        session.close()
    session = Session(backend="jupyter")
    try:
        with pytest.raises(NoJupyterServer, match="not a kernel of a Jupyter server"):
            session.list("models")
    finally:
        session.close()
    await first.create(manifest("Model", "m", image=LOADER))
    await first.close()
    # a session's own local backend hands the directory over when its settings change
    session = Session(backend="local", state_dir=str(state), images_dir=str(scripted_images))
    try:
        assert [m["metadata"]["name"] for m in session.list("models")] == ["m"]
        session.configure(namespace="other")
        assert session.list("models") == [] and session.namespace == "other"
        with pytest.raises(StateDirOwned):
            LocalBackend(state_dir=state, images_dir=scripted_images)
    finally:
        session.close()
    second = LocalBackend(state_dir=state, images_dir=scripted_images)
    try:
        assert (await second.get("models", "m"))["metadata"]["name"] == "m"
    finally:
        await second.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workloads_end_with_the_process_that_owns_them(tmp_path, scripted_images):
    host = textwrap.dedent(f"""
        import asyncio
        from jupyter_substratus.backends.local import LocalBackend
        from tests.local.conftest import manifest, reason, wait_for

        async def main():
            backend = LocalBackend(state_dir={str(tmp_path / "state")!r}, images_dir={str(scripted_images)!r})
            await backend.create(manifest("Model", "slow", image={LOADER!r}, params={{"sleep": 120}}))
            await wait_for(backend, "models", "slow", lambda o: reason(o, "Complete") == "Running")
            print("RUNNING", backend.reconciler.workloads[("default", "models", "slow")].process.pid, flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
    """)
    process = subprocess.Popen([sys.executable, "-c", host], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("RUNNING"), line
        job = int(line.split()[1])
        assert _alive(job)
    finally:
        process.send_signal(signal.SIGKILL)  # nothing is cleaned up
        process.wait()
    deadline = time.monotonic() + 5
    while _alive(job) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(job), "the job outlived the process that owned it"


async def test_workloads_get_the_contract_and_the_spec_not_this_environment(tmp_path, scripted_images, monkeypatch):
    (scripted_images / "model-loader-huggingface" / "job.py").write_text(ENV_JOB)
    for key, value in {
        "JUPYTER_TOKEN": "jt",
        "HF_TOKEN": "hf",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "PARAM_MAX_NEW_TOKENS": "999",
        "LC_ALL": "C.UTF-8",
    }.items():
        monkeypatch.setenv(key, value)
    backend = LocalBackend(state_dir=tmp_path / "state", images_dir=scripted_images)
    try:
        await backend.create(manifest("Model", "m", image=LOADER, params={"name": "x"}, env={"MY_SETTING": "on"}))
        await wait_for(backend, "models", "m", lambda o: o["status"]["ready"], timeout=30)
        env = json.loads((backend.store.artifacts_dir("default", "models", "m") / "env.json").read_text())
    finally:
        await backend.close()
    assert env["PARAM_NAME"] == "x" and env["MY_SETTING"] == "on" and env["CONTENT_DIR"]
    assert env["PATH"] == os.environ["PATH"] and env["LC_ALL"] == "C.UTF-8"
    for leaked in ("JUPYTER_TOKEN", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "PARAM_MAX_NEW_TOKENS"):
        assert leaked not in env


async def test_a_server_is_not_ready_from_the_moment_its_restart_begins(tmp_path, server_images):
    backend = LocalBackend(state_dir=tmp_path / "state", images_dir=server_images)
    try:
        await backend.create(manifest("Model", "m", image=LOADER))
        await backend.create(manifest("Server", "s", image=SERVER, model={"name": "m"}))
        await wait_for(backend, "servers", "s", lambda o: o["status"]["ready"], timeout=30)
        changes = await backend.changes()
        changed = await backend.replace(manifest("Server", "s", image=SERVER, model={"name": "m"}, params={"a": 1}))
        assert changed["metadata"]["generation"] == 2
        assert not changed["status"]["ready"] and changed["status"]["url"] is None
        assert "restarting" in changed["status"]["conditions"][-1]["message"]
        again = await wait_for(backend, "servers", "s", lambda o: o["status"]["ready"], timeout=30)
        assert again["metadata"]["generation"] == 2
        seen = []
        while not seen or not seen[-1]["status"]["ready"]:
            event = await changes.__anext__()
            if event.object["kind"] == "Server":
                seen.append(event.object)
        await changes.aclose()
        # every change from the spec change on says not ready, until the new process answers
        assert [o["status"]["ready"] for o in seen[:-1]] == [False] * (len(seen) - 1), seen
    finally:
        await backend.close()


async def test_a_server_without_an_image_runs_the_transformers_server_here_even_with_a_gpu(tmp_path, server_images):
    backend = LocalBackend(state_dir=tmp_path / "state", images_dir=server_images)
    try:
        await backend.create(manifest("Model", "m", image=LOADER))
        await backend.create(manifest("Server", "s", model={"name": "m"}, resources={"gpu": {"count": 1}}))
        served = await wait_for(backend, "servers", "s", lambda o: o["status"]["ready"], timeout=30)
        assert served["status"]["image"] == SERVER
    finally:
        await backend.close()


async def test_run_again_keeps_an_exported_models_uploaded_context(scripted_backend):
    backend = scripted_backend
    dockerfile = f'FROM {TRAINER}\nCOPY . /content/src\nENV TRAINER_NOTEBOOK="/content/src/nb.ipynb"\n'
    data = _context({"Dockerfile": dockerfile, "nb.ipynb": "{}"})
    md5 = hashlib.md5(data).hexdigest()
    await backend.create(manifest("Model", "base", image=LOADER))
    await backend.create(
        manifest(
            "Model",
            "tuned",
            model={"name": "base"},
            params={"fail": "out of memory"},
            build={"upload": {"md5Checksum": md5, "requestID": "r1"}},
        )
    )
    await wait_for(backend, "models", "tuned", lambda o: reason(o, "Uploaded") == "AwaitingUpload")
    with pytest.raises(Conflict, match="never stored: export the notebook again"):
        await backend.rerun("models", "tuned")  # nobody would upload for the new one
    await backend.upload("models", "tuned", data, md5, "r1")
    failed = await wait_for(backend, "models", "tuned", lambda o: reason(o, "Complete") == "JobFailed", timeout=30)
    again = await backend.rerun("models", "tuned")
    assert again["metadata"]["uid"] != failed["metadata"]["uid"]
    assert again["status"]["buildUpload"]["storedMD5Checksum"] == md5
    # it runs again from the kept context (and fails the same way), instead of awaiting an upload
    rerun = await wait_for(backend, "models", "tuned", lambda o: reason(o, "Complete") == "JobFailed", timeout=30)
    assert reason(rerun, "Uploaded") == "Succeeded" and rerun["metadata"]["uid"] == again["metadata"]["uid"]
    assert (backend.store.upload_dir("default", "models", "tuned") / "context.tar.gz").exists() or any(
        backend.store.upload_dir("default", "models", "tuned").iterdir()
    )
    assert not list((backend.store.root / "default").glob(".upload-*"))
