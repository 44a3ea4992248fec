"""The Jupyter server with the extension, against the Kubernetes API emulator and fake-gcs-server.

`api` calls a route as openapi.yaml names it and checks the answer against that file.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the jp_* fixtures and their async test runner

from tests.extension import openapi_check
from tests.extension.gcs import OperatorUploadStep


@pytest.fixture
def jp_server_config(kube_emulator, kube_namespace):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}},
        "SubstratusExtension": {
            "namespace": kube_namespace,
            "kubeconfig": str(kube_emulator.kubeconfig),
            "heartbeat_seconds": 0.5,
            "upload_timeout": 20.0,
        },
    }


@dataclass
class Answer:
    status: int
    body: bytes
    headers: Any

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture
def api(jp_fetch):
    """await api("GET", "/{plural}/{name}", plural="models", name="x", body=..., params=...)."""

    async def call(
        method: str,
        template: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        check: bool = True,
        **parts: str,
    ) -> Answer:
        path = template.format(**{k: urllib.parse.quote(v, safe="") for k, v in parts.items()})
        segments = ["substratus", "api", "v1", *[s for s in path.split("/") if s]]
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None or raw is not None:
            kwargs["body"] = raw if raw is not None else json.dumps(body)
        if params:
            kwargs["params"] = params
        if headers is not None:
            kwargs["headers"] = headers
        response = await jp_fetch(*segments, **kwargs)
        answer = Answer(response.code, response.body or b"", response.headers)
        if check:
            openapi_check.check(
                method, template, answer.status, answer.body, response.headers.get("Content-Type", "application/json")
            )
        return answer

    return call


@pytest.fixture
def operator_upload(fake_gcs):
    return OperatorUploadStep(fake_gcs, "extension-uploads")


def model_manifest(name: str, **spec: Any) -> dict:
    return {
        "apiVersion": "substratus.ai/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": spec or {"image": "substratusai/model-loader-huggingface", "params": {"name": "facebook/opt-125m"}},
    }
