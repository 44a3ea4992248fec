"""The client half of the operator's upload handshake, shared by every backend.

The resource names the content in spec.build.upload {md5Checksum, requestID}; the operator
answers in status.buildUpload {signedURL, requestID, expiration, storedMD5Checksum}; we PUT
the tar.gz to signedURL (Content-Type application/octet-stream, Content-MD5 set, as the URL
is signed for), unless storedMD5Checksum already equals our checksum: then nothing is sent.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import urllib.parse
from typing import Any

from jupyter_substratus.api import workloads
from jupyter_substratus.api.status import UPLOADED

from .base import BackendError, ProgressCallback, Unavailable, UploadProgress

CHUNK = 256 * 1024


def upload_offer(obj: dict[str, Any], request_id: str) -> dict[str, Any] | None:
    """status.buildUpload when it answers our request, else None."""
    offer = (obj.get("status") or {}).get("buildUpload") or {}
    if offer.get("requestID") != request_id:
        return None
    if not offer.get("signedURL") and not offer.get("storedMD5Checksum"):
        return None
    return offer


# Reasons with which the operator says it waits for the base model or dataset.
DEPENDENCY_REASONS = (workloads.WAITING_FOR_DEPENDENCY, workloads.DEPENDENCY_NOT_FOUND)


def waiting_for_dependencies(obj: dict[str, Any]) -> str | None:
    """The operator's message when it waits for dependencies before offering the upload."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True" and condition.get("reason") in DEPENDENCY_REASONS:
            return condition.get("message") or "waiting for the base model and dataset"
    return None


def upload_refused(obj: dict[str, Any]) -> str | None:
    """The operator's message when it will never offer the upload (e.g. no upload bucket), as
    it says of this generation of the spec (not of an earlier request)."""
    generation = obj.get("metadata", {}).get("generation") or 0
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if (
            condition.get("type") == UPLOADED
            and condition.get("status") == "False"
            and condition.get("reason") in workloads.FAILURE_REASONS
            and (condition.get("observedGeneration") or 0) >= generation
        ):
            return condition.get("message") or condition["reason"]
    return None


def put_blocking(url: str, data: bytes, md5_hex: str, on_chunk, timeout: float) -> None:
    """PUT `data` to `url` in chunks (in a worker thread), calling on_chunk(bytes_sent)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BackendError(f"the signed upload URL has an unsupported scheme: {parts.scheme!r}")
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = cls(parts.netloc, timeout=timeout)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.putrequest("PUT", target)
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(len(data)))
        connection.putheader("Content-MD5", base64.b64encode(bytes.fromhex(md5_hex)).decode())
        connection.endheaders()
        view = memoryview(data)
        for start in range(0, len(data), CHUNK):
            connection.send(view[start : start + CHUNK])
            on_chunk(min(start + CHUNK, len(data)))
        response = connection.getresponse()
        body = response.read(2000)
        if response.status >= 300:
            raise BackendError(
                f"the upload was refused: HTTP {response.status}: {body.decode(errors='replace').strip()[:300]}"
            )
    except OSError as e:
        raise Unavailable(f"the upload failed: {e}") from e
    finally:
        connection.close()


async def put(
    url: str, data: bytes, md5_hex: str, state: UploadProgress, progress: ProgressCallback | None, timeout: float
) -> None:
    loop = asyncio.get_running_loop()

    def on_chunk(sent: int) -> None:
        def report() -> None:
            state.sent = sent
            if progress:
                progress(state)

        loop.call_soon_threadsafe(report)

    await loop.run_in_executor(None, put_blocking, url, data, md5_hex, on_chunk, timeout)
