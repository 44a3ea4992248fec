"""The Kubernetes API emulator: kmock's handler, serving a project-owned store over HTTP.

kmock 0.8's `KubernetesEmulator` keeps objects as merged dicts and cannot serve kopf (CONTRIBUTING.md,
"Testing", lists its gaps). This subclass of kmock's `KubernetesScaffold` keeps what kmock
does well: its request objects, the bounded request log that `kube_emulator.emulator[...]`
views and assertions read, and the DSL for reactions a test declares (`emulator['get /x'] <<
b'...'`), which take precedence over the emulation. It replaces the rest: its own path parsing
(kmock's fails on `/api/v1/namespaces`), routing of every verb (PUT and deletecollection
included), discovery of built-in and CRD-registered kinds, watch streams with
resourceVersion/timeoutSeconds, and the `Store` (store.py) with the API server's semantics.

Served: /version, /api, /apis (with or without a trailing slash), /api/v1, /apis/GROUP[/VERSION],
CRUD, list, watch, deletecollection, status subresources, pods/log, pods/portforward, services/proxy
(serviceproxy.py), /healthz, /livez, /readyz.
"""

import asyncio
import contextlib
import dataclasses
import itertools
import json
import logging
import re
from typing import Any

import aiohttp.web
import attrs
import kmock
from multidict import CIMultiDict

from kubeemu import errors, patches, portforward, rbac, serviceproxy
from kubeemu.errors import ApiError
from kubeemu.faults import FaultInjector
from kubeemu.kinds import Registry, ResourceKind
from kubeemu.store import Store

logger = logging.getLogger(__name__)

SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-kubeemu",
    "gitCommit": "",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}
TRUE = ("true", "True", "1")


@dataclasses.dataclass(frozen=True)
class Route:
    group: str
    version: str
    plural: str
    namespace: str | None
    name: str | None
    subresource: str | None


