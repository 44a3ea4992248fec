"""Handlers ask the server's authorizer (resource "substratus"): a read-only user reads, never writes."""

import pytest
from jupyter_server.auth import Authorizer

from tests.extension.conftest import model_manifest


class ReadOnly(Authorizer):
    def is_authorized(self, handler, user, action, resource):
        return resource != "substratus" or action == "read"


@pytest.fixture
def jp_server_config(kube_emulator, kube_namespace):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}, "authorizer_class": f"{__name__}.ReadOnly"},
        "SubstratusExtension": {"namespace": kube_namespace, "kubeconfig": str(kube_emulator.kubeconfig)},
    }


async def test_read_only_user(api):
    assert (await api("GET", "/{plural}", plural="models")).status == 200
    assert (await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))).status == 403
    assert (await api("DELETE", "/{plural}/{name}", plural="models", name="opt")).status == 403
    assert (await api("PUT", "/{plural}/{name}", plural="models", name="opt", body=model_manifest("opt"))).status == 403
    assert (await api("POST", "/export", body={"path": "x.ipynb", "model": model_manifest("opt")})).status == 403
    for action in ("rerun", "cancel"):
        assert (await api("POST", f"/{{plural}}/{{name}}/{action}", raw=b"", plural="models", name="opt")).status == 403
