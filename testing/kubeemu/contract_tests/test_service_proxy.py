"""services/NAME[:PORT]/proxy/PATH, as kube-apiserver serves it: the target is a ready address of
the Service's Endpoints backed by a Pod with that IP; the request goes on with its method, path,
query and body (the caller's credentials stay with the API server) and the answer streams back;
without an endpoint it is a 503 worded as the real server words it."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from kubeemu import rbac


class _Target(BaseHTTPRequestHandler):
    """Answers every request with what it got; /stream sends three lines 0.3 s apart."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if self.path.startswith("/stream"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for i in range(3):
                self.wfile.write(f"data: {i}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
            return
        answer = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "authorization": self.headers.get("Authorization"),
                "header": self.headers.get("X-Test"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()
    server.server_close()


def _service(cluster, namespace, name="web", port_name="http"):
    port = {"port": 8080, "targetPort": 8080, **({"name": port_name} if port_name else {})}
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": name}, "ports": [port]},
        }
    )


@pytest.fixture
def api(kube_emulator):
    with httpx.Client(
        base_url=kube_emulator.url, headers={"Authorization": f"Bearer {kube_emulator.token}"}, timeout=10
    ) as client:
        yield client


def _proxy(namespace, service_id, path=""):
    return f"/api/v1/namespaces/{namespace}/services/{service_id}/proxy{path}"


def test_a_request_reaches_the_endpoint_with_its_method_path_query_and_body(kube_emulator, kube_namespace, api, target):
    _service(kube_emulator, kube_namespace)
    kube_emulator.serve_service(kube_namespace, "web", target)
    for service_id in ("web:8080", "web:http", "http:web:8080"):
        answer = api.post(
            _proxy(kube_namespace, service_id, "/v1/x?a=1&b=%20"), content=b'{"k": 1}', headers={"X-Test": "t"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "method": "POST",
            "path": "/v1/x?a=1&b=%20",
            "body": '{"k": 1}',
            "authorization": None,  # the caller's credentials are the API server's
            "header": "t",
        }
    assert api.get(_proxy(kube_namespace, "web:8080")).json()["path"] == "/"
    assert api.get(_proxy(kube_namespace, "web:8080", "/a//b/../c/")).json()["path"] == "/a/c/"
    assert api.delete(_proxy(kube_namespace, "web:8080", "/d")).json()["method"] == "DELETE"


def test_an_answer_streams_as_it_comes(kube_emulator, kube_namespace, api, target):
    _service(kube_emulator, kube_namespace)
    kube_emulator.serve_service(kube_namespace, "web", target)
    arrivals = []
    with api.stream("GET", _proxy(kube_namespace, "web:8080", "/stream")) as answer:
        assert answer.headers["content-type"] == "text/event-stream"
        for line in answer.iter_lines():
            if line:
                arrivals.append((line, time.monotonic()))
    assert [line for line, _ in arrivals] == ["data: 0", "data: 1", "data: 2"]
    assert arrivals[-1][1] - arrivals[0][1] > 0.4  # each came when sent, not all at the end


def test_an_unnamed_port_is_reached_without_a_port_in_the_id(kube_emulator, kube_namespace, api, target):
    _service(kube_emulator, kube_namespace, port_name=None)
    kube_emulator.serve_service(kube_namespace, "web", target)
    assert api.get(_proxy(kube_namespace, "web", "/p")).json()["path"] == "/p"


def _unavailable(api, path) -> str:
    answer = api.get(path)
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "ServiceUnavailable", 503)
    return body["message"]


def test_without_a_ready_endpoint_it_is_a_503_as_the_api_server_says(kube_emulator, kube_namespace, api, target):
    _service(kube_emulator, kube_namespace)
    assert api.get(_proxy(kube_namespace, "web:8080")).json()["message"] == 'endpoints "web" not found'
    kube_emulator.create(
        {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": kube_namespace}}
    )
    assert _unavailable(api, _proxy(kube_namespace, "web:8080")) == 'no endpoints available for service "web"'
    assert _unavailable(api, _proxy(kube_namespace, "web:9999")) == 'no service port 9999 found for service "web"'

    kube_emulator.serve_service(kube_namespace, "web", target)
    # The port is named: an id without it names the unnamed port, which the Service does not have.
    assert _unavailable(api, _proxy(kube_namespace, "web")) == 'no endpoints available for service "web"'
    # An address no pod has is never proxied to.
    kube_emulator.patch_status("pods", "web-endpoint", {"podIPs": [{"ip": "10.0.0.9"}]}, kube_namespace)
    assert _unavailable(api, _proxy(kube_namespace, "web:http")) == 'no endpoints available for service "web:http"'

    assert api.get(_proxy(kube_namespace, "missing:80")).status_code == 404
    assert api.get(_proxy(kube_namespace, "a:b:c:d")).json()["message"] == 'invalid service request "a:b:c:d"'


def test_an_endpoint_that_does_not_answer_is_a_503(kube_emulator, kube_namespace, api, target):
    _service(kube_emulator, kube_namespace)
    kube_emulator.serve_service(kube_namespace, "web", ("127.0.0.1", 1))
    assert _unavailable(api, _proxy(kube_namespace, "web:8080")).startswith("error trying to reach service: ")


def test_rbac_decides_on_services_proxy_by_the_method(kube_emulator, kube_namespace, target, tmp_path):
    _service(kube_emulator, kube_namespace)
    kube_emulator.serve_service(kube_namespace, "web", target)
    user = kube_emulator.service_account_kubeconfig(tmp_path / "kubeconfig", kube_namespace, "reader")
    token = next(t for t, u in kube_emulator.call(dict, kube_emulator.emulator.users).items() if u == user)
    kube_emulator.create(
        {
            "apiVersion": rbac.RBAC_GROUP + "/v1",
            "kind": "Role",
            "metadata": {"name": "proxy-get", "namespace": kube_namespace},
            "rules": [{"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"]}],
        }
    )
    kube_emulator.create(
        {
            "apiVersion": rbac.RBAC_GROUP + "/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "proxy-get", "namespace": kube_namespace},
            "roleRef": {"apiGroup": rbac.RBAC_GROUP, "kind": "Role", "name": "proxy-get"},
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": kube_namespace}],
        }
    )
    with httpx.Client(base_url=kube_emulator.url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        assert client.get(_proxy(kube_namespace, "web:8080", "/x")).status_code == 200
        refused = client.post(_proxy(kube_namespace, "web:8080", "/x"))
    assert refused.status_code == 403
    assert refused.json()["message"] == (
        f'services "web:8080" is forbidden: User "{user}" cannot create resource "services/proxy" '
        f'in API group "" in the namespace "{kube_namespace}"'
    )
