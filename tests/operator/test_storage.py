"""The object stores: a real signed PUT to fake-gcs-server, the MD5 check, and the V4 signature
verified with the public half of a key made for the test (fake-gcs-server does not verify it)."""

import hashlib
from datetime import timedelta
from urllib.parse import unquote, urlparse

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from substratus_operator.storage import FileStore, GCSStore, open_store


@pytest.fixture
def gcs(fake_gcs, signing_key) -> GCSStore:
    fake_gcs.bucket("store-test")
    return GCSStore("gs://store-test/prefix", signing_key_file=str(signing_key[0]), endpoint=fake_gcs.endpoint)


def test_signed_put_uploads_and_md5_reads_back(gcs):
    assert gcs.md5("a/b.tar.gz") is None
    url = gcs.signed_put_url("a/b.tar.gz", timedelta(minutes=5))
    assert urlparse(url).path == "/store-test/prefix/a/b.tar.gz"
    payload = b"\x1f\x8b build context"
    response = requests.put(url, data=payload, timeout=10)
    assert response.status_code == 200, response.text
    assert gcs.md5("a/b.tar.gz") == hashlib.md5(payload).hexdigest()
    assert gcs.url("a/b.tar.gz") == "gs://store-test/prefix/a/b.tar.gz"


def test_signature_verifies_with_the_service_accounts_public_key(gcs, signing_key):
    url = gcs.signed_put_url("x.tar.gz", timedelta(minutes=5))
    parsed = urlparse(url)
    query = dict(part.split("=", 1) for part in parsed.query.split("&"))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    assert unquote(query["X-Goog-Algorithm"]) == "GOOG4-RSA-SHA256"
    assert unquote(query["X-Goog-Expires"]) == "300"
    assert unquote(query["X-Goog-Credential"]).startswith("operator@test.iam.gserviceaccount.com/")
    canonical_query = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    canonical_request = "\n".join(
        ["PUT", parsed.path, canonical_query, f"host:{parsed.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = unquote(query["X-Goog-Credential"]).split("/", 1)[1]
    string_to_sign = "\n".join(
        ["GOOG4-RSA-SHA256", query["X-Goog-Date"], scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    public_key = signing_key[1].public_key()
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):  # and a tampered string-to-sign does not
        public_key.verify(
            signature, string_to_sign.replace(scope, scope + "x").encode(), padding.PKCS1v15(), hashes.SHA256()
        )


def test_signing_needs_a_key(fake_gcs):
    with pytest.raises(RuntimeError, match="service-account key"):
        GCSStore("gs://store-test", endpoint=fake_gcs.endpoint).signed_put_url("k", timedelta(minutes=1))


def test_file_store(tmp_path):
    store = open_store(tmp_path.as_uri())
    assert isinstance(store, FileStore)
    url = store.signed_put_url("up/ctx.tar.gz", timedelta(minutes=1))
    assert store.md5("up/ctx.tar.gz") is None
    store.path("up/ctx.tar.gz").write_bytes(b"abc")
    assert url == f"{tmp_path.as_uri()}/up/ctx.tar.gz"
    assert store.md5("up/ctx.tar.gz") == hashlib.md5(b"abc").hexdigest()


def test_unknown_scheme():
    with pytest.raises(ValueError, match="gs:// or file://"):
        open_store("s3://bucket")
