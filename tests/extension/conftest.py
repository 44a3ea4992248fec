"""The Jupyter server with the extension, against the Kubernetes API emulator and fake-gcs-server.

`api` calls a route as openapi.yaml names it and checks the answer against that file.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the jp_* fixtures and their async test runner

from tests.extension.gcs import OperatorUploadStep
from tests.extension.rest import caller as rest_caller


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


@pytest.fixture
def api(jp_fetch):
    """await api("GET", "/{plural}/{name}", plural="models", name="x", body=..., params=...)."""
    return rest_caller(jp_fetch)


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
