"""Issue 12, items 4, 10 (proxied paths) and 11: the proxy route keeps Jupyter's credentials to
itself, forwards the path as sent, and answers 404/400 with a message for what it cannot serve."""

import asyncio
import contextlib
import logging

import httpx
import pytest

from tests.hardening.conftest import loader, manifest


@pytest.fixture
def proxy(rest, backend, jp_http_port, jp_base_url, jp_auth_header):
    """async with proxy() as client: an httpx client on the API, Server `echo` (the echo stand-in) ready."""

    @contextlib.asynccontextmanager
    async def client():
        assert (await rest("POST", "/{plural}", plural="models", body=loader("weights"))).status == 201
        server = manifest("Server", "echo", image="substratusai/model-server", model={"name": "weights"})
        assert (await rest("POST", "/{plural}", plural="servers", body=server)).status == 201
        async with asyncio.timeout(60):
            while not (await rest("GET", "/{plural}/{name}", plural="servers", name="echo")).json["status"]["ready"]:
                await asyncio.sleep(0.2)
        base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1"
        async with httpx.AsyncClient(base_url=base, headers=dict(jp_auth_header), timeout=10) as http:
            yield http

    return client


class Collected(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def test_jupyters_auth_parameters_never_reach_the_model_server_or_a_log(
    proxy, rest, jp_serverapp, jp_auth_header
):
    collected = Collected()
    jp_serverapp.log.addHandler(collected)
    jp_serverapp.log.setLevel(logging.DEBUG)
    token = jp_auth_header["Authorization"].split()[-1]
    async with proxy() as client:
        answer = await client.get(
            f"/servers/echo/proxy/v1/models?token={token}&limit=2&_xsrf=abc&x=%20y", headers={"Authorization": ""}
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"path": "/v1/models", "query": "limit=2&x=%20y"}
    logs = await rest("GET", "/{plural}/{name}/logs", plural="servers", name="echo")
    assert "/v1/models" in logs.body.decode() and token not in logs.body.decode()
    jp_serverapp.log.removeHandler(collected)
    proxied = [m for m in collected.messages if "/proxy/" in m]
    assert proxied and not [m for m in proxied if "?" in m or token in m], proxied


async def test_the_path_is_forwarded_as_sent(proxy):
    async with proxy() as client:
        assert (await client.get("/servers/echo/proxy/a%2Fb%3Fc/d")).json() == {"path": "/a%2Fb%3Fc/d", "query": ""}
        assert (await client.get("/servers/echo/proxy")).text == "ok"  # the model server's /
        assert (await client.get("/namespaces/default/servers/echo/proxy/x")).json()["path"] == "/x"


@pytest.mark.parametrize("path", ["a%0D%0AX-Injected:%20yes", "a%00b", "%0a"])
async def test_control_characters_in_the_path_are_a_400(proxy, path):
    async with proxy() as client:
        answer = await client.get(f"/servers/echo/proxy/{path}")
    assert answer.status_code == 400 and "control characters" in answer.json()["message"]


async def test_a_server_that_does_not_exist_is_a_404(rest):
    for template, parts in [
        ("/servers/{name}/proxy/{path}", {}),
        ("/namespaces/{namespace}/servers/{name}/proxy/{path}", {"namespace": "other"}),
    ]:
        answer = await rest("GET", template, name="missing", path="v1/models", **parts)
        assert answer.status == 404 and "missing" in answer.json["message"]
