"""services/NAME[:PORT]/proxy/PATH: the API server's service proxy (what `kubectl proxy` users
reach), as kube-apiserver's pkg/registry/core/service (ResourceLocation, ProxyREST) serves it.

The Service's id is `NAME`, `NAME:PORT` or `SCHEME:NAME:PORT`; PORT is a port's name or number
(a number is turned into the name of the Service's port with that number: 503 `no service port
N found for service "NAME"` when none has it). The target comes from the Endpoints object named
after the Service, as on a real cluster: a subset with ready addresses and a port of that name,
an address whose targetRef is a Pod of the namespace that has the address among its
status.podIPs. None: 503 `no endpoints available for service "..."`. No pods run here, so a
test points the Endpoints at something listening on 127.0.0.1 (KubeCluster.serve_service writes
the Pod and the Endpoints the endpoints controller would).

The request goes on with its method, the path after /proxy (cleaned as Go's path.Join cleans
it, a trailing slash kept), its query and body, less the caller's Authorization (the API server
consumes its credentials) and hop-by-hop headers; the answer comes back as it streams.
"""

import contextlib
import posixpath
import random
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import aiohttp.web
import yarl

from kubeemu import errors
from kubeemu.errors import ApiError

_HOP_BY_HOP = {
    "authorization",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
Lookup = Callable[[str, str], dict[str, Any]]  # (plural, name) -> the object in the namespace; 404 ApiError


def split_id(service_id: str) -> tuple[str, str, str]:
    """(scheme, name, port) of `name`, `name:port` or `scheme:name:port` (utilnet.SplitSchemeNamePort)."""
    parts = service_id.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, (name, port) = "", parts
    elif len(parts) == 3 and parts[0] in ("http", "https"):
        scheme, name, port = parts
    else:
        name = ""
    if not name:
        raise errors.bad_request(f'invalid service request "{service_id}"')
    return scheme or "http", name, port


def target(service_id: str, namespace: str, lookup: Lookup) -> str:
    """scheme://ip:port of one ready endpoint of the Service (ResourceLocation)."""
    scheme, name, port = split_id(service_id)
    if port.isdigit():
        service = lookup("services", name)
        named = next((p for p in service["spec"].get("ports") or [] if p.get("port") == int(port)), None)
        if named is None:
            raise errors.status(503, "ServiceUnavailable", f'no service port {port} found for service "{name}"')
        port = named.get("name", "")
    subsets = lookup("endpoints", name).get("subsets") or []
    if not subsets:
        raise errors.status(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    for subset in random.sample(subsets, len(subsets)):
        addresses = subset.get("addresses") or []
        for endpoint_port in subset.get("ports") or []:
            if endpoint_port.get("name", "") != port:
                continue
            for address in random.sample(addresses, len(addresses)):
                if _backed_by_pod(address, namespace, lookup):
                    return f"{scheme}://{address['ip']}:{endpoint_port['port']}"
    raise errors.status(503, "ServiceUnavailable", f'no endpoints available for service "{service_id}"')


def _backed_by_pod(address: dict[str, Any], namespace: str, lookup: Lookup) -> bool:
    """What the API server checks before it proxies to an address (isValidAddress)."""
    ref = address.get("targetRef") or {}
    if ref.get("kind") != "Pod" or ref.get("namespace") != namespace:
        return False
    try:
        pod = lookup("pods", ref.get("name", ""))
    except ApiError:
        return False
    return any(ip.get("ip") == address.get("ip") for ip in (pod.get("status") or {}).get("podIPs") or [])


def forwarded_path(rest: str) -> str:
    """The path after /proxy as the target gets it: decoded, joined and cleaned, a trailing slash kept."""
    decoded = urllib.parse.unquote(rest)
    cleaned = posixpath.normpath("/" + decoded) if decoded else "/"
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if decoded.endswith("/") and not cleaned.endswith("/"):
        cleaned += "/"
    return urllib.parse.quote(cleaned, safe="/:@!$&'()*+,;=~")


async def serve(raw: aiohttp.web.BaseRequest, body: bytes, service_id: str, rest: str, namespace: str, lookup: Lookup):
    location = target(service_id, namespace, lookup) + forwarded_path(rest)
    if raw.rel_url.raw_query_string:
        location += "?" + raw.rel_url.raw_query_string
    headers = [(k, v) for k, v in raw.headers.items() if k.lower() not in _HOP_BY_HOP]
    headers.append(("X-Forwarded-For", raw.remote or "127.0.0.1"))
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
        try:
            upstream = await session.request(
                raw.method, yarl.URL(location, encoded=True), headers=headers, data=body or None, allow_redirects=False
            )
        except aiohttp.ClientError as e:
            raise errors.status(503, "ServiceUnavailable", f"error trying to reach service: {e}") from None
        async with upstream:
            response = aiohttp.web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    response.headers.add(key, value)
            await response.prepare(raw)
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
            return response
