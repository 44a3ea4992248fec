"""A real Jupyter server on localhost standing in for the Notebook's pod (the far end of the
forwarded port), its root a fresh folder."""

import secrets
import shutil

import pytest

from tests.pod_jupyter import running_jupyter_server


@pytest.fixture(scope="module")
def pod_jupyter_server(tmp_path_factory):
    with running_jupyter_server(tmp_path_factory.mktemp("pod-content"), secrets.token_hex(16)) as server:
        yield server


@pytest.fixture
def pod_jupyter(pod_jupyter_server):
    """The server with an empty root for this test."""
    for child in pod_jupyter_server.root.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    return pod_jupyter_server
