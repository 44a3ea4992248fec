"""The operator's half of the upload handshake, acted by a test.

`OperatorUploadStep` stands in for the operator's upload step where a test needs to control
it (e.g. to answer "already stored" for a new resource; test_export_operator.py runs the real
operator under KopfRunner for the handshake end to end): it reads a resource's
spec.build.upload, answers status.buildUpload with a V4 signed PUT URL (signed by
google-cloud-storage with a throw-away service-account key) for uploads/<md5>.tar.gz in its
bucket of fake-gcs-server, or with storedMD5Checksum when that content is already stored, and
verifies the MD5 of what arrived, as the operator does.
"""

from __future__ import annotations

import base64
import datetime

from google.api_core.exceptions import NotFound
from google.oauth2 import service_account

from tests.fakegcs import FakeGCS, service_account_key


class OperatorUploadStep:
    """The operator's upload step, acted by the test (see the module docstring)."""

    def __init__(self, gcs: FakeGCS, bucket: str):
        self.endpoint = gcs.endpoint
        self.bucket = gcs.bucket(bucket)
        self.credentials = service_account.Credentials.from_service_account_info(service_account_key()[0])
        self.signed = 0  # URLs handed out

    def object_name(self, md5_hex: str) -> str:
        return f"uploads/{md5_hex}.tar.gz"

    def stored_md5(self, md5_hex: str) -> str | None:
        blob = self.bucket.blob(self.object_name(md5_hex))
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
            offer["signedURL"] = self.bucket.blob(self.object_name(md5_hex)).generate_signed_url(
                version="v4",
                method="PUT",
                expiration=expiration,
                credentials=self.credentials,
                content_type="application/octet-stream",
                content_md5=base64.b64encode(bytes.fromhex(md5_hex)).decode(),
                api_access_endpoint=self.endpoint,
            )
            offer["expiration"] = expiration.strftime("%Y-%m-%dT%H:%M:%SZ")
            self.signed += 1
        return cluster.patch_status(plural, name, {"buildUpload": offer}, namespace)

    def verify(self, md5_hex: str) -> bool:
        """What the operator checks before it builds: the stored object has the promised MD5."""
        return self.stored_md5(md5_hex) == md5_hex
