"""Where a Server's model server answers for this process, and how to be let in there.

The local backend's Servers listen on 127.0.0.1; a cluster's are reached through the API
server's service proxy (/api/v1/namespaces/NS/services/NAME:PORT/proxy) with the kube client's
credentials and TLS settings; a Jupyter server's through its own proxy route with its token.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def _no_headers() -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class ServerEndpoint:
    """`url`: the model server's root, without a trailing slash (a path such as /v1/completions
    is appended to it). `headers()`: what authenticates a request there, asked for each request
    (a cluster's token may be refreshed). `verify`: an SSLContext (CA, client certificate) or a
    bool. `proxy`: the HTTP proxy to go through, if any."""

    url: str
    headers: Callable[[], dict[str, str]] = field(default=_no_headers, repr=False)
    verify: ssl.SSLContext | bool = True
    proxy: str | None = None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of an httpx client (or openai.DefaultHttpxClient) that reaches it.
        The auth is a function, which every httpx flavour takes (openai may bring its own)."""
        return {"auth": self._authenticate, "verify": self.verify, "proxy": self.proxy}

    def _authenticate(self, request: Any) -> Any:
        """Sets the endpoint's headers on the request, over any Authorization the caller set."""
        request.headers.update(self.headers())
        return request
