"""Run the emulator on 127.0.0.1 in its own thread and event loop, and reach into it from tests.

The emulator needs a loop of its own: the official (synchronous) `kubernetes` client called
from inside the emulator's loop would block the very loop that must answer it. Tests talk to
it over HTTP through the kubeconfig this harness writes, and may act as controllers with the
in-process helpers below (set a Job's status, a pod's log, ...), which run on the emulator's
loop and so keep every write ordered with the HTTP ones and visible to watchers.

    with KubeCluster(kubeconfig=tmp_path / "kubeconfig") as cluster:
        cluster.post_crds("crds/substratus.ai_models.yaml")
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp.web
import yaml

from kubeemu import patches, rbac
from kubeemu.emulator import KubeEmulator
from kubeemu.errors import ApiError
from kubeemu.faults import FaultInjector
from kubeemu.jsoncopy import copy_json
from kubeemu.kinds import ResourceKind
from kubeemu.store import now

T = TypeVar("T")


class KubeCluster:
    def __init__(self, kubeconfig: Path | str, *, history_limit: int = 10_000, token: str | None = None) -> None:
        self.kubeconfig = Path(kubeconfig)
        self.token = token or secrets.token_hex(16)
        self.port = 0
        self._history_limit = history_limit
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._emulator: KubeEmulator | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="kubeemu", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("the Kubernetes API emulator did not start within 30 s")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes API emulator failed to start") from self._failure
        self._write_kubeconfig()
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(timeout=30)
        self._thread = self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as e:  # reported to start(); the thread must not die silently
            self._failure = e
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        self._emulator = KubeEmulator(token=self.token, history_limit=self._history_limit)
        async with self._emulator:
            server = aiohttp.web.Server(self._emulator, handler_cancellation=True)
            runner = aiohttp.web.ServerRunner(server, handle_signals=False, shutdown_timeout=1)
            await runner.setup()
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            try:
                await self._stopping.wait()
            finally:
                self._emulator.store.close_watches()
                await runner.cleanup()

    def _write_kubeconfig(self, path: Path | None = None, token: str | None = None) -> None:
        path = path or self.kubeconfig
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "kubeemu",
            "preferences": {},
            "clusters": [{"name": "kubeemu", "cluster": {"server": self.url}}],
            "users": [{"name": "kubeemu", "user": {"token": token or self.token}}],
            "contexts": [
                {"name": "kubeemu", "context": {"cluster": "kubeemu", "user": "kubeemu", "namespace": "default"}}
            ],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(yaml.safe_dump(config))
        partial.replace(path)

    def service_account_kubeconfig(self, path: Path, namespace: str, name: str) -> str:
        """Write a kubeconfig at `path` that acts as that service account (RBAC applies); its user name."""
        user = rbac.service_account(namespace, name)
        token = secrets.token_hex(16)
        self.call(self.emulator.users.__setitem__, token, user)
        self._write_kubeconfig(path, token)
        return user

    def accesses(self, user: str) -> list[tuple[rbac.Access, bool]]:
        """What `user` asked for so far (verb, group, resource, ...) and whether RBAC allowed it."""
        return [(access, allowed) for who, access, allowed in self.call(list, self.emulator.accesses) if who == user]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def emulator(self) -> KubeEmulator:
        """The emulator object; it lives on the emulator's loop: touch its state through `call()`."""
        if self._emulator is None:
            raise RuntimeError("the emulator is not started")
        return self._emulator

    @property
    def faults(self) -> FaultInjector:
        return self.emulator.faults

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, Any]:
        """An HTTP request as any client sends it (with the token): the status and the decoded body."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": content_type}
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as e:
            status, payload = e.code, e.read()
        try:
            return status, json.loads(payload)
        except ValueError:
            return status, payload.decode()

    def post_crds(self, path: Path | str) -> None:
        """Register the CRDs of a YAML file by POSTing them, like `kubectl create -f`."""
        for document in yaml.safe_load_all(Path(path).read_text()):
            if document and document.get("kind") == "CustomResourceDefinition":
                status, body = self.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", document)
                if status != 201:
                    raise RuntimeError(f"{path}: the emulator refused {document['metadata']['name']}: {body}")

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the emulator's loop and return its result."""
        if self._loop is None:
            raise RuntimeError("the emulator is not started")
        if threading.current_thread() is self._thread:
            return fn(*args, **kwargs)

        async def invoke() -> T:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout=30)

    # --- in-process helpers for tests acting as controllers --------------------------------

    def kind(self, resource: str | ResourceKind) -> ResourceKind:
        """A served kind by kubectl-like name: "jobs", "job.batch", "Model", "mdl", "models.substratus.ai"."""
        if isinstance(resource, ResourceKind):
            return resource
        return self.call(self.emulator.registry.resolve, resource)

    def _kind_of(self, body: dict[str, Any]) -> ResourceKind:
        for kind in self.call(list, self.emulator.registry):
            if kind.api_version == body.get("apiVersion") and kind.kind == body.get("kind"):
                return kind
        raise LookupError(f"no served kind for apiVersion={body.get('apiVersion')!r} kind={body.get('kind')!r}")

    def get(self, resource: str | ResourceKind, name: str, namespace: str | None = None) -> dict[str, Any]:
        kind = self.kind(resource)
        return copy_json(self.call(self.emulator.store.get, kind, namespace, name))

    def list(
        self, resource: str | ResourceKind, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        kind = self.kind(resource)
        body = self.call(self.emulator.store.list, kind, namespace, label_selector)
        return copy_json([{"apiVersion": kind.api_version, "kind": kind.kind, **item} for item in body["items"]])

    def create(self, body: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        kind = self._kind_of(body)
        namespace = namespace or body.get("metadata", {}).get("namespace")
        obj, _ = self.call(self.emulator.store.create, kind, namespace, copy_json(body))
        return copy_json(obj)

    def patch(
        self,
        resource: str | ResourceKind,
        name: str,
        patch: Any,
        namespace: str | None = None,
        subresource: str | None = None,
        patch_type: str = patches.MERGE_PATCH,
    ) -> dict[str, Any]:
        kind = self.kind(resource)
        obj, _ = self.call(self.emulator.store.patch, kind, namespace, name, patch_type, copy_json(patch), subresource)
        return copy_json(obj)

    def patch_status(
        self, resource: str | ResourceKind, name: str, status: dict[str, Any], namespace: str | None = None
    ) -> dict[str, Any]:
        """Merge `status` into the object's status, as a controller writing /status would."""
        kind = self.kind(resource)
        subresource = "status" if kind.status_apart else None
        return self.patch(resource, name, {"status": status}, namespace, subresource)

    def delete(
        self,
        resource: str | ResourceKind,
        name: str,
        namespace: str | None = None,
        propagation_policy: str | None = None,
    ) -> dict[str, Any]:
        kind = self.kind(resource)
        options = {"propagationPolicy": propagation_policy} if propagation_policy else {}
        return copy_json(self.call(self.emulator.store.delete, kind, namespace, name, options))

    def set_pod_log(self, namespace: str, name: str, text: str) -> None:
        """What GET pods/NAME/log answers for that pod (the pod must exist when it is read)."""
        self.call(self.emulator.store.pod_logs.__setitem__, (namespace, name), text)

    def forward_pod_port(self, namespace: str, name: str, address: tuple[str, int]) -> None:
        """Where GET pods/NAME/portforward relays to (the pod must exist when it is asked)."""
        self.call(self.emulator.store.pod_ports.__setitem__, (namespace, name), address)

    def serve_service(self, namespace: str, service: str, address: tuple[str, int]) -> dict[str, Any]:
        """Make `address` (something listening here, e.g. 127.0.0.1 and a port) the one ready
        endpoint of the Service, as the kubelet and the endpoints controller would for a pod
        behind it: a running, ready Pod with the Service's selector labels and `address`'s IP
        as its podIP, and the Endpoints object (named after the Service) with that address for
        the Service's first port. services/NAME:PORT/proxy then reaches `address`. The Endpoints."""
        spec = self.get("services", service, namespace)["spec"]
        ip, port = address
        pod_name = f"{service}-endpoint"
        with contextlib.suppress(ApiError):
            self.delete("pods", pod_name, namespace)
        pod = self.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod_name, "namespace": namespace, "labels": dict(spec.get("selector") or {})},
                "spec": {"containers": [{"name": "main", "image": "kubeemu/endpoint"}]},
            }
        )
        ready = {"type": "Ready", "status": "True", "lastTransitionTime": now()}
        self.patch_status(
            "pods",
            pod_name,
            {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "conditions": [ready]},
            namespace,
        )
        first = (spec.get("ports") or [{}])[0]
        reference = {"kind": "Pod", "namespace": namespace, "name": pod_name, "uid": pod["metadata"]["uid"]}
        endpoint_port = {"port": port, "protocol": "TCP", **({"name": first["name"]} if first.get("name") else {})}
        endpoints = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": service, "namespace": namespace},
            "subsets": [{"addresses": [{"ip": ip, "targetRef": reference}], "ports": [endpoint_port]}],
        }
        with contextlib.suppress(ApiError):
            self.delete("endpoints", service, namespace)
        return self.create(endpoints)

    def start_job(self, namespace: str, name: str) -> dict[str, Any]:
        """Mark a Job started with one active pod, as the Job controller does (once: startTime is then fixed)."""
        job = self.get("jobs.batch", name, namespace)
        if (job.get("status") or {}).get("startTime"):
            return job
        return self.patch_status("jobs.batch", name, {"startTime": now(), "active": 1, "ready": 0}, namespace)

    def complete_job(self, namespace: str, name: str) -> dict[str, Any]:
        """Mark a Job succeeded the way the Job controller does: started, then SuccessCriteriaMet, then
        Complete with a completionTime (the API server refuses a Complete without them)."""
        job = self.start_job(namespace, name)
        if _finished(job):
            return job
        stamp = now()
        met = {
            "type": "SuccessCriteriaMet",
            "status": "True",
            "reason": "CompletionsReached",
            "message": "Reached expected number of succeeded pods",
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
        }
        self.patch_status("jobs.batch", name, {"active": 0, "ready": 0, "succeeded": 1, "conditions": [met]}, namespace)
        return self.patch_status(
            "jobs.batch", name, {"completionTime": stamp, "conditions": [met, {**met, "type": "Complete"}]}, namespace
        )

    def fail_job(
        self,
        namespace: str,
        name: str,
        reason: str = "BackoffLimitExceeded",
        message: str = "Job has reached the specified backoff limit",
    ) -> dict[str, Any]:
        """Mark a Job failed the way the Job controller does: started, then FailureTarget, then Failed."""
        job = self.start_job(namespace, name)
        if _finished(job):
            return job
        stamp = now()
        target = {
            "type": "FailureTarget",
            "status": "True",
            "reason": reason,
            "message": message,
            "lastProbeTime": stamp,
            "lastTransitionTime": stamp,
        }
        self.patch_status("jobs.batch", name, {"active": 0, "ready": 0, "failed": 1, "conditions": [target]}, namespace)
        return self.patch_status("jobs.batch", name, {"conditions": [target, {**target, "type": "Failed"}]}, namespace)

    def reset(self) -> None:
        """Remove every object but the CRDs and the initial namespaces; clear faults and pod logs."""
        self.faults.clear()
        self.call(self.emulator.store.reset)


def _finished(job: dict[str, Any]) -> bool:
    """A Job with a terminal condition: its status is the controller's no more."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True" for c in conditions)
