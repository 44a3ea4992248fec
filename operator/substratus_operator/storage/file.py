"""A directory as a store: for one machine (the local backend), where no signing is needed."""

import hashlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

from .base import ObjectStore


class FileStore(ObjectStore):
    def __init__(self, root: str):
        self.root = root
        self.directory = Path(urlparse(root).path)

    def path(self, key: str) -> Path:
        return self.directory / key.lstrip("/")

    def signed_put_url(self, key: str, expires_in: timedelta) -> str:
        # The writer is on this machine: it writes the file itself.
        self.path(key).parent.mkdir(parents=True, exist_ok=True)
        return self.url(key)

    def md5(self, key: str) -> str | None:
        path = self.path(key)
        if not path.is_file():
            return None
        digest = hashlib.md5()
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