def parse_path(path: str) -> Route | None:
    """The resource a URL addresses; None for the discovery and other non-resource paths."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    # /namespaces/NAME/status is the namespace's subresource, /namespaces/NAME/PLURAL... is in it.
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    return Route(group, version, rest[0], namespace, rest[1] if len(rest) > 1 else None, "/".join(rest[2:]) or None)


def _is_proxy(subresource: str | None) -> bool:
    return subresource is not None and (subresource == "proxy" or subresource.startswith("proxy/"))


def _json(data: Any, status: int = 200, warnings: list[str] = ()) -> aiohttp.web.Response:
    headers = CIMultiDict()
    for warning in warnings:
        headers.add("Warning", f"299 - {json.dumps(warning)}")
    return aiohttp.web.Response(
        body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers
    )


def _number(query: Any, name: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(query[name]) if query.get(name) else None
    except ValueError as e:
        raise errors.bad_request(f"{name}: invalid value {query[name]!r}: {e}") from e


def _line(event_type: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": event_type, "object": obj}).encode() + b"\n"


@attrs.define(kw_only=True)
class KubeEmulator(kmock.KubernetesScaffold):
    token: str | None = None  # when set, requests must carry "Authorization: Bearer TOKEN" (the admin's)
    # Further tokens: token -> user (a service account). Their requests are authorized by RBAC
    # and recorded in `accesses` (user, access, allowed).
    users: dict[str, str] = attrs.field(factory=dict, init=False)
    accesses: list[tuple[str, rbac.Access, bool]] = attrs.field(factory=list, init=False)
    history_limit: int = 10_000  # watch events kept for resuming; older resourceVersions answer 410
    request_log_limit: int = 500  # requests kept for kmock's views, so each request costs the same
    registry: Registry = attrs.field(factory=Registry, init=False)
    store: Store = attrs.field(init=False)
    faults: FaultInjector = attrs.field(factory=FaultInjector, init=False)
    _counter: "itertools.count[int]" = attrs.field(factory=itertools.count, init=False)

    def __attrs_post_init__(self) -> None:
        # kmock's scaffold registers its discovery reactions here; this class routes on its own.
        self.store = Store(self.registry, self.history_limit)

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        route = parse_path(raw.path)
        request = self._record(raw, body, route)
        try:
            if self.token is not None and raw.headers.get("Authorization") != f"Bearer {self.token}":
                user = self.users.get(raw.headers.get("Authorization", "").removeprefix("Bearer "))
                if user is None:
                    raise errors.unauthorized()
                self._authorize(user, raw, route)
            fault = self.faults.pick(raw.method, raw.path_qs)
            if fault is not None:
                raise fault
            if self._payloads:
                with contextlib.suppress(NotImplementedError):
                    return await kmock.RawHandler._handle(self, request)
            return await self._serve(raw, route, body)
        except ApiError as e:
            return _json(e.body(), e.status)
        except Exception as e:
            logger.exception("kubeemu failed to serve %s %s", raw.method, raw.path_qs)
            return await self._render_error(e)

    def _authorize(self, user: str, raw: aiohttp.web.BaseRequest, route: Route | None) -> None:
        if route is None:
            return  # discovery, /version, health: every authenticated user's
        if raw.method == "GET":
            verb = "watch" if raw.query.get("watch") in TRUE else ("list" if route.name is None else "get")
        elif raw.method == "DELETE":
            verb = "delete" if route.name is not None else "deletecollection"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "HEAD": "get"}.get(
                raw.method, raw.method.lower()
            )
        # services/NAME/proxy/PATH is the subresource proxy; the path after it is no part of the resource
        subresource = route.subresource.split("/")[0] if route.subresource else None
        resource = f"{route.plural}/{subresource}" if subresource else route.plural
        access = rbac.Access(verb, route.group, resource, route.namespace, route.name)
        rbac_kind = {
            plural: self.registry.lookup(rbac.RBAC_GROUP, "v1", plural)
            for plural in ("roles", "rolebindings", "clusterroles", "clusterrolebindings")
        }
        rules = rbac.rules_of(user, route.namespace, lambda plural, ns: self.store.list(rbac_kind[plural], ns)["items"])
        allowed = any(rbac.rule_allows(rule, access) for rule in rules)
        self.accesses.append((user, access, allowed))
        if not allowed:
            raise rbac.forbidden(user, access)

    def _record(self, raw: aiohttp.web.BaseRequest, body: bytes, route: Route | None) -> kmock.Request:
        """Log the request the way kmock does, keeping only the latest ones."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        request = kmock.Request(
            id=next(self._counter),
            raw_request=raw,
            url=raw.url,
            method=raw.method,
            params=dict(raw.query),
            headers=dict(raw.headers),
            cookies=dict(raw.cookies),
            body=body,
            text=body.decode("utf-8", "replace"),
            data=data,
            resource=kmock.resource(route.group, route.version, route.plural) if route else None,
            namespace=route.namespace if route else None,
            name=route.name if route else None,
            subresource=route.subresource if route else None,
            action=self._action(raw, route),
        )
        self._requests.append(request)
        if len(self._requests) > 2 * self.request_log_limit:
            del self._requests[: -self.request_log_limit]
        return request

    @staticmethod
    def _action(raw: aiohttp.web.BaseRequest, route: Route | None) -> kmock.action | None:
        if route is None:
            return None
        if raw.method == "GET":
            return (
                kmock.action.WATCH
                if raw.query.get("watch") in TRUE
                else (kmock.action.LIST if route.name is None else kmock.action.FETCH)
            )
        return {
            "POST": kmock.action.CREATE,
            "PUT": kmock.action.UPDATE,
            "PATCH": kmock.action.UPDATE,
            "DELETE": kmock.action.DELETE,
        }.get(raw.method)

    # --- routing ---------------------------------------------------------------------------

    async def _serve(
        self, raw: aiohttp.web.BaseRequest, route: Route | None, body: bytes
    ) -> aiohttp.web.StreamResponse:
        if route is None:
            if raw.method != "GET":
                raise errors.method_not_allowed()
            return self._discovery(raw.path.rstrip("/") or "/")
        kind = self.registry.lookup(route.group, route.version, route.plural)
        if kind is None:
            raise errors.resource_not_found()
        if route.namespace is not None and not kind.namespaced:
            raise errors.resource_not_found()
        if kind.storage == ("", "services") and route.namespace and route.name and _is_proxy(route.subresource):
            return await self._service_proxy(raw, route, body)
        if route.subresource is not None and route.subresource not in kind.subresources:
            raise errors.resource_not_found()
        query = raw.query
        method = raw.method
        if method == "GET" and query.get("watch") in TRUE:
            return await self._watch(raw, kind, route)
        if method == "GET" and route.subresource == "log":
            return self._pod_log(route, query)
        if method == "GET" and route.subresource == "portforward" and route.plural == "pods" and not route.group:
            self.store.get(kind, route.namespace, route.name or "")
            return await portforward.serve(raw, self.store.pod_ports.get((route.namespace or "", route.name or "")))
        if method == "GET" and route.name is None:
            return _json(
                self.store.list(
                    kind,
                    route.namespace,
                    query.get("labelSelector"),
                    query.get("fieldSelector"),
                    _number(query, "limit", int),
                    query.get("continue"),
                )
            )
        if method == "GET":
            return _json(self.store.get(kind, route.namespace, route.name))
        write = {"dry_run": query.get("dryRun") == "All", "field_validation": query.get("fieldValidation", "Warn")}
        if method == "POST" and route.name is None:
            obj, warnings = self.store.create(kind, route.namespace, self._body(body), **write)
            return _json(obj, 201, warnings)
        if method == "PUT" and route.name is not None:
            obj, warnings = self.store.replace(
                kind, route.namespace, route.name, self._body(body), route.subresource, **write
            )
            return _json(obj, 200, warnings)
        if method == "PATCH" and route.name is not None:
            patch_type, patch = patches.parse(raw.headers.get("Content-Type", ""), body, kind.crd is None)
            obj, warnings = self.store.patch(
                kind,
                route.namespace,
                route.name,
                patch_type,
                patch,
                route.subresource,
                field_manager=query.get("fieldManager"),
                **write,
            )
            return _json(obj, 200, warnings)
        if method == "DELETE" and route.subresource is None:
            options = self._body(body) if body else {}
            for param in ("propagationPolicy", "gracePeriodSeconds", "dryRun", "orphanDependents"):
                if param in query:
                    options[param] = query[param]
            if options.get("orphanDependents") in (*TRUE, True):
                options["orphanDependents"] = True
            if route.name is not None:
                deleted = self.store.delete(kind, route.namespace, route.name, options)
                pending = bool(deleted["metadata"].get("deletionTimestamp"))
                return _json(
                    deleted
                    if pending or kind.returns_deleted_object
                    else {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {
                            "name": route.name,
                            "group": kind.group,
                            "kind": kind.plural,
                            "uid": deleted["metadata"]["uid"],
                        },
                    }
                )
            if "deletecollection" in kind.verbs:
                return _json(
                    self.store.delete_collection(
                        kind, route.namespace, query.get("labelSelector"), query.get("fieldSelector"), options
                    )
                )
        raise errors.method_not_allowed()

    async def _service_proxy(
        self, raw: aiohttp.web.BaseRequest, route: Route, body: bytes
    ) -> aiohttp.web.StreamResponse:
        namespace = route.namespace or ""

        def lookup(plural: str, name: str) -> dict[str, Any]:
            return self.store.get(self.registry.lookup("", "v1", plural), namespace, name)

        # The path after /proxy as sent (still percent-encoded): raw.path has it decoded.
        rest = raw.rel_url.raw_path.partition("/services/")[2].partition("/")[2].removeprefix("proxy")
        return await serviceproxy.serve(raw, body, route.name or "", rest, namespace, lookup)

    @staticmethod
    def _body(body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError as e:
            raise errors.bad_request(f"the body of the request is not JSON: {e}") from e

    # --- discovery -------------------------------------------------------------------------

    def _discovery(self, path: str) -> aiohttp.web.Response:
        if path in ("/healthz", "/livez", "/readyz"):
            return aiohttp.web.Response(text="ok")
        if path == "/version":
            return _json(SERVER_VERSION)
        if path == "/":
            paths = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
            for group in self.registry.groups():
                paths += [f"/apis/{group}"] + [f"/apis/{group}/{v}" for v in self.registry.versions(group)]
            return _json({"paths": sorted(paths)})
        if path == "/api":
            return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
        if path == "/apis":
            return _json(
                {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group(g) for g in self.registry.groups()]}
            )
        match = re.fullmatch(r"/api/(?P<version>[^/]+)|/apis/(?P<group>[^/]+)(/(?P<gversion>[^/]+))?", path)
        if match is None:
            raise errors.resource_not_found()
        group = match["group"] or ""
        version = match["version"] or match["gversion"]
        if version is None:
            if not self.registry.versions(group):
                raise errors.resource_not_found()
            return _json({"kind": "APIGroup", "apiVersion": "v1", **self._group(group)})
        kinds = self.registry.in_version(group, version)
        if not kinds:
            raise errors.resource_not_found()
        return _json(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version,
                "resources": [entry for kind in kinds for entry in kind.resource_entries()],
            }
        )

    def _group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in self.registry.versions(group)]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    # --- watching and logs -----------------------------------------------------------------

    async def _watch(
        self, raw: aiohttp.web.BaseRequest, kind: ResourceKind, route: Route
    ) -> aiohttp.web.StreamResponse:
        query = raw.query
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            first, watcher = self.store.watch(
                kind,
                route.namespace,
                route.name,
                query.get("labelSelector"),
                query.get("fieldSelector"),
                query.get("resourceVersion"),
                query.get("sendInitialEvents") in TRUE,
            )
        except ApiError as e:
            if e.status != 410:
                raise
            # Like the real server: the stream starts fine, then its only event is the error.
            await response.prepare(raw)
            await response.write(_line("ERROR", e.body()))
            await response.write_eof()
            return response
        timeout = _number(query, "timeoutSeconds", float)
        deadline = asyncio.get_running_loop().time() + timeout if timeout else None
        try:
            await response.prepare(raw)
            await response.write(b"".join(_line(t, o) for t, o in first))
            async with asyncio.timeout_at(deadline):
                while (item := await watcher.queue.get()) is not None:
                    chunk = [_line(*item)]
                    while not watcher.queue.empty() and (item := watcher.queue.get_nowait()) is not None:
                        chunk.append(_line(*item))
                    await response.write(b"".join(chunk))
                    if item is None:
                        break
        except (TimeoutError, ConnectionResetError):
            pass
        finally:
            self.store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _pod_log(self, route: Route, query: Any) -> aiohttp.web.Response:
        if route.plural != "pods" or route.group:
            raise errors.resource_not_found()
        self.store.get(self.registry.lookup("", "v1", "pods"), route.namespace, route.name or "")
        text = self.store.pod_logs.get((route.namespace or "", route.name or ""), "")
        tail = _number(query, "tailLines", int)
        if tail is not None:
            text = "".join(text.splitlines(keepends=True)[-tail:]) if tail else ""
        return aiohttp.web.Response(text=text, content_type="text/plain")
