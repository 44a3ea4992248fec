"""pods/portforward: the kubernetes client's `stream.portforward` reaches the address a test
names for the pod, both ways; a pod without one is refused."""

import socketserver
import threading

import kubernetes
import pytest
from kubernetes.stream import portforward


class _Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(1024):
            self.request.sendall(data.upper())


@pytest.fixture
def echo_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def _pod(kube_emulator, namespace):
    kube_emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
    )


def test_a_forwarded_port_carries_bytes_both_ways(kube_emulator, kube_namespace, kube_api_client, echo_server):
    _pod(kube_emulator, kube_namespace)
    kube_emulator.forward_pod_port(kube_namespace, "p", echo_server)
    core = kubernetes.client.CoreV1Api(kube_api_client)
    forward = portforward(core.connect_get_namespaced_pod_portforward, "p", kube_namespace, ports="8888")
    stream = forward.socket(8888)
    stream.settimeout(10)
    stream.sendall(b"hello")
    received = b""
    while len(received) < 5:
        received += stream.recv(1024)
    assert received == b"HELLO"
    stream.close()


def test_a_pod_without_a_forwarded_port_is_refused(kube_emulator, kube_namespace, kube_api_client):
    _pod(kube_emulator, kube_namespace)
    core = kubernetes.client.CoreV1Api(kube_api_client)
    with pytest.raises(kubernetes.client.ApiException) as refused:
        portforward(core.connect_get_namespaced_pod_portforward, "p", kube_namespace, ports="8888")
    assert "400" in str(refused.value)  # the handshake answered 400 Bad Request
