"""`kubectl notebook` with no cluster configured: the local backend and a local Jupyter in the
directory, the Notebook's kernel registered with its content paths; Ctrl-C suspends it."""

import json
import os
import sys
import urllib.request
from pathlib import Path

import nbformat
import pexpect

ROOT = Path(__file__).resolve().parents[2]


def test_no_cluster_means_a_local_jupyter(tmp_path):
    project = tmp_path / "laptop-proj"
    project.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), project / "explore.ipynb")
    data_dir = tmp_path / "jupyter-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        KUBECONFIG=str(tmp_path / "no-kubeconfig"),
        HOME=str(tmp_path / "home"),
        JUPYTER_DATA_DIR=str(data_dir),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    env.pop("KUBERNETES_SERVICE_HOST", None)
    child = pexpect.spawn(
        sys.executable,
        ["-m", "jupyter_substratus.cli", str(project), "--no-browser", "--show-token"],
        env=env,
        encoding="utf-8",
        timeout=180,
    )
    try:
        child.expect("Notebook laptop-proj: ready")
        child.expect(r"(http://127\.0\.0\.1:\d+/)lab\?token=(\S+)")
        base, token = child.match.group(1), child.match.group(2).strip()
        request = urllib.request.Request(
            f"{base}api/contents/explore.ipynb?content=0", headers={"Authorization": f"token {token}"}
        )
        assert json.load(urllib.request.urlopen(request, timeout=10))["type"] == "notebook", "Jupyter serves DIR"
        kernel = json.loads((data_dir / "kernels" / "substratus-default-laptop-proj" / "kernel.json").read_text())
        assert kernel["display_name"] == "Substratus: laptop-proj" and kernel["env"]["CONTENT_DIR"]
        child.sendintr()
        child.expect("suspended, its work kept")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    [stored] = [
        json.loads(p.read_text()) for p in (data_dir / "substratus").rglob("*.json") if '"Notebook"' in p.read_text()
    ]
    assert stored["spec"]["suspend"] is True
