"""The notebook image's start program: no token, no Jupyter; with one, Jupyter Lab in CONTENT_DIR."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time

import httpx
import pytest

from tests.images.fixtures import program_entry, program_env, run_program, termination_reason
from tests.images.serving import free_port


@pytest.mark.parametrize("token", ["", "   "])
def test_refuses_to_start_without_a_token(tmp_path, token):
    result = run_program("notebook-base", tmp_path, env={"NOTEBOOK_TOKEN": token, "PORT": str(free_port())})
    assert result.returncode != 0
    assert termination_reason(tmp_path) == "NOTEBOOK_TOKEN is not set: refusing to start Jupyter without a token"


def test_refuses_a_missing_content_dir(tmp_path):
    result = run_program("notebook-base", tmp_path, env={"NOTEBOOK_TOKEN": "t", "CONTENT_DIR": str(tmp_path / "gone"),
                                                         "TERMINATION_LOG": str(tmp_path / "log")})  # fmt: skip
    assert result.returncode != 0
    assert "does not exist" in (tmp_path / "log").read_text()


def test_starts_jupyter_lab_in_the_content_dir_with_the_token(tmp_path):
    (tmp_path / "finetune.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    token, port = secrets.token_hex(16), free_port()
    env = program_env("notebook-base", tmp_path, {"NOTEBOOK_TOKEN": token, "PORT": str(port)})
    lab = subprocess.Popen([sys.executable, str(program_entry("notebook-base"))], cwd=tmp_path, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(url + "/api", lab)
        assert httpx.get(url + "/api/contents").status_code == 403
        assert httpx.get(url + "/api/contents", headers={"Authorization": "token wrong"}).status_code == 403
        listing = httpx.get(url + "/api/contents", headers={"Authorization": f"token {token}"})
        assert listing.status_code == 200
        assert [item["name"] for item in listing.json()["content"]] == ["finetune.ipynb"]
        assert httpx.get(url + "/lab", params={"token": token}).status_code == 200
        with open(f"/proc/{lab.pid}/cmdline", "rb") as cmdline:
            assert token.encode() not in cmdline.read(), "the token is visible in the process list"
    finally:
        lab.terminate()
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"jupyter lab did not answer {url} within {timeout} s")


def test_the_image_installs_jupyter_substratus_and_its_magics_load():
    """The Dockerfile pip-installs the project (pinned in an ARG), and in an environment holding it
    `%load_ext jupyter_substratus` works in IPython, as it must in the notebook's kernel."""
    import dockerfile

    from tests.images.fixtures import IMAGES

    commands = dockerfile.parse_file(str(IMAGES / "notebook-base" / "Dockerfile"))
    pins = [c.value[0] for c in commands if c.cmd.upper() == "ARG" and c.value[0].startswith("JUPYTER_SUBSTRATUS=")]
    assert pins and "jupyter-substratus==" in pins[0]
    assert any("${JUPYTER_SUBSTRATUS}" in " ".join(c.value) for c in commands if c.cmd.upper() == "RUN")
    code = ("get_ipython().run_line_magic('load_ext', 'jupyter_substratus'); "
            "print('substratus' in get_ipython().magics_manager.magics['line'])")  # fmt: skip
    loaded = subprocess.run([sys.executable, "-m", "IPython", "--quick", "-c", code],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert loaded.returncode == 0 and loaded.stdout.strip().endswith("True"), loaded.stdout + loaded.stderr
