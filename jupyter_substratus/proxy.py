"""The proxy route of Servers: /substratus/api/v1/servers/{name}/proxy/{path} (or
/namespaces/{namespace}/servers/...) forwards to the Server's model server, streaming both ways'
bodies as they come (so a completion with stream=True arrives token by token), behind the Jupyter
server's own authentication (a token, a cookie, or JupyterHub's). Where the request goes is the
backend's `server_endpoint`: 127.0.0.1 on the local backend; on a cluster, the API server's
service proxy for the Server's Service, with the kube client's credentials (the browser's and
the kernel's requests never need a route into the cluster). A local Server's status.url names
this route.

The path after /proxy is forwarded as it was sent (still percent-encoded; none is `/`), with the
query string less Jupyter's own credentials (`token`, `_xsrf`), which the model server has no use
for and would write to the log /logs serves. The client's Authorization and cookies stay here.
A path with '.' or '..' segments (encoded or not) is a 400. This route's requests are logged
without their query string.
"""

from __future__ import annotations

import re
import urllib.parse

import httpx
import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized

from .api.fields import is_dns_label
from .backends import BadRequest, NotFound, Unavailable
from .handlers import API_PREFIX, SubstratusHandler, _field

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
JUPYTER_AUTH_PARAMETERS = {"token", "_xsrf"}
_PROXIED_PATH = re.compile(r"/servers/[^/]+/proxy(?P<path>/.*)?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def forwarded_query(query: str) -> str:
    """The query string without Jupyter's auth parameters; the rest exactly as sent."""
    kept = [
        part
        for part in query.split("&")
        if part and urllib.parse.unquote_plus(part.split("=", 1)[0]) not in JUPYTER_AUTH_PARAMETERS
    ]
    return "&".join(kept)


class ProxyHandler(SubstratusHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

    async def _forward(self, name: str, namespace: str | None) -> None:
        self.check_name(name)
        if namespace is not None:
            self.check_namespace(namespace)
        path = self.forwarded_path()
        backend = await self.backend()
        endpoint = await backend.server_endpoint(name, namespace)
        url = endpoint.url + path
        query = forwarded_query(self.request.query)
        if query:
            url += "?" + query
        headers = {k: v for k, v in self.request.headers.get_all() if k.lower() not in _REQUEST_DROPPED}
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None), **endpoint.client_options()) as client:
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
                # On a cluster endpoint.url is the API server's service proxy: name it, not just the Server.
                raise Unavailable(f"cannot reach Server {name} at {endpoint.url}: {e}") from None
            except tornado.iostream.StreamClosedError:
                return  # the client went away
        self.finish(set_content_type=self._headers.get("Content-Type", "application/octet-stream"))

    def check_namespace(self, namespace: str) -> None:
        if not is_dns_label(namespace):
            raise NotFound(f"no namespace {namespace!r}: namespaces are lowercase letters, digits and '-'")

    def forwarded_path(self) -> str:
        """The path after /proxy as the client sent it: percent-encoded characters stay encoded."""
        raw = _PROXIED_PATH.search(self.request.path)
        path = (raw.group("path") if raw else None) or "/"
        if _CONTROL.search(urllib.parse.unquote(path)):
            raise BadRequest(
                "the proxied path must not contain control characters (CR, LF, NUL, ...)",
                [_field("path", "must not contain control characters")],
            )
        # Resolved by the HTTP client or the API server, a '..' would climb out of the Server's
        # service proxy into the API server's own resources, with the kubeconfig's credentials.
        if any(segment in (".", "..") for segment in urllib.parse.unquote(path).split("/")):
            raise BadRequest(
                "the proxied path must not contain '.' or '..' segments (encoded or not)",
                [_field("path", "must not contain '.' or '..' segments")],
            )
        return path

    def _log(self) -> None:
        # The query string may carry a token or a prompt: the access log shows the path only.
        self.request.uri = self.request.path
        super()._log()

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)

    @tornado.web.authenticated
    @authorized
    async def head(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)

    @tornado.web.authenticated
    @authorized
    async def put(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)

    @tornado.web.authenticated
    @authorized
    async def patch(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)

    @tornado.web.authenticated
    @authorized
    async def delete(self, name: str, namespace: str | None = None):
        await self._forward(name, namespace)


def proxy_handlers(base_url: str = "/") -> list[tuple[str, type[ProxyHandler]]]:
    prefix = base_url.rstrip("/") + API_PREFIX
    route = r"servers/(?P<name>[^/]+)/proxy(?:/.*)?$"
    return [(f"{prefix}/namespaces/(?P<namespace>[^/]+)/{route}", ProxyHandler), (f"{prefix}/{route}", ProxyHandler)]
