"""The few API calls the operator makes, on plain dicts, with create-or-adopt semantics.

The synchronous official client: kopf runs sync handlers in its thread pool, and plain dicts
in and out keep the translation code free of client model classes.
"""

import json
import threading
import time
from urllib.parse import quote

import kubernetes
from kubernetes.client import ApiClient, ApiException

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
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def client() -> ApiClient:
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    configuration = kubernetes.client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = 32
    if configuration.refresh_api_key_hook is not None:
        configuration.refresh_api_key_hook = _at_most_every(
            CREDENTIALS_REFRESH_SECONDS, configuration.refresh_api_key_hook
        )
    return ApiClient(configuration)


def _at_most_every(seconds: float, refresh):
    """The config loaders' refresh hook, run before every request, sets the host again each
    time, which re-reads the proxy environment (about a quarter of a request's client-side
    cost): once every `seconds` is enough."""
    lock, last = threading.Lock(), [float("-inf")]

    def throttled(configuration) -> None:
        with lock:
            if time.monotonic() - last[0] < seconds:
                return
            last[0] = time.monotonic()
        refresh(configuration)

    return throttled


class Kube:
    def __init__(self, api: ApiClient):
        self.api = api

    def _call(self, method: str, path: str, body=None, content_type: str = "application/json", query=None):
        method, url, headers, body, post = self.api.param_serialize(
            method,
            path,
            query_params=query or [],
            body=body,
            header_params={"Accept": "application/json", "Content-Type": content_type},
            auth_settings=["BearerToken"],
        )
        # (connect, read): no single call of ours should take longer, and a call hung on a dead
        # connection must not hold up the operator's shutdown (kopf waits for its threads).
        response = self.api.call_api(method, url, headers, body, post, _request_timeout=(5, 30))
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException(status=response.status, reason=response.reason, body=data)
        return json.loads(data) if data else None

    @staticmethod
    def path(kind: str, namespace: str, name: str | None = None, subresource: str | None = None) -> str:
        prefix, plural = PATHS[kind]
        path = f"{prefix}/namespaces/{quote(namespace)}/{plural}"
        if name:
            path += f"/{quote(name)}"
        return f"{path}/{subresource}" if subresource else path

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self._call("GET", self.path(kind, namespace, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str, selector: dict[str, str]) -> list[dict]:
        query = [("labelSelector", ",".join(f"{k}={v}" for k, v in selector.items()))]
        return self._call("GET", self.path(kind, namespace), query=query)["items"]

    def ensure(self, obj: dict) -> dict:
        """Create the object, or adopt the one of that name already there (a restart, a race)."""
        meta = obj["metadata"]
        try:
            return self._call("POST", self.path(obj["kind"], meta["namespace"]), body=obj)
        except ApiException as e:
            if e.status != 409:
                raise
        existing = self.get(obj["kind"], meta["namespace"], meta["name"])
        if existing is not None and left_over(existing, obj):
            # A child of an earlier resource of the same name (deleted and created again before
            # the garbage collector came by): never adopt its failure; remove it, retry later.
            self.delete(obj["kind"], meta["namespace"], meta["name"])
            existing = None
        if existing is None:  # deleted between the two calls: the next event creates it
            raise ApiException(status=409, reason=f"{obj['kind']} {meta['name']} is being replaced")
        return existing

    def get_or_create(self, obj: dict) -> dict:
        meta = obj["metadata"]
        existing = self.get(obj["kind"], meta["namespace"], meta["name"])
        return existing if existing is not None and not left_over(existing, obj) else self.ensure(obj)

    def replace_field(self, kind: str, namespace: str, name: str, field: str, value) -> dict:
        patch = [{"op": "replace", "path": f"/{field}", "value": value}]
        return self._call("PATCH", self.path(kind, namespace, name), body=patch, content_type=JSON_PATCH)

    def patch(self, kind: str, namespace: str, name: str, patch: dict, subresource: str | None = None) -> dict:
        return self._call("PATCH", self.path(kind, namespace, name, subresource), body=patch, content_type=MERGE_PATCH)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            self._call("DELETE", self.path(kind, namespace, name), body={"propagationPolicy": "Background"})
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
