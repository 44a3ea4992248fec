"""`kubectl notebook` in a terminal (pexpect: a real pty, a real Ctrl-C) against the emulator
and fake-gcs-server with the operator running: the generated Dockerfile, the upload's progress
bar through the signed-URL handshake, the states up to ready, the URL (the token from the
Secret only with --show-token), Ctrl-C suspending the Notebook, the second run resuming it with
the upload skipped; and the errors a user makes, each one line and a non-zero exit.
The port-forward itself cannot run against the emulator (--no-sync; see test_sync.py)."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pexpect
import pytest

from tests.operator.conftest import GKE_CONFIG, Simulator, running_operator, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "proj"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")]), folder / "train.ipynb")
    (folder / "requirements.txt").write_text("numpy\n")
    return folder


@pytest.fixture
def cli_env(kube_emulator, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        KUBECONFIG=str(kube_emulator.kubeconfig),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        HOME=str(tmp_path / "home"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        COLUMNS="200",
    )
    return env


@pytest.fixture
def operator_with_uploads(kube_emulator, kube_namespace, fake_gcs, signing_key):
    fake_gcs.bucket("cli-uploads")
    config = {
        **GKE_CONFIG,
        "UPLOAD_URL": "gs://cli-uploads",
        "SIGNING_KEY_FILE": str(signing_key[0]),
        "GCS_ENDPOINT": fake_gcs.endpoint,
        "UPLOAD_POLL_SECONDS": "0.2",
    }
    with running_operator(kube_emulator, kube_namespace, config):
        yield


@pytest.fixture
def sim(kube_emulator, kube_namespace) -> Simulator:
    return Simulator(kube_emulator, kube_namespace)


def _spawn(args, env) -> pexpect.spawn:
    return pexpect.spawn(
        sys.executable,
        ["-m", "jupyter_substratus.cli", *args],
        env=env,
        encoding="utf-8",
        timeout=120,
        dimensions=(40, 200),
    )


def _ready_pod(sim, child) -> None:
    """The kubelet's part, once the operator made the pod (the command's output shown if never)."""
    try:
        sim.wait("pods", "proj-notebook", timeout=60)
    except AssertionError:
        child.expect([pexpect.EOF, pexpect.TIMEOUT], timeout=1)
        raise AssertionError(f"no pod; the command said: {child.before}") from None
    sim.ready_pod("proj-notebook")


def _token(cluster, namespace) -> str:
    [secret] = [
        s
        for s in cluster.list("secrets", namespace)
        if s["metadata"].get("labels", {}).get("substratus.ai/owner-name") == "proj"
    ]
    return base64.b64decode(secret["data"]["token"]).decode()


def _finish_build(cluster, namespace) -> None:
    job = wait_for(
        lambda: next(
            (
                j
                for j in cluster.list("jobs.batch", namespace)
                if j["metadata"]["labels"].get("substratus.ai/role") == "build"
                and not (j.get("status") or {}).get("succeeded")
            ),
            None,
        ),
        30,
        "the build Job",
    )
    cluster.complete_job(namespace, job["metadata"]["name"])


def test_open_suspend_and_resume(project, cli_env, kube_emulator, kube_namespace, operator_with_uploads, sim):
    flags = ["--no-browser", "--no-sync", "--gpu", "nvidia-l4:1", "--suspend-after-idle", "45m"]
    child = _spawn([str(project), "-n", kube_namespace, *flags], cli_env)
    child.expect("no Dockerfile here")
    child.expect("FROM substratusai/notebook-base")
    child.expect("pip install --no-cache-dir -r /tmp/requirements.txt")
    child.expect(r"uploading \[#+\] 100%")
    child.expect("upload done")
    _finish_build(kube_emulator, kube_namespace)
    _ready_pod(sim, child)
    child.expect("Notebook proj: ready")
    child.expect(r"http://127\.0\.0\.1:\d+/lab")
    child.expect(r"Ctrl-C: sync back and suspend")
    shown = child.before + child.after
    token = _token(kube_emulator, kube_namespace)
    assert token not in shown, "the token is never printed unless asked"

    notebook = kube_emulator.get("notebooks", "proj", kube_namespace)
    assert notebook["spec"]["resources"]["gpu"] == {"type": "nvidia-l4", "count": 1}
    assert notebook["spec"]["suspendAfterIdle"] == "45m"
    md5 = notebook["spec"]["build"]["upload"]["md5Checksum"]
    assert notebook["status"]["buildUpload"]["storedMD5Checksum"] == md5

    child.sendintr()
    child.expect("suspended, its work kept")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert kube_emulator.get("notebooks", "proj", kube_namespace)["spec"]["suspend"] is True
    wait_for(lambda: sim.get("pods", "proj-notebook") is None, 15, "the pod deleted")

    # Again: resumed, the same content not uploaded twice, and this time the token asked for.
    child = _spawn(
        [str(project), "-n", kube_namespace, "--no-browser", "--no-sync", "--gpu", "nvidia-l4:1", "--show-token"],
        cli_env,
    )
    child.expect("resuming Notebook proj")
    child.expect("upload skipped: this content was built before")
    _ready_pod(sim, child)
    child.expect("Notebook proj: ready")
    child.expect(r"http://127\.0\.0\.1:\d+/lab\?token=(\S+)")
    assert child.match.group(1).strip() == _token(kube_emulator, kube_namespace)
    resumed = kube_emulator.get("notebooks", "proj", kube_namespace)
    assert not resumed["spec"].get("suspend")
    assert resumed["spec"]["build"]["upload"]["md5Checksum"] == md5
    child.sendintr()
    child.expect("suspended")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_keep_running(project, cli_env, kube_emulator, kube_namespace, operator_with_uploads, sim):
    child = _spawn(
        [
            str(project),
            "-n",
            kube_namespace,
            "--no-browser",
            "--no-sync",
            "--keep-running",
            "--image",
            "substratusai/notebook-base",
        ],
        cli_env,
    )
    _ready_pod(sim, child)
    child.expect(r"http://127\.0\.0\.1:\d+/lab")
    child.sendintr()
    child.expect("keeps running")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not kube_emulator.get("notebooks", "proj", kube_namespace)["spec"].get("suspend")


def _run(args, env, timeout=90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jupyter_substratus.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("kubectl-notebook: error:")]
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    return lines[0]


def test_user_errors_are_one_line(project, cli_env, kube_emulator, kube_namespace, tmp_path):
    assert "GPU type 'nvidia-x'" in _one_line(_run([str(project), "--gpu", "nvidia-x:1"], cli_env))
    idle = _one_line(_run([str(project), "--suspend-after-idle", "30"], cli_env))
    assert "spec.suspendAfterIdle: must be a whole number and s, m or h, e.g. 30m" in idle
    assert "is not a directory" in _one_line(_run([str(tmp_path / "nowhere")], cli_env))
    no_cluster = {**cli_env, "KUBECONFIG": str(tmp_path / "missing")}
    assert "no Kubernetes configuration" in _one_line(_run([str(project), "--backend", "kubernetes"], no_cluster))
    with kube_emulator.faults.inject(status=403, methods={"POST"}, path=r"/notebooks"):
        line = _one_line(_run([str(project), "-n", kube_namespace, "--image", "x"], cli_env))
    assert "refused the request (403)" in line


def test_an_upload_the_cluster_cannot_take(project, cli_env, kube_emulator, kube_namespace):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):  # no UPLOAD_URL
        line = _one_line(_run([str(project), "-n", kube_namespace, "--no-browser"], cli_env))
    assert "upload" in line and "no upload bucket" in line


def test_an_unschedulable_pod(project, cli_env, kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        child = _spawn(
            [
                str(project),
                "-n",
                kube_namespace,
                "--no-browser",
                "--image",
                "substratusai/notebook-base",
                "--gpu",
                "nvidia-h100:8",
                "--unschedulable-timeout",
                "1",
            ],
            cli_env,
        )
        sim.wait("pods", "proj-notebook", timeout=60)
        kube_emulator.patch_status(
            "pods",
            "proj-notebook",
            {
                "phase": "Pending",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.",
                    }
                ],
            },
            kube_namespace,
        )
        child.expect("suspended")
        child.expect(r"kubectl-notebook: error: Notebook proj cannot be scheduled: .*Insufficient nvidia.com/gpu")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 1
        assert kube_emulator.get("notebooks", "proj", kube_namespace)["spec"]["suspend"] is True, "no pod left waiting"


def test_sync_through_the_port_forward_and_back_on_ctrl_c(
    project, cli_env, kube_emulator, kube_namespace, sim, pod_jupyter
):
    """The whole loop with the kubernetes client's port-forward (the emulator relays the stream
    to a real Jupyter standing in for the pod): local files sent on open, the pod's edits
    brought back by the last sync on Ctrl-C, then the Notebook suspended."""
    (project / "notes.tmp").write_text("a temp file")
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        child = _spawn(
            [
                str(project),
                "-n",
                kube_namespace,
                "--no-browser",
                "--image",
                "substratusai/notebook-base",
                "--sync-interval",
                "600",
            ],
            cli_env,
        )
        secret = wait_for(lambda: sim.get("secrets", "proj-notebook-token"), 30, "the token Secret")
        kube_emulator.patch(
            "secrets",
            secret["metadata"]["name"],
            {"data": {"token": base64.b64encode(pod_jupyter.token.encode()).decode()}},
            kube_namespace,
        )
        sim.wait("pods", "proj-notebook", timeout=60)
        address = pod_jupyter.url.removeprefix("http://").rstrip("/").split(":")
        kube_emulator.forward_pod_port(kube_namespace, "proj-notebook", (address[0], int(address[1])))
        _ready_pod(sim, child)
        child.expect(r"http://127\.0\.0\.1:\d+/lab")
        child.expect("sync: sent train.ipynb")
        pod = pod_jupyter.root
        wait_for(lambda: (pod / "requirements.txt").is_file(), 10, "the first sync")
        assert (pod / "train.ipynb").read_bytes() == (project / "train.ipynb").read_bytes()
        assert not (pod / "notes.tmp").exists()

        (pod / "made-in-jupyter.py").write_text("print('from the pod')\n")
        (pod / "requirements.txt").unlink()
        child.sendintr()
        child.expect("last sync back")
        child.expect("sync: received made-in-jupyter.py")
        child.expect("suspended, its work kept")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus == 0
    assert (project / "made-in-jupyter.py").read_text() == "print('from the pod')\n"
    assert not (project / "requirements.txt").exists(), "a deletion in the pod comes back too"
    assert kube_emulator.get("notebooks", "proj", kube_namespace)["spec"]["suspend"] is True


def test_ctrl_c_while_waiting_suspends(project, cli_env, kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        child = _spawn(
            [str(project), "-n", kube_namespace, "--no-browser", "--image", "substratusai/notebook-base"], cli_env
        )
        child.expect("creating Notebook proj")
        sim.wait("pods", "proj-notebook", timeout=60)  # never made ready
        child.sendintr()
        child.expect("interrupted")
        child.expect("suspended")
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 130
        assert kube_emulator.get("notebooks", "proj", kube_namespace)["spec"]["suspend"] is True
