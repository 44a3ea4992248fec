"""The kubernetes backend: the substratus.ai/v1 custom resources through the API server.

Client choice: the official synchronous `kubernetes` client (already a dependency, the one
the operator's tooling and kubeconfig handling share), never called on the event loop: every
request runs in a small thread pool (`run_in_executor`), and each watch runs in a thread of
its own that hands events to the loop with `call_soon_threadsafe`. So the server's loop never
waits on the network, and there is one Kubernetes client library in the package, not two.

Lists and gets are answered from a watch-driven cache per namespace (list once, then watch
from that resourceVersion; relist on 410 Gone or a dropped watch), which is also the source
of the change stream the push channel serves. A list that fails in a way a retry will not mend
(credentials refused or not refreshable, RBAC, CRDs not installed) is answered at once with
what to fix, while the watch goes on retrying; an unreachable API server after 30 s.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import concurrent.futures
import json
import logging
import os
import ssl
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from jupyter_substratus.api import API_VERSION, GROUP, KINDS, KINDS_BY_PLURAL, VERSION, FieldError
from jupyter_substratus.api.workloads import server_service

from . import upload as uploads
from .base import (
    Backend,
    BackendError,
    BadRequest,
    ChangeEvent,
    ChangeStream,
    Conflict,
    Invalid,
    Manifest,
    NotFound,
    ProgressCallback,
    Unavailable,
    UploadProgress,
)
from .endpoint import ServerEndpoint
from .portforward import PortForward

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger(__name__)

# The labels the operator puts on the pods of a resource's workload (build Jobs, training Jobs,
# Deployments, Pods): operator/substratus_operator/names.py. The newest such pod is the one
# whose log is shown (the build's while building, then the trainer's or the server's).
KIND_LABEL = "substratus.ai/owner-kind"
NAME_LABEL = "substratus.ai/owner-name"

IMMUTABLE_KINDS = tuple(kind for kind, cls in KINDS.items() if cls.immutable_spec)
WATCH_SECONDS = 240  # a watch is reopened after this long, as clients of the API server do
RETRY_SECONDS = 2.0
MERGE_PATCH = "application/merge-patch+json"


def _plural_of(kind: str) -> str:
    return KINDS[kind].names.plural


def _version(obj: Manifest) -> int | None:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return None


class KubernetesBackend(Backend):
    """Options: `namespace` (default: the kubeconfig context's, else "default"),
    `kubeconfig` (a path; default $KUBECONFIG or ~/.kube/config), `context`, `in_cluster`
    (None: in-cluster when KUBERNETES_SERVICE_HOST is set), `workers` (thread pool size),
    `max_cached_namespaces` (watched namespaces besides the default one; the least recently
    used beyond it stops being watched)."""

    def __init__(
        self,
        namespace: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool | None = None,
        workers: int = 8,
        max_cached_namespaces: int = 8,
    ):
        import kubernetes  # imported here so that importing the package never needs a cluster

        self._k8s = kubernetes
        configuration = kubernetes.client.Configuration()
        context_namespace = None
        try:
            if in_cluster if in_cluster is not None else bool(os.environ.get("KUBERNETES_SERVICE_HOST")):
                kubernetes.config.load_incluster_config(client_configuration=configuration)
                path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
                if os.path.exists(path):
                    with open(path) as f:
                        context_namespace = f.read().strip()
            else:
                kubernetes.config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=configuration
                )
                _, active = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
                if context:
                    contexts, _ = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
                    active = next((c for c in contexts if c["name"] == context), active)
                context_namespace = (active or {}).get("context", {}).get("namespace")
        except (kubernetes.config.ConfigException, OSError, TypeError, KeyError) as e:
            raise Unavailable(f"no Kubernetes configuration: {e}. Set KUBECONFIG or run inside a cluster.") from e
        self.default_namespace = namespace or context_namespace or "default"
        self._api_client = kubernetes.client.ApiClient(configuration)
        self._custom = kubernetes.client.CustomObjectsApi(self._api_client)
        self._core = kubernetes.client.CoreV1Api(self._api_client)
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="substratus-k8s")
        self._caches: collections.OrderedDict[str, _NamespaceCache] = collections.OrderedDict()
        self.max_cached_namespaces = max_cached_namespaces
        self._closed = False

    # --- plumbing ----------------------------------------------------------------------------

    async def _call(self, fn, *args, **kwargs):
        loop = asyncio.get_running_loop()

        def call():
            self.auth_headers()
            return fn(*args, **kwargs)

        try:
            return await loop.run_in_executor(self._pool, call)
        except self._k8s.client.ApiException as e:
            raise self._translate(e) from None
        except OSError as e:  # urllib3's errors are OSErrors: the API server is unreachable
            raise Unavailable(f"cannot reach the Kubernetes API server: {e}") from None
        except Exception as e:
            if type(e).__module__.startswith("urllib3"):
                raise Unavailable(f"cannot reach the Kubernetes API server: {e}") from None
            raise

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate a request to the API server, refreshing expired
        credentials first (the kubeconfig's exec plugin or auth-provider): a refresh that fails
        is Unavailable with its reason, not an error of the client library's own kind."""
        try:
            settings = self._api_client.configuration.auth_settings()
        except Exception as e:  # noqa: BLE001 - any auth plugin's error (google.auth, OIDC, ...)
            raise Unavailable(
                f"cannot refresh the kubeconfig's credentials for the cluster ({type(e).__name__}: {e})"
            ) from None
        return {setting["key"]: setting["value"] for setting in settings.values() if setting["value"]}

    def lasting_refusal(self, plural: str, e: BaseException) -> str | None:
        """What a failed list of `plural` means to the user when retrying will not mend it, or
        None (an unreachable or busy API server: the watch retries)."""
        if isinstance(e, Unavailable):  # from auth_headers
            return e.message
        if isinstance(e, self._k8s.client.ApiException) and e.status in (401, 403):
            return self._translate(e).message
        if isinstance(e, self._k8s.client.ApiException) and e.status == 404:
            return (
                f"the Kubernetes API server does not know {plural}.{GROUP}: "
                "are the CRDs installed (kubectl apply -f crds/)?"
            )
        return None

    @staticmethod
    def _translate(e) -> BackendError:
        message = e.reason or "error"
        try:
            body = json.loads(e.body or "{}")
            message = body.get("message") or message
        except (ValueError, TypeError):
            pass
        status = e.status or 0
        if status == 404:
            return NotFound(message)
        if status == 409:
            return Conflict(message)
        if status == 422:
            return Invalid(message)
        if status == 400:
            return BadRequest(message)
        if status in (401, 403):
            return Unavailable(f"the Kubernetes API server refused the request ({status}): {message}")
        return Unavailable(f"the Kubernetes API server answered {status}: {message}")

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.default_namespace

    @staticmethod
    def _check_plural(plural: str) -> None:
        if plural not in KINDS_BY_PLURAL:
            raise NotFound(f"unknown kind {plural!r}: one of {', '.join(KINDS_BY_PLURAL)}")

    async def _cache(self, namespace: str | None) -> _NamespaceCache:
        if self._closed:
            raise Unavailable("the backend is closed")
        ns = self._namespace(namespace)
        cache = self._caches.get(ns)
        if cache is None:
            cache = self._caches[ns] = _NamespaceCache(self, ns)
            others = [name for name in self._caches if name != self.default_namespace]
            while len(others) > self.max_cached_namespaces:
                self._caches.pop(others.pop(0)).close()
        self._caches.move_to_end(ns)
        await cache.synced()
        return cache

    # --- the interface ------------------------------------------------------------------------

    async def list(self, plural: str, namespace: str | None = None) -> list[Manifest]:
        self._check_plural(plural)
        cache = await self._cache(namespace)
        return [obj for _, obj in sorted(cache.objects[plural].items())]

    async def get(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        self._check_plural(plural)
        cache = await self._cache(namespace)
        obj = cache.objects[plural].get(name)
        if obj is not None:
            return obj
        # Not seen yet through the watch: ask, so a get right after a create never 404s.
        ns = self._namespace(namespace)
        obj = await self._call(self._custom.get_namespaced_custom_object, GROUP, VERSION, ns, plural, name)
        return cache.remember(plural, obj)

    async def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        kind = manifest.get("kind")
        if kind not in KINDS:
            raise BadRequest(f"unknown kind {kind!r}")
        plural = _plural_of(kind)
        ns = self._namespace(namespace or manifest.get("metadata", {}).get("namespace"))
        body = {**manifest, "metadata": {**manifest.get("metadata", {}), "namespace": ns}}
        cache = await self._cache(ns)
        obj = await self._call(self._custom.create_namespaced_custom_object, GROUP, VERSION, ns, plural, body)
        return cache.remember(plural, obj)

    async def replace(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        kind = manifest.get("kind")
        if kind not in KINDS:
            raise BadRequest(f"unknown kind {kind!r}")
        plural = _plural_of(kind)
        name = manifest["metadata"]["name"]
        ns = self._namespace(namespace or manifest.get("metadata", {}).get("namespace"))
        cache = await self._cache(ns)
        current = await self._call(self._custom.get_namespaced_custom_object, GROUP, VERSION, ns, plural, name)
        if kind in IMMUTABLE_KINDS and current.get("spec") != manifest.get("spec"):
            raise Invalid(
                f"the spec of a {kind} is immutable: create a new {kind} with the changes instead",
                [FieldError("spec", "is immutable: create a new object with the changes instead")],
            )
        metadata = dict(current["metadata"])
        for key in ("labels", "annotations"):
            if key in manifest["metadata"]:
                metadata[key] = manifest["metadata"][key]
        wanted = manifest["metadata"].get("resourceVersion")
        if wanted:
            metadata["resourceVersion"] = wanted
        body = {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": manifest["spec"]}
        if "status" in current:
            body["status"] = current["status"]
        obj = await self._call(self._custom.replace_namespaced_custom_object, GROUP, VERSION, ns, plural, name, body)
        return cache.remember(plural, obj)

    async def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        self._check_plural(plural)
        ns = self._namespace(namespace)
        cache = await self._cache(ns)
        obj = await self._call(
            self._custom.delete_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            plural,
            name,
            propagation_policy="Background",
        )
        if isinstance(obj, dict) and obj.get("kind") in KINDS and obj.get("metadata", {}).get("finalizers"):
            cache.remember(plural, obj)
        else:
            cache.forget(plural, name)

    async def annotate(
        self, plural: str, name: str, annotations: dict[str, str], namespace: str | None = None
    ) -> Manifest:
        self._check_plural(plural)
        ns = self._namespace(namespace)
        cache = await self._cache(ns)
        obj = await self._call(
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            ns,
            plural,
            name,
            {"metadata": {"annotations": annotations}},
            _content_type=MERGE_PATCH,
        )
        return cache.remember(plural, obj)

    async def changes(self, namespace: str | None = None) -> ChangeStream:
        cache = await self._cache(namespace)
        return ChangeStream(cache.subscribers)

    async def _workload_pod(self, plural: str, name: str, ns: str) -> str:
        await self.get(plural, name, ns)  # NotFound for an unknown resource
        kind = KINDS_BY_PLURAL[plural].__name__
        selector = f"{KIND_LABEL}={kind},{NAME_LABEL}={name}"
        pods = await self._call(self._core.list_namespaced_pod, ns, label_selector=selector)
        if not pods.items:
            raise NotFound(f"{kind} {name} has no workload running yet: no logs to show")
        newest = max(
            pods.items,
            key=lambda p: (
                p.metadata.creation_timestamp is not None,
                p.metadata.creation_timestamp or 0,
                p.metadata.name,
            ),
        )
        return newest.metadata.name

    async def logs(
        self, plural: str, name: str, namespace: str | None = None, follow: bool = False, tail_lines: int | None = None
    ) -> AsyncIterator[str]:
        self._check_plural(plural)
        ns = self._namespace(namespace)
        pod = await self._workload_pod(plural, name, ns)
        kwargs: dict[str, Any] = {"follow": follow, "_preload_content": False}
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        response = await self._call(self._core.read_namespaced_pod_log, pod, ns, **kwargs)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | BaseException | None] = asyncio.Queue(maxsize=1000)
        stop = threading.Event()

        def pump() -> None:
            buffer = b""
            try:
                for chunk in response.stream(4096, decode_content=True):
                    if stop.is_set():
                        return
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        asyncio.run_coroutine_threadsafe(queue.put(line.decode(errors="replace")), loop).result()
                if buffer:
                    asyncio.run_coroutine_threadsafe(queue.put(buffer.decode(errors="replace")), loop).result()
            except Exception as e:  # handed to the reader; the thread must end quietly
                if not stop.is_set():
                    loop.call_soon_threadsafe(queue.put_nowait, e)
            finally:
                response.release_conn()
                if not stop.is_set():
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        thread = threading.Thread(target=pump, name=f"substratus-logs-{name}", daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise Unavailable(f"the log stream broke: {item}")
                yield item
        finally:
            stop.set()
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass

    async def notebook_token(self, name: str, namespace: str | None = None) -> str:
        ns = self._namespace(namespace)
        await self.get("notebooks", name, ns)  # NotFound for an unknown Notebook
        selector = f"{KIND_LABEL}=Notebook,{NAME_LABEL}={name}"
        secrets = await self._call(self._core.list_namespaced_secret, ns, label_selector=selector)
        for secret in secrets.items:
            if token := (secret.data or {}).get("token"):
                return base64.b64decode(token).decode()
        raise NotFound(f"Notebook {name} has no token Secret yet: the operator makes it when it starts the Notebook")

    async def server_endpoint(self, name: str, namespace: str | None = None) -> ServerEndpoint:
        """The API server's service proxy for the Service the operator puts in front of the
        Server, with this client's credentials: it reaches the cluster from anywhere the API
        server does (RBAC: get, create, ... on services/proxy in the namespace)."""
        ns = self._namespace(namespace)
        await self.get("servers", name, ns)  # NotFound when there is no such Server
        service, port = server_service(name)
        configuration = self._api_client.configuration
        url = f"{configuration.host.rstrip('/')}/api/v1/namespaces/{ns}/services/{service}:{port}/proxy"
        return ServerEndpoint(url, self.auth_headers, tls_context(configuration), configuration.proxy)

    async def port_forward(
        self, plural: str, name: str, port: int, namespace: str | None = None, local_port: int = 0
    ) -> PortForward:
        self._check_plural(plural)
        ns = self._namespace(namespace)
        pod = await self._workload_pod(plural, name, ns)
        from kubernetes.stream import portforward

        def connect():
            forward = portforward(self._core.connect_get_namespaced_pod_portforward, pod, ns, ports=str(port))
            return forward.socket(port)

        return PortForward(connect, local_port)

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
        self._check_plural(plural)
        state = UploadProgress(total=len(data))

        def report(step: str, message: str) -> None:
            state.step, state.message = step, message
            state.history.append(step)
            if progress:
                progress(state)

        report("waiting", "waiting for the operator's signed upload URL")
        changes = await self.changes(namespace)
        try:
            current = await self.get(plural, name, namespace)
            offer = uploads.upload_offer(current, request_id)
            if offer is None and (refused := uploads.upload_refused(current)):
                report("failed", refused)
                raise BadRequest(f"the upload of {name} was refused: {refused}")
            if offer is None:
                loop = asyncio.get_running_loop()
                async with asyncio.timeout(timeout) as deadline:
                    if waiting := uploads.waiting_for_dependencies(current):
                        report("waiting", waiting)
                    async for event in changes:
                        obj = event.object
                        if obj.get("metadata", {}).get("name") != name or _plural_of(obj.get("kind", "")) != plural:
                            continue
                        if event.type == "DELETED":
                            raise NotFound(f"{name} was deleted before its upload")
                        offer = uploads.upload_offer(obj, request_id)
                        if offer is not None:
                            break
                        if refused := uploads.upload_refused(obj):
                            report("failed", refused)
                            raise BadRequest(f"the upload of {name} was refused: {refused}")
                        if waiting := uploads.waiting_for_dependencies(obj):
                            # The operator is there and offers the URL once the base model and
                            # dataset are ready: that wait is not the operator's absence.
                            deadline.reschedule(loop.time() + timeout)
                            if waiting != state.message:
                                report("waiting", waiting)
        except TimeoutError:
            report("failed", "no signed upload URL from the operator")
            raise Unavailable(
                f"no signed upload URL for {name} within {timeout:.0f} s: is the operator running?"
            ) from None
        finally:
            await changes.aclose()
        if offer is None:
            report("failed", "the changes ended before the operator offered an upload URL")
            raise Unavailable(f"no signed upload URL for {name}: the changes ended before the operator offered one")
        if offer.get("storedMD5Checksum") == md5_hex:
            state.sent = state.total
            report("skipped", "this content was uploaded before")
            return state
        if not offer.get("signedURL"):
            report("failed", "the operator stored other content and offered no URL")
            raise Conflict(f"{name}: the operator stored content {offer.get('storedMD5Checksum')}, not {md5_hex}")
        report("uploading", f"uploading {len(data)} bytes")
        try:
            await uploads.put(offer["signedURL"], data, md5_hex, state, progress, timeout)
        except BackendError as e:
            report("failed", e.message)
            raise
        state.sent = state.total
        report("done", "uploaded")
        return state

    async def close(self) -> None:
        self._closed = True
        for cache in self._caches.values():
            cache.close()
        self._caches.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, self._api_client.close)


class _KubeconfigTLSContext(ssl.SSLContext):
    """An SSLContext that sends and verifies `server_name` (the kubeconfig's tls-server-name)
    instead of the host of the URL, as the kube client's urllib3 `server_hostname` does. Every
    TLS connection goes through wrap_socket or wrap_bio, so any client that takes an SSLContext
    (httpx, openai's) honours it."""

    server_name: str | None = None

    def wrap_socket(self, sock, *args, server_hostname=None, **kwargs):
        return super().wrap_socket(sock, *args, server_hostname=self.server_name or server_hostname, **kwargs)

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
        return super().wrap_bio(incoming, outgoing, server_side, self.server_name or server_hostname, session)


def tls_context(configuration) -> ssl.SSLContext | bool:
    """The kube client's TLS settings as an SSLContext, as its urllib3 pool applies them: the CA
    (certificate-authority, -data) or the system's, insecure-skip-tls-verify, tls-server-name,
    and the client certificate, which is sent whether or not the server is verified."""
    if not configuration.host.startswith("https:"):
        return True
    context = _KubeconfigTLSContext(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = configuration.tls_server_name or None
    if not configuration.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif configuration.ssl_ca_cert or configuration.ca_cert_data:
        context.load_verify_locations(cafile=configuration.ssl_ca_cert, cadata=configuration.ca_cert_data)
    else:
        context.load_default_certs()
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    return context


class _NamespaceCache:
    """The four kinds of one namespace, kept current by one watch thread per kind.

    `objects` is touched on the event loop only; the watch threads hand over events with
    call_soon_threadsafe.
    """

    def __init__(self, backend: KubernetesBackend, namespace: str):
        self.backend = backend
        self.namespace = namespace
        self.objects: dict[str, dict[str, Manifest]] = {plural: {} for plural in KINDS_BY_PLURAL}
        self.subscribers: set[asyncio.Queue] = set()
        self.loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._answered = {plural: asyncio.Event() for plural in KINDS_BY_PLURAL}  # listed, or refused
        self._refusals: dict[str, str] = {}  # why a kind's list was refused, until it is listed again
        self._errors: dict[str, BaseException] = {}
        self._responses: set = set()  # the open watch responses, shut down on close
        self._threads = [
            threading.Thread(
                target=self._run, args=(plural,), daemon=True, name=f"substratus-watch-{namespace}-{plural}"
            )
            for plural in KINDS_BY_PLURAL
        ]
        for thread in self._threads:
            thread.start()

    async def synced(self, timeout: float = 30.0) -> None:
        """Returns once each kind is listed; raises a lasting refusal (at the start, or since:
        then the cache is stale) as soon as every kind is listed or refused, and Unavailable with
        the last error after `timeout`."""
        waits = [event.wait() for event in self._answered.values()]
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        except TimeoutError:
            raise Unavailable(
                f"cannot list resources in namespace {self.namespace!r}: "
                f"{next(iter(self._errors.values()), 'timed out')}"
            ) from None
        if refusals := [self._refusals[plural] for plural in KINDS_BY_PLURAL if plural in self._refusals]:
            raise Unavailable(refusals[0])  # in the kinds' order: the same message whichever watch failed first

    def close(self) -> None:
        self._stop.set()
        for response in list(self._responses):
            try:
                response.shutdown()  # unblocks the watch thread's read
            except Exception:  # noqa: BLE001 - already closed
                pass
        for queue in self.subscribers:
            queue.put_nowait(None)

    # --- on the loop --------------------------------------------------------------------------

    def remember(self, plural: str, obj: Manifest) -> Manifest:
        obj.setdefault("apiVersion", API_VERSION)
        obj.setdefault("kind", KINDS_BY_PLURAL[plural].__name__)
        name = obj["metadata"]["name"]
        old = self.objects[plural].get(name)
        newer, older = _version(obj), _version(old) if old else None
        if old is None or newer is None or older is None or newer >= older:
            self.objects[plural][name] = obj
        return obj

    def forget(self, plural: str, name: str) -> None:
        self.objects[plural].pop(name, None)

    def _apply(self, plural: str, kind: str, obj: Manifest) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self.objects[plural].pop(name, None)
        else:
            self.objects[plural][name] = obj
        event = ChangeEvent(kind, obj)
        for queue in self.subscribers:
            queue.put_nowait(event)

    def _replace(self, plural: str, items: list[Manifest]) -> None:
        fresh = {obj["metadata"]["name"]: obj for obj in items}
        old = self.objects[plural]
        for name, obj in old.items():
            if name not in fresh:
                self._apply(plural, "DELETED", obj)
        for name, obj in fresh.items():
            if name not in old:
                self._apply(plural, "ADDED", obj)
            elif old[name].get("metadata", {}).get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._apply(plural, "MODIFIED", obj)
        self.objects[plural] = fresh
        self._refusals.pop(plural, None)
        self._answered[plural].set()

    def _refuse(self, plural: str, refusal: str) -> None:
        self._refusals[plural] = refusal
        self._answered[plural].set()

    # --- in the watch thread ------------------------------------------------------------------

    def _run(self, plural: str) -> None:
        custom = self.backend._custom
        kind = KINDS_BY_PLURAL[plural].__name__
        while not self._stop.is_set():
            try:
                self.backend.auth_headers()
                # the client types its JSON answers as object
                listing = cast(
                    dict[str, Any],
                    custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, _request_timeout=30),
                )
                items = [{"apiVersion": API_VERSION, "kind": kind, **item} for item in listing.get("items", [])]
                version = listing.get("metadata", {}).get("resourceVersion")
                self._errors.pop(plural, None)
                self.loop.call_soon_threadsafe(self._replace, plural, items)
                self._watch(plural, kind, version)
            except Exception as e:  # noqa: BLE001 - a watch must outlive API server hiccups
                if self._stop.is_set():
                    return
                self._errors[plural] = e
                if refusal := self.backend.lasting_refusal(plural, e):
                    self.loop.call_soon_threadsafe(self._refuse, plural, refusal)
                log.debug("watch of %s in %s failed: %s", plural, self.namespace, e)
                self._stop.wait(RETRY_SECONDS)

    def _watch(self, plural: str, kind: str, version: str | None) -> None:
        """Follow one watch until it ends (then the caller lists again) or the cache closes."""
        # unread (_preload_content=False), the client's answer is the urllib3 response it types as object
        response = cast(
            "urllib3.HTTPResponse",
            self.backend._custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                plural,
                watch=True,
                resource_version=version,
                timeout_seconds=WATCH_SECONDS,
                allow_watch_bookmarks=True,
                _preload_content=False,
            ),
        )
        self._responses.add(response)
        try:
            if self._stop.is_set():
                return
            buffer = b""
            for chunk in response.stream(65536, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    event_type, obj = event.get("type"), event.get("object")
                    if event_type == "ERROR":
                        return  # 410 Gone and friends: list again
                    if event_type not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, dict):
                        continue
                    obj.setdefault("apiVersion", API_VERSION)
                    obj.setdefault("kind", kind)
                    self.loop.call_soon_threadsafe(self._apply, plural, event_type, obj)
        finally:
            self._responses.discard(response)
            response.release_conn()
