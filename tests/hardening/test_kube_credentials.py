"""A cluster that refuses this Jupyter server, each way it can: a token it does not know (401),
RBAC that grants nothing (403), no substratus.ai CRDs (404), and credentials that expire and
cannot be refreshed (a GKE `gcp` auth-provider whose Application Default Credentials file is
gone). Each is a 503 that says what to fix, at once rather than after the 30 s an unreachable
API server is given, and never a 500."""

from __future__ import annotations

import asyncio
import datetime
import time
from pathlib import Path

import httpx
import pytest
from kubeemu.harness import KubeCluster

from tests.hardening.conftest import edited_kubeconfig, kubernetes_server_config

# The kubernetes client refreshes a token 5 minutes before it expires.
REFRESH_AHEAD = datetime.timedelta(minutes=5)
VALID_FOR = datetime.timedelta(seconds=4)
PROMPT_ANSWER_SECONDS = 10


def _with_user(kubeconfig: str | Path, user: dict, path: Path) -> Path:
    return edited_kubeconfig(kubeconfig, path, lambda config: config["users"][0].update(user=user))


@pytest.fixture
def kubeconfig(request, kube_emulator, tmp_path, monkeypatch) -> Path:
    """The kubeconfig of the case `request.param` names."""
    case = request.param
    if case == "unknown token":
        return _with_user(kube_emulator.kubeconfig, {"token": "not-a-token-the-cluster-knows"}, tmp_path / "kc")
    if case == "no RBAC":
        kube_emulator.service_account_kubeconfig(tmp_path / "kc", "default", "nobody")
        return tmp_path / "kc"
    if case == "no CRDs":
        bare = KubeCluster(kubeconfig=tmp_path / "kc").start()
        request.addfinalizer(bare.stop)
        return tmp_path / "kc"
    assert case == "expiring gcp token"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gone.json"))
    expiry = datetime.datetime.now(datetime.UTC) + REFRESH_AHEAD + VALID_FOR
    provider = {"access-token": kube_emulator.token, "expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return _with_user(kube_emulator.kubeconfig, {"auth-provider": {"name": "gcp", "config": provider}}, tmp_path / "kc")


@pytest.fixture
def jp_server_config(kubeconfig, kube_namespace):
    return kubernetes_server_config(kube_namespace, kubeconfig)


@pytest.fixture
def api(jp_fetch, jp_http_port, jp_base_url, jp_auth_header):
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1"
    return httpx.AsyncClient(base_url=base, headers=dict(jp_auth_header), timeout=60)


@pytest.mark.parametrize(
    "kubeconfig, words",
    [
        ("unknown token", ["refused the request (401)", "Unauthorized"]),
        ("no RBAC", ["refused the request (403)", "system:serviceaccount:default:nobody", "cannot list"]),
        ("no CRDs", ["does not know", ".substratus.ai: are the CRDs installed (kubectl apply -f crds/)?"]),
    ],
    indirect=["kubeconfig"],
)
async def test_a_refusal_is_a_503_that_says_why_at_once(api, words):
    async with api:
        start = time.monotonic()
        answer = await api.get("/models")
        took = time.monotonic() - start
        again = await api.get("/servers/srv/proxy/v1/models")
    assert answer.status_code == 503, answer.text
    message = answer.json()["message"]
    assert all(word in message for word in words), message
    assert took < PROMPT_ANSWER_SECONDS
    assert again.status_code == 503 and again.json()["message"] == message


@pytest.mark.parametrize("kubeconfig", ["expiring gcp token"], indirect=True)
async def test_credentials_that_cannot_be_refreshed_are_a_503(api, kube_emulator, kube_namespace):
    kube_emulator.create(
        {
            "apiVersion": "substratus.ai/v1",
            "kind": "Server",
            "metadata": {"name": "srv"},
            "spec": {"model": {"name": "base"}},
        },
        kube_namespace,
    )
    async with api:
        assert (await api.get("/servers/srv")).status_code == 200  # the token is still good
        await asyncio.sleep(VALID_FOR.total_seconds() + 1)
        # The open watch keeps the lists current; what asks the API server anew needs a token.
        assert (await api.get("/servers/srv")).status_code == 200
        prompt = await api.get("/servers/srv/proxy/v1/models")
        deleted = await api.delete("/servers/srv")
    for answer in (prompt, deleted):
        assert answer.status_code == 503, answer.text
        message = answer.json()["message"]
        assert message.startswith("cannot refresh the kubeconfig's credentials for the cluster"), message
        assert "gone.json" in message
