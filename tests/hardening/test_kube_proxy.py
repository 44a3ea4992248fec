"""The proxy route on the kubernetes backend, against the emulator's service proxy (which answers as
kube-apiserver does): each way a Server can be out of reach is an answer with a message, never a
500; a path that would climb out of the service proxy is a 400; an API server that went away is a
503. The emulator's API server is reached through a relay the test can cut."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.hardening.conftest import edited_kubeconfig, kubernetes_server_config


class Relay:
    """127.0.0.1:port relaying each connection to `target`, until close(): then nothing listens."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way: nothing listens
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _ModelServer(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def model_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelServer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


@pytest.fixture
def relay(kube_emulator):
    relay = Relay(("127.0.0.1", kube_emulator.port))
    yield relay
    relay.close()


@pytest.fixture
def jp_server_config(kube_emulator, kube_namespace, relay, tmp_path):
    """The Jupyter server's kubernetes backend, reaching the emulator through the relay."""

    def through_the_relay(config: dict) -> None:
        config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{relay.port}"

    kubeconfig = edited_kubeconfig(kube_emulator.kubeconfig, tmp_path / "kubeconfig", through_the_relay)
    return kubernetes_server_config(kube_namespace, kubeconfig)


@pytest.fixture
def route(jp_fetch, jp_http_port, jp_base_url, jp_auth_header):
    """async with route() as http: an httpx client on the API, authenticated (jp_fetch: the server listens)."""
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1"
    return lambda: httpx.AsyncClient(base_url=base, headers=dict(jp_auth_header), timeout=30)


def _server(cluster, namespace: str) -> None:
    cluster.create(
        {
            "apiVersion": "substratus.ai/v1",
            "kind": "Server",
            "metadata": {"name": "srv"},
            "spec": {"image": "substratusai/model-server", "model": {"name": "base"}},
        },
        namespace,
    )


def _service(cluster, namespace: str) -> None:
    """The Service the operator puts in front of Server srv."""
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "srv-server", "namespace": namespace},
            "spec": {"selector": {"app": "srv"}, "ports": [{"name": "http", "port": 8080, "targetPort": 8080}]},
        }
    )


async def _answer(http, path: str, status: int) -> str:
    """The message of the route's answer to GET `path`, which must have `status`."""
    answer = await http.get(path)
    assert answer.status_code == status, answer.text
    return answer.json()["message"]


async def test_each_step_short_of_ready_is_an_answer_with_a_message(route, kube_emulator, kube_namespace):
    async with route() as http:
        assert await _answer(http, "/servers/srv/proxy/v1/models", 404) == 'servers.substratus.ai "srv" not found'
        _server(kube_emulator, kube_namespace)
        # The operator has not made the Service yet; then no pod is ready behind it.
        assert await _answer(http, "/servers/srv/proxy/v1/models", 404) == 'services "srv-server" not found'
        _service(kube_emulator, kube_namespace)
        kube_emulator.create(
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "srv-server", "namespace": kube_namespace}}
        )
        message = await _answer(http, "/servers/srv/proxy/v1/models", 503)
        assert message == 'no endpoints available for service "srv-server"'


@pytest.mark.parametrize("path", ["%2e%2e/%2E%2E/api/v1/secrets", "v1/%2e/models", "a%2F..%2Fb", "v1/.%2e"])
async def test_a_path_that_climbs_out_of_the_service_proxy_is_a_400(route, kube_emulator, kube_namespace, path):
    _server(kube_emulator, kube_namespace)
    async with route() as http:
        message = await _answer(http, f"/servers/srv/proxy/{path}", 400)
    assert "'.' or '..' segments" in message


async def test_a_literal_dot_dot_is_a_400_too(
    route, kube_emulator, kube_namespace, jp_http_port, jp_base_url, jp_auth_header
):
    # httpx (as browsers) resolves '..' before sending: a raw request sends it as a client may.
    _server(kube_emulator, kube_namespace)
    path = (
        f"{jp_base_url}substratus/api/v1/servers/srv/proxy/" + "../" * 7 + f"api/v1/namespaces/{kube_namespace}/secrets"
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)  # the server runs on this loop
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n"
        f"Authorization: {jp_auth_header['Authorization']}\r\nConnection: close\r\n\r\n".encode()
    )
    answer = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", answer
    assert b"'.' or '..' segments" in body


async def test_an_api_server_that_went_away_is_a_503(route, relay, kube_emulator, kube_namespace, model_server):
    _server(kube_emulator, kube_namespace)
    _service(kube_emulator, kube_namespace)
    kube_emulator.serve_service(kube_namespace, "srv-server", model_server)
    async with route() as http:
        served = await http.get("/servers/srv/proxy/v1/models")
        assert served.status_code == 200 and served.json() == {"path": "/v1/models"}
        relay.close()
        message = await _answer(http, "/servers/srv/proxy/v1/models", 503)
    assert message.startswith(f"cannot reach Server srv at http://127.0.0.1:{relay.port}/api/v1/namespaces/")
