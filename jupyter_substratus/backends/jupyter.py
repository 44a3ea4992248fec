"""The backend of a Jupyter server, through its REST API (/substratus/api/v1): what a kernel of
that server uses, so that the server's backend stays the one owner of its resources (a kernel
with a local backend of its own on the server's state directory would fight its reconciler).

`url` is the server's (with its base_url), `token` its token (sent as `Authorization: token`).
`from_kernel_environment()` finds both for a kernel the server started (see find_server).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from jupyter_substratus.api import KINDS, FieldError

from .base import (
    Backend,
    BackendError,
    BadRequest,
    ChangeEvent,
    Conflict,
    Invalid,
    Manifest,
    NotFound,
    ProgressCallback,
    Unavailable,
    UploadProgress,
)
from .endpoint import ServerEndpoint

API_PREFIX = "substratus/api/v1"
# Set by the server extension in the environment its kernels inherit: the server's runtime file
# (jpserver-<pid>.json: url, token, base_url), which only the user who runs the server can read.
SERVER_INFO_ENV = "SUBSTRATUS_JUPYTER_SERVER_INFO"
_ERRORS: dict[int, type[BackendError]] = {400: BadRequest, 404: NotFound, 409: Conflict, 422: Invalid}


class NoJupyterServer(Unavailable):
    """This process is not a kernel of a Jupyter server with the substratus extension."""


def find_server() -> tuple[str, str]:
    """(url, token) of the Jupyter server whose kernel this process is, from SERVER_INFO_ENV."""
    info_file = os.environ.get(SERVER_INFO_ENV)
    if not info_file:
        raise NoJupyterServer(
            f"this is not a kernel of a Jupyter server with jupyter_substratus (no ${SERVER_INFO_ENV})"
        )
    try:
        info = json.loads(Path(info_file).read_text())
        return info["url"], info.get("token", "")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise NoJupyterServer(f"the Jupyter server this kernel came from is gone ({info_file}: {e})") from None


def _error(response: httpx.Response) -> BackendError:
    try:
        body = response.json()
        message = body.get("message") or response.reason_phrase
        errors = [FieldError(e.get("path", ""), e.get("message", "")) for e in body.get("errors") or []]
    except (ValueError, AttributeError):
        message, errors = response.text.strip()[:500] or response.reason_phrase, []
    if response.status_code in (401, 403):
        return Unavailable(f"the Jupyter server refused this kernel's credentials ({response.status_code}): {message}")
    return _ERRORS.get(response.status_code, Unavailable)(message, errors)


class EventStream:
    """The server's /events as a change stream: subscribed (the server said `connected`) when
    `open()` returns, like every backend's ChangeStream."""

    def __init__(self, client: httpx.AsyncClient, url: str, params: dict[str, str]):
        self._client, self._url, self._params = client, url, params
        self._queue: asyncio.Queue[ChangeEvent | BaseException | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    async def open(self) -> EventStream:
        connected = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(connected))
        await connected
        return self

    async def _read(self, connected: asyncio.Future) -> None:
        try:
            async with self._client.stream("GET", self._url, params=self._params, timeout=None) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise _error(response)
                data: list[str] = []
                async for line in response.aiter_lines():
                    if line.startswith(": connected") and not connected.done():
                        connected.set_result(None)
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        event = json.loads("\n".join(data))
                        data = []
                        await self._queue.put(ChangeEvent(event["type"], event["object"]))
            await self._queue.put(None)
        except (BackendError, httpx.HTTPError) as e:
            error = e if isinstance(e, BackendError) else Unavailable(f"the Jupyter server's event stream: {e}")
            if not connected.done():
                connected.set_exception(error)
            await self._queue.put(error)
        finally:
            if not connected.done():
                connected.set_exception(Unavailable("the Jupyter server closed its event stream at once"))

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ChangeEvent:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class JupyterServerBackend(Backend):
    """Options: `url` and `token` of the server (default: find_server()), `namespace` (default:
    the server's)."""

    def __init__(self, url: str | None = None, token: str | None = None, namespace: str | None = None):
        if url is None:
            url, found_token = find_server()
            token = found_token if token is None else token
        self.url = url.rstrip("/") + "/"
        self.api = self.url + API_PREFIX
        headers = {"Authorization": f"token {token}"} if token else {}
        self.token = token or ""
        self.client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(60.0, connect=10.0))
        try:  # once, here: a server that cannot be reached fails `%substratus use`, not a later call
            info = httpx.get(self.api, headers=headers, timeout=10.0)
        except httpx.HTTPError as e:
            raise Unavailable(f"cannot reach the Jupyter server at {self.url}: {e}") from None
        if info.status_code != 200:
            raise _error(info)
        self.server_backend = info.json()["backend"]
        self.default_namespace = namespace or info.json()["namespace"]

    def _path(self, plural: str, name: str | None = None, action: str | None = None) -> str:
        parts = [self.api, quote(plural, safe="")] + [quote(p, safe="") for p in (name, action) if p]
        return "/".join(parts)

    def _params(self, namespace: str | None, **more: Any) -> dict[str, str]:
        params = {"namespace": namespace or self.default_namespace}
        params.update({k: str(v) for k, v in more.items() if v is not None})
        return params

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.HTTPError as e:
            raise Unavailable(f"the Jupyter server at {self.url} did not answer: {e}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    async def list(self, plural: str, namespace: str | None = None) -> list[Manifest]:
        return (await self._call("GET", self._path(plural), params=self._params(namespace))).json()["items"]

    async def get(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        return (await self._call("GET", self._path(plural, name), params=self._params(namespace))).json()

    async def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        plural = _plural_of(manifest)
        namespace = namespace or manifest.get("metadata", {}).get("namespace")
        response = await self._call("POST", self._path(plural), params=self._params(namespace), json=manifest)
        return response.json()

    async def replace(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        plural, name = _plural_of(manifest), manifest["metadata"]["name"]
        namespace = namespace or manifest["metadata"].get("namespace")
        response = await self._call("PUT", self._path(plural, name), params=self._params(namespace), json=manifest)
        return response.json()

    async def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        await self._call("DELETE", self._path(plural, name), params=self._params(namespace))

    async def rerun(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        return (await self._call("POST", self._path(plural, name, "rerun"), params=self._params(namespace))).json()

    async def cancel(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        return (await self._call("POST", self._path(plural, name, "cancel"), params=self._params(namespace))).json()

    async def server_endpoint(self, name: str, namespace: str | None = None) -> ServerEndpoint:
        """The server's proxy route for the Server (which reaches it on either of its backends)."""
        await self.get("servers", name, namespace)  # NotFound when there is no such Server
        ns = quote(namespace or self.default_namespace, safe="")
        url = f"{self.api}/namespaces/{ns}/servers/{quote(name, safe='')}/proxy"
        headers = {"Authorization": f"token {self.token}"} if self.token else {}
        return ServerEndpoint(url, lambda: dict(headers))

    async def changes(self, namespace: str | None = None) -> EventStream:  # type: ignore[override]
        return await EventStream(self.client, self.api + "/events", self._params(namespace)).open()

    async def logs(
        self, plural: str, name: str, namespace: str | None = None, follow: bool = False, tail_lines: int | None = None
    ) -> AsyncIterator[str]:
        params = self._params(namespace, follow=str(follow).lower(), tail=tail_lines)
        try:
            async with self.client.stream(
                "GET", self._path(plural, name, "logs"), params=params, timeout=None if follow else 60.0
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise _error(response)
                async for line in response.aiter_lines():
                    yield line
        except httpx.HTTPError as e:
            raise Unavailable(f"the Jupyter server's log stream: {e}") from None

    async def upload(
        self,
        plural: str,
        name: str,
        data: bytes,
        md5_hex: str,
        request_id: str,
        namespace: str | None = None,
        progress: ProgressCallback | None = None,
        timeout: float = 300.0,
    ) -> UploadProgress:
        """The server runs the upload handshake (its backend's); progress is its final state."""
        params = self._params(namespace, md5Checksum=md5_hex, requestID=request_id)
        response = await self._call(
            "POST",
            self._path(plural, name, "upload"),
            params=params,
            content=data,
            headers={"Content-Type": "application/gzip"},
            timeout=timeout + 30.0,
        )
        state = UploadProgress(**response.json())
        if progress:
            progress(state)
        return state

    async def close(self) -> None:
        await self.client.aclose()


def _plural_of(manifest: Manifest) -> str:
    kind = manifest.get("kind")
    if kind not in KINDS:
        raise BadRequest(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    return KINDS[kind].names.plural
