"""The proxy route of the local backend's Servers: /substratus/api/v1/servers/{name}/proxy/{path}
(or /namespaces/{namespace}/servers/...) forwards to the model server on 127.0.0.1, streaming
both ways' bodies as they come, behind the Jupyter server's own authentication (a token, a
cookie, or JupyterHub's). A Server's status.url names this route on the local backend.
"""

from __future__ import annotations

import httpx
import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized

from .backends import NotFound, Unavailable
from .handlers import API_PREFIX, SubstratusHandler

# Hop-by-hop headers, and what only the Jupyter server may decide about its own connection.
_REQUEST_DROPPED = {
    "host",
    "authorization",
    "cookie",
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
    "x-xsrftoken",
}
_RESPONSE_DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


class ProxyHandler(SubstratusHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

    async def _forward(self, name: str, path: str | None, namespace: str | None) -> None:
        self.check_name(name)
        backend = await self.backend()
        port_of = getattr(backend, "server_port", None)
        if port_of is None:
            raise NotFound("this route serves the local backend's Servers; on a cluster, use the Server's status.url")
        port = port_of(name, namespace)
        if port is None:
            raise Unavailable(f"Server {name} is not running here: see its status and logs")
        url = f"http://127.0.0.1:{port}/{(path or '').lstrip('/')}"
        if self.request.query:
            url += "?" + self.request.query
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in _REQUEST_DROPPED}
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None)) as client:
            try:
                async with client.stream(
                    self.request.method, url, headers=headers, content=self.request.body or None
                ) as response:
                    self.set_status(response.status_code)
                    for key, value in response.headers.multi_items():
                        if key.lower() == "set-cookie":
                            self.add_header(key, value)
                        elif key.lower() not in _RESPONSE_DROPPED:
                            self.set_header(key, value)
                    async for chunk in response.aiter_raw():
                        self.write(chunk)
                        await self.flush()
            except httpx.TransportError as e:
                if self._headers_written:
                    return  # the server went away mid-answer: the client sees a cut stream
                raise Unavailable(f"Server {name} did not answer on 127.0.0.1:{port}: {e}") from None
            except tornado.iostream.StreamClosedError:
                return  # the client went away
        self.finish(set_content_type=self._headers.get("Content-Type", "application/octet-stream"))

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)

    @tornado.web.authenticated
    @authorized
    async def head(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)

    @tornado.web.authenticated
    @authorized
    async def put(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)

    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, path: str | None = None, namespace: str | None = None):
        await self._forward(name, path, namespace)


def proxy_handlers(base_url: str = "/") -> list[tuple[str, type[ProxyHandler]]]:
    prefix = base_url.rstrip("/") + API_PREFIX
    route = r"servers/(?P<name>[^/]+)/proxy(?P<path>/.*)?$"
    return [(f"{prefix}/namespaces/(?P<namespace>[^/]+)/{route}", ProxyHandler), (f"{prefix}/{route}", ProxyHandler)]
