"""The service proxy client of the kubernetes backend verifies and authenticates as the kube client
does, from a real kubeconfig file: its CA, `tls-server-name`, `insecure-skip-tls-verify` and client
certificate. A real TLS server on 127.0.0.1 (a certificate for another name, client certificates
required) stands in for an API server reached by IP or through a tunnel."""

import base64
import datetime
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import kubernetes
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jupyter_substratus.backends.kubernetes import tls_context

SERVER_NAME = "kubernetes.cluster.internal"  # the only name in the server's certificate


def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(key) -> bytes:
    encoding, private = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(encoding, private, serialization.NoEncryption())


def _certificate(subject: str, key, issuer_key, issuer: str, *, ca: bool = False, names: list | None = None) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


class _Seen(BaseHTTPRequestHandler):
    """Answers with the client certificate's common name and the SNI name the client sent."""

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        common_name = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), None)
        body = json.dumps({"client": common_name, "sni": self.server.sni.get(self.client_address)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    ca_key, server_key, client_key = _key(), _key(), _key()
    ca = _certificate("test-ca", ca_key, ca_key, "test-ca", ca=True)
    server = _certificate("apiserver", server_key, ca_key, "test-ca", names=[x509.DNSName(SERVER_NAME)])
    client = _certificate("jupyter-user", client_key, ca_key, "test-ca")
    keys = {"server_key": _pem(server_key), "client_key": _pem(client_key)}
    return {"ca": ca, "server": server, "client": client, **keys}


@pytest.fixture(scope="module")
def api_server(pki, tmp_path_factory):
    """https://127.0.0.1:PORT, serving SERVER_NAME's certificate to clients with a certificate of the CA."""
    directory = tmp_path_factory.mktemp("tls")
    (directory / "server.pem").write_bytes(pki["server"] + pki["server_key"])
    (directory / "ca.pem").write_bytes(pki["ca"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem")
    context.load_verify_locations(directory / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Seen)
    server.daemon_threads = True
    server.sni = {}

    def remember_sni(tls, name, _context):
        server.sni[tls.getpeername()] = name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _configuration(path: Path, server: str, pki, **cluster) -> kubernetes.client.Configuration:
    """The kube client's Configuration from a kubeconfig file, loaded as KubernetesBackend loads it."""
    encoded = {name: base64.b64encode(pki[name]).decode() for name in ("ca", "client", "client_key")}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
                "users": [
                    {
                        "name": "u",
                        "user": {
                            "client-certificate-data": encoded["client"],
                            "client-key-data": encoded["client_key"],
                        },
                    }
                ],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(path), client_configuration=configuration)
    return configuration


def _get(url: str, configuration) -> dict:
    with httpx.Client(verify=tls_context(configuration), timeout=10) as client:
        answer = client.get(url + "/api/v1/namespaces/ns/services/s-server:8080/proxy/v1/models")
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_tls_server_name_is_verified_and_sent_with_the_client_certificate(api_server, pki, tmp_path):
    ca = base64.b64encode(pki["ca"]).decode()
    configuration = _configuration(
        tmp_path / "config", api_server, pki, **{"certificate-authority-data": ca, "tls-server-name": SERVER_NAME}
    )
    assert _get(api_server, configuration) == {"client": "jupyter-user", "sni": SERVER_NAME}
    # Without it the certificate does not name 127.0.0.1: verification is on, and it fails.
    configuration = _configuration(tmp_path / "config", api_server, pki, **{"certificate-authority-data": ca})
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(api_server, configuration)


def test_the_ca_of_the_kubeconfig_is_the_one_trusted(api_server, pki, tmp_path):
    other_key = _key()
    other_ca = _certificate("other-ca", other_key, other_key, "other-ca", ca=True)
    configuration = _configuration(
        tmp_path / "config",
        api_server,
        pki,
        **{"certificate-authority-data": base64.b64encode(other_ca).decode(), "tls-server-name": SERVER_NAME},
    )
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(api_server, configuration)


def test_insecure_skip_tls_verify_still_sends_the_client_certificate(api_server, pki, tmp_path):
    configuration = _configuration(tmp_path / "config", api_server, pki, **{"insecure-skip-tls-verify": True})
    assert _get(api_server, configuration)["client"] == "jupyter-user"


def test_a_plain_http_api_server_needs_no_tls(pki, tmp_path):
    assert tls_context(_configuration(tmp_path / "config", "http://127.0.0.1:1", pki)) is True
