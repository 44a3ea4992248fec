"""The few API calls the operator makes, on plain dicts, with create-or-adopt semantics.

Asynchronous, on kopf's own event loop, with aiohttp (as kopf itself talks to the API): a
request costs a quarter of the CPU that the official synchronous client in a thread pool costs.
Where the API is and how to authenticate come from the official client's config loaders
(in-cluster, or a kubeconfig), credentials refreshed the way they refresh them.
"""

import json
import os
import ssl
import time
from typing import cast
from urllib.parse import quote

import aiohttp
import kubernetes
from kubernetes.client import ApiException, Configuration
from kubernetes.client.configuration import APIKeyAuthSetting
from kubernetes.client.rest import should_bypass_proxies

from jupyter_substratus.api import GROUP, VERSION

# kind -> (API path prefix, plural)
PATHS = {
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "Service": ("/api/v1", "services"),
    "Pod": ("/api/v1", "pods"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "Job": ("/apis/batch/v1", "jobs"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    **{kind: (f"/apis/{GROUP}/{VERSION}", f"{kind.lower()}s") for kind in ("Model", "Dataset", "Server", "Notebook")},
}
# How often the credentials are looked at again (an in-cluster token is re-read every minute
# at most anyway; an expired kubeconfig token is refreshed by the same hook).
CREDENTIALS_REFRESH_SECONDS = 10
# (connect, whole call): no single call of ours should take longer, and a call hung on a dead
# connection must not hold up the operator's shutdown.
TIMEOUT = aiohttp.ClientTimeout(sock_connect=5, total=30)
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def configuration() -> Configuration:
    """Where the API server is and how to authenticate: in a pod its service account, else the
    kubeconfig that $KUBECONFIG names when this is called (else ~/.kube/config)."""
    config = Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=config)
    return config


def _ssl_context(config: Configuration) -> ssl.SSLContext | bool:
    if not config.host.startswith("https:"):
        return False
    context = ssl.create_default_context(cafile=config.ssl_ca_cert)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file)
    if not config.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Kube:
    def __init__(self, config: Configuration):
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._credentials: dict[str, str] = {}
        self._credentials_read = float("-inf")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _headers(self, content_type: str) -> dict[str, str]:
        # Reading the credentials runs the config loader's refresh hook, which also sets the host
        # again and so re-reads the proxy environment: too dear for every request.
        if time.monotonic() - self._credentials_read >= CREDENTIALS_REFRESH_SECONDS:
            # the loaders' token ("Bearer ..." or "Basic ..."); a TypedDict's values() are typed object
            settings = cast("list[APIKeyAuthSetting]", list(self.config.auth_settings().values()))
            self._credentials = {s["key"]: s["value"] for s in settings if s["in"] == "header" and s["value"]}
            self._credentials_read = time.monotonic()
        return {"Accept": "application/json", "Content-Type": content_type, **self._credentials}

    async def _call(
        self, method: str, path: str, body=None, content_type: str = "application/json", query=None, text=False
    ):
        if self._session is None:  # made on the loop that uses it
            connector = aiohttp.TCPConnector(ssl=_ssl_context(self.config), limit=32)
            self._session = aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)
        async with self._session.request(
            method,
            self.config.host + path,
            params=query,
            data=None if body is None else json.dumps(body),
            headers=self._headers(content_type),
            proxy=self._proxy(),
            server_hostname=self.config.tls_server_name,
        ) as response:
            data = await response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(status=response.status, reason=response.reason, body=data.decode(errors="replace"))
        if text:
            return data.decode(errors="replace")
        return json.loads(data) if data else None

    def _proxy(self) -> str | None:
        proxy = self.config.proxy
        return None if not proxy or should_bypass_proxies(self.config.host, self.config.no_proxy or "") else proxy

    @staticmethod
    def path(kind: str, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix, plural = PATHS[kind]
        path = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
        if name:
            path += f"/{quote(name)}"
        return f"{path}/{subresource}" if subresource else path

    async def get(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return await self._call("GET", self.path(kind, namespace, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    async def list(self, kind: str, namespace: str, selector: dict[str, str]) -> list[dict]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in selector.items())}
        return (await self._call("GET", self.path(kind, namespace), query=query))["items"]

    async def ensure(self, obj: dict) -> dict:
        """Create the object, or adopt the one of that name already there (a restart, a race)."""
        meta = obj["metadata"]
        try:
            return await self._call("POST", self.path(obj["kind"], meta["namespace"]), body=obj)
        except ApiException as e:
            if e.status != 409:
                raise
        existing = await self.get(obj["kind"], meta["namespace"], meta["name"])
        if existing is not None and left_over(existing, obj):
            # A child of an earlier resource of the same name (deleted and created again before
            # the garbage collector came by): never adopt its failure; remove it, retry later.
            await self.delete(obj["kind"], meta["namespace"], meta["name"])
            existing = None
        if existing is None:  # deleted between the two calls: the next event creates it
            raise ApiException(status=409, reason=f"{obj['kind']} {meta['name']} is being replaced")
        return existing

    async def get_or_create(self, obj: dict) -> dict:
        meta = obj["metadata"]
        existing = await self.get(obj["kind"], meta["namespace"], meta["name"])
        return existing if existing is not None and not left_over(existing, obj) else await self.ensure(obj)

    async def replace_field(self, kind: str, namespace: str, name: str, field: str, value) -> dict:
        patch = [{"op": "replace", "path": f"/{field}", "value": value}]
        return await self._call("PATCH", self.path(kind, namespace, name), body=patch, content_type=JSON_PATCH)

    async def patch(self, kind: str, namespace: str, name: str, patch: dict, subresource: str | None = None) -> dict:
        path = self.path(kind, namespace, name, subresource)
        return await self._call("PATCH", path, body=patch, content_type=MERGE_PATCH)

    async def proxy_get(self, namespace: str, service: str, port: int, path: str, query: dict[str, str]):
        """GET `path` of a Service's port through the API server's service proxy (RBAC: get on
        services/proxy): the answer's JSON."""
        return await self._call("GET", f"{self.path('Service', namespace, service)}:{port}/proxy{path}", query=query)

    async def log(self, namespace: str, pod: str, tail_lines: int) -> str:
        """The last `tail_lines` lines of a pod's log ("" while it has none to give, or is gone)."""
        try:
            return await self._call(
                "GET", self.path("Pod", namespace, pod, "log"), query={"tailLines": str(tail_lines)}, text=True
            )
        except ApiException as e:
            if e.status in (400, 404):  # its container is not started (400) or it is gone
                return ""
            raise

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            await self._call("DELETE", self.path(kind, namespace, name), body={"propagationPolicy": "Background"})
        except ApiException as e:
            if e.status != 404:
                raise


def left_over(existing: dict, wanted: dict) -> bool:
    """Whether `existing` belongs to another owner than `wanted` names (or is on its way out)."""

    def owners(obj: dict) -> set[str]:
        return {ref["uid"] for ref in obj["metadata"].get("ownerReferences", []) if ref.get("controller")}

    if not owners(wanted):
        return False  # shared objects (the artifacts claim) have no controller
    return bool(existing["metadata"].get("deletionTimestamp")) or owners(existing) != owners(wanted)


def merge_patch(old: dict, new: dict) -> dict:
    """The RFC 7386 merge patch that turns `old` into `new`: what `new` changes, and null for
    what it no longer has (nested objects likewise; lists are replaced whole)."""
    patch: dict = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            if nested := merge_patch(before, value):
                patch[key] = nested
        elif value != before or key not in old:
            patch[key] = value
    return patch
