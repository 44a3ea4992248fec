"""A real jupyter_server on the local backend, for what an attacker or a careless user sends.

The local backend runs scripted stand-ins of the built-in images (tests/local/conftest.py's job,
and a model server that echoes each request and logs it the way an access log does), so the
tests take seconds. `rest` calls a route as openapi.yaml names it and checks the answer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the jp_* fixtures and their async test runner

from jupyter_substratus.backends.local import LocalBackend
from tests.extension.rest import caller as rest_caller
from tests.local.conftest import SCRIPTED_JOB

ECHO_SERVER = textwrap.dedent('''
    """A stand-in model server: GET / is healthy; any other request is answered with what it
    was (raw path and query) and logged to stderr with its request line, as access logs do."""
    import json, os
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self):
            path, _, query = self.path.partition("?")
            body = b"ok" if self.path == "/" else json.dumps({"path": path, "query": query}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain" if self.path == "/" else "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    ThreadingHTTPServer((os.environ["HOST"], int(os.environ["PORT"])), Echo).serve_forever()
''')


@pytest.fixture
def jp_server_config(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))  # no cluster: the local backend
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}},
        "SubstratusExtension": {"local_state_dir": str(tmp_path / "state"), "heartbeat_seconds": 0.5},
    }


@pytest.fixture
def images(tmp_path) -> Path:
    root = tmp_path / "images"
    (root / "common").mkdir(parents=True)
    programs = {
        name: SCRIPTED_JOB for name in ("model-loader-huggingface", "dataset-loader-http", "model-trainer-huggingface")
    }
    programs["model-server"] = ECHO_SERVER
    for name, source in programs.items():
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text(
            'FROM python:3.11-slim\nCOPY job.py /app/\nENTRYPOINT ["python", "/app/job.py"]\n'
        )
        (root / name / "job.py").write_text(source)
    return root


@pytest.fixture
def backend(jp_serverapp, tmp_path, images) -> LocalBackend:
    """The Jupyter server's backend, made before its first request with the stand-in images."""
    state = jp_serverapp.web_app.settings["substratus"]
    state._backend = LocalBackend(
        state_dir=tmp_path / "state",
        images_dir=images,
        kernels_dir=tmp_path / "kernels",
        base_url=jp_serverapp.base_url,
    )
    return state._backend


@pytest.fixture
def rest(jp_fetch, backend):
    """await rest("GET", "/{plural}/{name}", plural="models", name="x", body=..., params=...)."""
    return rest_caller(jp_fetch)


def manifest(kind: str, name: str, **spec: Any) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def loader(name: str) -> dict:
    return manifest("Model", name, image="substratusai/model-loader-huggingface", params={"name": "x"})


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def edited_kubeconfig(source: str | Path, path: Path, change: Callable[[dict], None]) -> Path:
    """A copy of the kubeconfig `source` at `path`, changed by `change` (it edits the dict)."""
    config = yaml.safe_load(Path(source).read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))
    return path


def kubernetes_server_config(namespace: str, kubeconfig: Path) -> dict:
    """The jp_server_config of a Jupyter server whose extension uses the kubernetes backend."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}},
        "SubstratusExtension": {"namespace": namespace, "kubeconfig": str(kubeconfig)},
    }
