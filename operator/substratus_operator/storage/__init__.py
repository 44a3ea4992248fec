"""Object stores behind one interface: gs:// (Google Cloud Storage) and file://.

store = open_store("gs://bucket/prefix", signing_key_file="key.json")
url = store.signed_put_url("uploads/abc.tar.gz", timedelta(hours=1))
store.md5("uploads/abc.tar.gz")  # hex MD5 of the stored object, None when absent
"""

from .base import ObjectStore, open_store
from .file import FileStore
from .gcs import GCSStore

__all__ = ["FileStore", "GCSStore", "ObjectStore", "open_store"]
