"""The interface every store implements, and choosing one by URL scheme."""

from abc import ABC, abstractmethod
from datetime import timedelta
from urllib.parse import urlparse


class ObjectStore(ABC):
    """A bucket (or directory) with objects addressed by relative keys under a root URL."""

    root: str  # e.g. gs://bucket/prefix, file:///var/substratus

    def url(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key.lstrip('/')}"

    @abstractmethod
    def signed_put_url(self, key: str, expires_in: timedelta) -> str:
        """A URL a client may PUT the object's bytes to, without credentials of its own."""

    @abstractmethod
    def md5(self, key: str) -> str | None:
        """The hex MD5 of the stored object, or None when it does not exist."""


def open_store(root: str, **options) -> ObjectStore:
    scheme = urlparse(root).scheme
    if scheme == "gs":
        from .gcs import GCSStore

        return GCSStore(root, **options)
    if scheme == "file":
        from .file import FileStore

        return FileStore(root)
    raise ValueError(f"unsupported store URL {root!r}: use gs:// or file://")
