"""Google Cloud Storage: V4 signed PUT URLs with a service-account key, MD5 of stored objects."""

import base64
from datetime import timedelta
from urllib.parse import urlparse

from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.oauth2 import service_account

from .base import ObjectStore


class GCSStore(ObjectStore):
    """`endpoint` points at an emulator (fake-gcs-server) instead of storage.googleapis.com."""

    def __init__(
        self, root: str, *, signing_key_file: str | None = None, endpoint: str | None = None, project: str | None = None
    ):
        parsed = urlparse(root)
        self.root = root
        self.bucket_name = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.endpoint = endpoint
        self._signer = (
            service_account.Credentials.from_service_account_file(signing_key_file) if signing_key_file else None
        )
        if endpoint:
            client = storage.Client(
                credentials=AnonymousCredentials(), project=project or "test", client_options={"api_endpoint": endpoint}
            )
        else:
            client = storage.Client(project=project)
        self._bucket = client.bucket(self.bucket_name)

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key.lstrip('/')}" if self.prefix else key.lstrip("/")

    def signed_put_url(self, key: str, expires_in: timedelta) -> str:
        if self._signer is None:
            raise RuntimeError("signing upload URLs needs a service-account key (signing_key_file)")
        return self._bucket.blob(self._name(key)).generate_signed_url(
            version="v4",
            method="PUT",
            expiration=expires_in,
            credentials=self._signer,
            api_access_endpoint=self.endpoint or "https://storage.googleapis.com",
        )

    def md5(self, key: str) -> str | None:
        blob = self._bucket.blob(self._name(key))
        try:
            blob.reload()
        except NotFound:
            return None
        return base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None
