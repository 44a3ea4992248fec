"""The emulator's state: objects with the API server's write semantics, and their watch events.

Everything here runs on the emulator's event loop and never awaits, so a write, its event and
the delivery of that event to every watcher happen in one step: a watch that takes a snapshot
and subscribes in one call cannot miss an event.

Semantics kept from the real API server:

- uid, creationTimestamp, generation and a cluster-wide monotonic resourceVersion are set by the
  server; writes that change nothing keep the resourceVersion and send no event;
- generation moves when anything but metadata (and status, where status is a subresource) changes;
- optimistic concurrency: a stale metadata.resourceVersion in a PUT or a patch answers 409;
- status apart from the rest where the kind has the status subresource;
- finalizers: DELETE sets deletionTimestamp and keeps the object until they are emptied;
- garbage collection of dependents by ownerReferences (Background, Foreground, Orphan), deleting
  a namespace deletes its content, deleting a CRD deletes its custom resources;
- a bounded event history: watching from an older resourceVersion answers 410 Gone.

A body handed to a write becomes the store's: callers pass parsed JSON or a copy of their own
(the HTTP layer, the harness), so a write copies only what it must not change in place.

Not emulated: no controllers (Jobs run no pods, Deployments make no ReplicaSets, pods are never
scheduled and stay Pending until a test sets their status), no graceful pod termination (pods
go at once), no admission webhooks, no RBAC.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import datetime
import itertools
import json
import random
import uuid
from typing import Any

from kubeemu import admission, errors, patches, selectors
from kubeemu.jsoncopy import copy_json
from kubeemu.kinds import Registry, ResourceKind, kinds_from_crd

NAMESPACES = ("", "namespaces")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
Storage = tuple[str, str]
Key = tuple[str, str]  # (namespace or "" for cluster-scoped, name)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Event:
    type: str  # ADDED, MODIFIED, DELETED
    storage: Storage
    obj: dict[str, Any]
    old: dict[str, Any] | None
    rv: int


class Watcher:
    """One watch request: its filters, and the queue its events go to (None ends it)."""

    def __init__(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str | None,
        labels: selectors.Matcher,
        fields: selectors.Matcher,
    ) -> None:
        self.kind, self.namespace, self.name = kind, namespace, name
        self.labels, self.fields = labels, fields
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    def matches(self, obj: dict[str, Any]) -> bool:
        meta = obj["metadata"]
        return (
            (self.namespace is None or meta.get("namespace") == self.namespace)
            and (self.name is None or meta["name"] == self.name)
            and self.labels(obj)
            and self.fields(obj)
        )

    def translate(self, event: Event) -> tuple[str, dict[str, Any]] | None:
        """The event as this watcher sees it: objects leaving or entering its selection are
        DELETED or ADDED for it, like the real watch cache does."""
        if event.storage != self.kind.storage:
            return None
        now_in = self.matches(event.obj)
        was_in = event.old is not None and self.matches(event.old)
        if event.type == "MODIFIED" and now_in != was_in:
            return ("ADDED" if now_in else "DELETED"), event.obj
        return (event.type, event.obj) if now_in else None

    def offer(self, event: Event) -> None:
        translated = self.translate(event)
        if translated is not None:
            self.queue.put_nowait(translated)


class Store:
    def __init__(self, registry: Registry, history_limit: int = 10_000) -> None:
        self.registry = registry
        self.history_limit = history_limit
        self.pod_logs: dict[Key, str] = {}
        self.pod_ports: dict[Key, tuple[str, int]] = {}  # where pods/portforward relays to
        self._objects: dict[Storage, dict[Key, dict[str, Any]]] = collections.defaultdict(dict)
        self._uids: dict[str, tuple[Storage, Key]] = {}
        self._rv = 0
        self._history: collections.deque[Event] = collections.deque()
        self._history_floor = 0  # every event after this resourceVersion is still in the history
        self._watchers: set[Watcher] = set()
        self._gc_scheduled = False
        self._gc_full = False  # the next pass looks at every object, not only at new dependents
        self._gc_new: set[tuple[Storage, Key]] = set()
        self._draining: set[tuple[Storage, str]] = set()  # namespaces and CRDs being emptied right now
        self._ips = itertools.count(1)
        for name in INITIAL_NAMESPACES:
            self.create(self.registry.lookup("", "v1", "namespaces"), None, {"metadata": {"name": name}})

    # --- reading ---------------------------------------------------------------------------

    def get(self, kind: ResourceKind, namespace: str | None, name: str) -> dict[str, Any]:
        return self._present(kind, self._existing(kind, namespace, name))

    def list(
        self,
        kind: ResourceKind,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        matches = self._matcher(kind, namespace, None, label_selector, field_selector)
        objects = self._objects[kind.storage]
        keys = sorted(k for k, obj in objects.items() if matches(obj))
        metadata: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if continue_token:
            try:
                start = tuple(json.loads(base64.urlsafe_b64decode(continue_token))["start"])
            except (ValueError, KeyError, TypeError) as e:
                raise errors.bad_request(f"continue key is not valid: {e}") from e
            keys = [k for k in keys if k > start]
        if limit and len(keys) > limit:
            metadata["remainingItemCount"] = len(keys) - limit
            keys = keys[:limit]
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps({"start": keys[-1]}).encode()).decode()
        # Typed (built-in) lists carry no apiVersion/kind in their items; custom resource lists do.
        items = [self._present(kind, objects[k]) for k in keys]
        if kind.crd is None:
            items = [{k: v for k, v in item.items() if k not in ("apiVersion", "kind")} for item in items]
        return {"apiVersion": kind.api_version, "kind": f"{kind.kind}List", "metadata": metadata, "items": items}

    # --- watching --------------------------------------------------------------------------

    def watch(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str | None,
        label_selector: str | None,
        field_selector: str | None,
        resource_version: str | None,
        send_initial_events: bool = False,
    ) -> tuple[list[tuple[str, dict[str, Any]]], Watcher]:
        """The events to send first, and a subscribed watcher for what follows: in one step."""
        watcher = Watcher(
            kind,
            namespace,
            name,
            selectors.label_matcher(label_selector),
            selectors.field_matcher(field_selector, kind.selectable_fields),
        )
        if resource_version in (None, "", "0") or send_initial_events:
            first = [
                ("ADDED", self._present(kind, obj))
                for _, obj in sorted(self._objects[kind.storage].items())
                if watcher.matches(obj)
            ]
            if send_initial_events:
                first.append(("BOOKMARK", self._bookmark(kind, initial_events_end=True)))
        else:
            try:
                since = int(resource_version)
            except ValueError as e:
                raise errors.bad_request(f'resourceVersion: Invalid value: "{resource_version}"') from e
            if since < self._history_floor:
                raise errors.expired(f"too old resource version: {since} ({self._history_floor + 1})")
            first = [t for e in self._history if e.rv > since and (t := watcher.translate(e)) is not None]
            first = [(t, self._present(kind, obj)) for t, obj in first]
        self._watchers.add(watcher)
        return first, watcher

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def close_watches(self) -> None:
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
        self._watchers.clear()

    def _bookmark(self, kind: ResourceKind, initial_events_end: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}

    # --- writing ---------------------------------------------------------------------------

    def create(
        self,
        kind: ResourceKind,
        namespace: str | None,
        body: dict[str, Any],
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        decoded = admission.prepare(kind, self._typed(kind, body), field_validation)
        obj, warnings = decoded.obj, decoded.warnings
        meta = obj.setdefault("metadata", {})
        namespace = self._namespace_for(kind, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            suffix = "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
            meta["name"] = meta["generateName"] + suffix
        key = (namespace or "", meta.get("name", ""))
        if kind.namespaced:
            self._check_namespace_open(kind, namespace, meta.get("name", ""))
        if key in self._objects[kind.storage]:
            raise errors.already_exists(kind.group, kind.plural, key[1])
        for field in (
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(field, None)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if kind.status_apart:
            obj.pop("status", None)
        ip = next(self._ips)
        admission.default_on_create(kind, obj, f"10.96.{ip // 250}.{ip % 250 + 1}")
        admission.normalize(kind, obj)
        admission.validate(kind, decoded, None)
        if kind.storage == CRDS:
            obj["status"] = admission.crd_status(obj, meta["creationTimestamp"])
        if dry_run:
            return self._present(kind, obj), warnings
        self._commit(kind.storage, key, obj, None)
        if kind.storage == CRDS:
            self._register_crd(obj)
        if meta.get("ownerReferences"):
            self._schedule_gc(only=(kind.storage, key))
        return self._present(kind, obj), warnings

    def replace(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> tuple[dict[str, Any], list[str]]:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        old = self._existing(kind, namespace, name)
        body_name = body.get("metadata", {}).get("name")
        if body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        rv = body.get("metadata", {}).get("resourceVersion")
        if not rv and kind.crd is not None:
            raise errors.unprocessable(
                kind.group,
                kind.kind,
                name,
                [errors.invalid("metadata.resourceVersion", 0, "must be specified for an update")],
            )
        return self._update(kind, old, self._typed(kind, body), subresource, dry_run, field_validation)

    def patch(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Warn",
        field_manager: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        if patch_type == patches.APPLY_PATCH:
            if not field_manager:
                raise errors.unprocessable(
                    "meta.k8s.io", "PatchOptions", "", [errors.required("fieldManager", "is required for apply patch")]
                )
            if (namespace or "", name) not in self._objects[kind.storage] and subresource is None:
                body = copy_json(patch)
                body.setdefault("metadata", {}).setdefault("name", name)
                return self.create(kind, namespace, body, dry_run, field_validation)
        old = self._existing(kind, namespace, name)
        patched = patches.apply(patch_type, self._present(kind, old), patch)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object must be a JSON object")
        return self._update(kind, old, patched, subresource, dry_run, field_validation)

    def delete(
        self, kind: ResourceKind, namespace: str | None, name: str, options: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        options = options or {}
        obj = self._existing(kind, namespace, name)
        if kind.storage == NAMESPACES and name in INITIAL_NAMESPACES[:3]:
            raise errors.forbidden_request("", "namespaces", name, "this namespace may not be deleted")
        meta = obj["metadata"]
        preconditions = options.get("preconditions") or {}
        for field in ("uid", "resourceVersion"):
            if preconditions.get(field) and preconditions[field] != meta.get(field):
                raise errors.conflict(
                    kind.group,
                    kind.plural,
                    name,
                    f"Precondition failed: {field} in precondition: {preconditions[field]}, "
                    f"{field} in object meta: {meta.get(field)}",
                )
        policy = options.get("propagationPolicy") or (
            "Orphan" if options.get("orphanDependents") else kind.default_propagation
        )
        if policy not in ("Orphan", "Background", "Foreground"):
            raise errors.unprocessable(
                "meta.k8s.io",
                "DeleteOptions",
                "",
                [errors.not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan"])],
            )
        if options.get("dryRun"):
            return self._present(kind, obj)
        return self._present(kind, self._delete(kind.storage, (namespace or "", name), policy))

    def delete_collection(
        self,
        kind: ResourceKind,
        namespace: str | None,
        label_selector: str | None,
        field_selector: str | None,
        options: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        listed = self.list(kind, namespace, label_selector, field_selector)
        deleted = [
            self.delete(kind, item["metadata"].get("namespace"), item["metadata"]["name"], options)
            for item in listed["items"]
        ]
        return {**listed, "items": deleted}

    # --- internals -------------------------------------------------------------------------

    def _present(self, kind: ResourceKind, obj: dict[str, Any]) -> dict[str, Any]:
        """The stored object as served under `kind`'s version (stored objects are never mutated)."""
        if obj.get("apiVersion") == kind.api_version:
            return obj
        return {**obj, "apiVersion": kind.api_version}

    def _typed(self, kind: ResourceKind, body: dict[str, Any]) -> dict[str, Any]:
        api_version, body_kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version.rpartition("/")[0] != kind.group:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({kind.api_version})"
            )
        if body_kind and body_kind != kind.kind:
            raise errors.bad_request(
                f"the kind in the data ({body_kind}) does not match the expected kind ({kind.kind})"
            )
        rest = {k: v for k, v in body.items() if k not in ("apiVersion", "kind")}
        return {"apiVersion": kind.api_version, "kind": kind.kind, **rest}

    def _namespace_for(self, kind: ResourceKind, namespace: str | None, meta: dict[str, Any]) -> str | None:
        if not kind.namespaced:
            meta.pop("namespace", None)
            return None
        if namespace is None:
            raise errors.resource_not_found()
        if meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
        return namespace

    def _check_namespace_open(self, kind: ResourceKind, namespace: str | None, name: str) -> None:
        ns = self._objects[NAMESPACES].get(("", namespace or ""))
        if ns is None:
            raise errors.not_found("", "namespaces", namespace or "")
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden_request(
                kind.group,
                kind.plural,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
            )

    def _existing(self, kind: ResourceKind, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._objects[kind.storage].get((namespace or "", name))
        if obj is None:
            raise errors.not_found(kind.group, kind.plural, name)
        return obj

    def _matcher(
        self,
        kind: ResourceKind,
        namespace: str | None,
        name: str | None,
        label_selector: str | None,
        field_selector: str | None,
    ) -> selectors.Matcher:
        return Watcher(
            kind,
            namespace,
            name,
            selectors.label_matcher(label_selector),
            selectors.field_matcher(field_selector, kind.selectable_fields),
        ).matches

    def _update(
        self,
        kind: ResourceKind,
        old: dict[str, Any],
        candidate: dict[str, Any],
        subresource: str | None,
        dry_run: bool,
        field_validation: str,
    ) -> tuple[dict[str, Any], list[str]]:
        old_meta, name = old["metadata"], old["metadata"]["name"]
        wanted_rv = (candidate.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != old_meta["resourceVersion"]:
            raise errors.conflict(kind.group, kind.plural, name)
        if subresource == "status":
            # The stored object's parts, but its own metadata (its resourceVersion is set below).
            new = {k: v for k, v in old.items() if k != "status"} | {"metadata": dict(old_meta)}
            if "status" in candidate:
                new["status"] = candidate["status"]
            decoded = admission.prepare(kind, new, field_validation)
            new, warnings = decoded.obj, decoded.warnings
        else:
            decoded = admission.prepare(kind, candidate, field_validation)
            new, warnings = decoded.obj, decoded.warnings
            new_meta = new.setdefault("metadata", {})
            for field in (
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if field in old_meta:
                    new_meta[field] = old_meta[field]
                else:
                    new_meta.pop(field, None)
            if kind.status_apart:
                if "status" in new:
                    decoded.schema_errors = None  # what was checked is replaced by the stored status
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy_json(old["status"])
            added = [f for f in new_meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
            if old_meta.get("deletionTimestamp") and added:
                raise errors.unprocessable(
                    kind.group,
                    kind.kind,
                    name,
                    [
                        errors.forbidden(
                            "metadata.finalizers",
                            "no new finalizers can be added if the object is being deleted, found "
                            f"new finalizers {json.dumps(added)}",
                        )
                    ],
                )
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        admission.normalize(kind, new)
        admission.validate(kind, decoded, old)
        if new == old:
            return self._present(kind, old), warnings
        if self._spec_of(kind, new) != self._spec_of(kind, old):
            new["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        if dry_run:
            return self._present(kind, new), warnings
        key = (old_meta.get("namespace") or "", name)
        self._commit(kind.storage, key, new, old)
        if kind.storage == CRDS:
            self._register_crd(new)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self._present(kind, self._remove(kind.storage, key)), warnings
        if new["metadata"].get("ownerReferences") != old_meta.get("ownerReferences"):
            self._schedule_gc()
        return self._present(kind, new), warnings

    @staticmethod
    def _spec_of(kind: ResourceKind, obj: dict[str, Any]) -> dict[str, Any]:
        """What moves the generation: everything but metadata (and status, if it is a subresource)."""
        skipped = {"metadata", "status"} if kind.status_apart else {"metadata"}
        return {k: v for k, v in obj.items() if k not in skipped}

    def _commit(self, storage: Storage, key: Key, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._objects[storage][key] = obj
        self._uids[obj["metadata"]["uid"]] = (storage, key)
        self._emit(Event("ADDED" if old is None else "MODIFIED", storage, obj, old, self._rv))

    def _emit(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self.history_limit:
            self._history_floor = self._history.popleft().rv
        for watcher in self._watchers:
            watcher.offer(event)

    def _modify(self, storage: Storage, key: Key, change: dict[str, Any]) -> dict[str, Any]:
        """A server-side change of metadata/status (no admission): deletion marks, GC, controllers."""
        old = self._objects[storage][key]
        new = {**old, **change}
        self._commit(storage, key, new, old)
        return new

    def _delete(self, storage: Storage, key: Key, policy: str) -> dict[str, Any]:
        obj = self._objects[storage][key]
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            return obj
        if policy == "Orphan":
            self._orphan(meta["uid"])
        finalizers = list(meta.get("finalizers") or [])
        dependents = self._dependents(meta["uid"])
        if policy == "Foreground" and dependents:
            finalizers.append("foregroundDeletion")
        if storage == NAMESPACES and any(k[0] == key[1] for objs in self._objects.values() for k in objs):
            obj = self._modify(
                storage,
                key,
                {
                    "metadata": {**meta, "deletionTimestamp": now(), "deletionGracePeriodSeconds": 0},
                    "status": {**obj.get("status", {}), "phase": "Terminating"},
                },
            )
            self._drain_namespace(key[1])
            return self._objects[storage].get(key, obj)
        if not finalizers:
            return self._remove(storage, key)
        obj = self._modify(
            storage,
            key,
            {
                "metadata": {
                    **meta,
                    "finalizers": finalizers,
                    "deletionTimestamp": now(),
                    "deletionGracePeriodSeconds": 0,
                    "generation": meta.get("generation", 1) + 1,
                }
            },
        )
        if policy == "Foreground":
            for dependent_storage, dependent_key in dependents:
                self._delete(dependent_storage, dependent_key, "Foreground")
        if storage == CRDS:
            self._drain_crd(obj)
        return self._objects[storage].get(key, obj)

    def _remove(self, storage: Storage, key: Key) -> dict[str, Any]:
        old = self._objects[storage].pop(key)
        del self._uids[old["metadata"]["uid"]]
        self._rv += 1
        gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._rv)}}
        self._emit(Event("DELETED", storage, gone, old, self._rv))
        if storage == ("", "pods"):
            self.pod_logs.pop(key, None)
            self.pod_ports.pop(key, None)
        if storage == CRDS:
            self.registry.remove_crd(key[1])
        self._after_removal(storage, key[0])
        self._schedule_gc()
        return gone

    def _after_removal(self, storage: Storage, namespace: str) -> None:
        """Go on emptying the namespace or the CRD that the removed object was holding back."""
        ns = self._objects[NAMESPACES].get(("", namespace)) if namespace else None
        if ns is not None and ns["metadata"].get("deletionTimestamp"):
            self._drain_namespace(namespace)
        kind = self.registry.for_storage(storage)
        if kind is not None and kind.crd is not None:
            crd = self._objects[CRDS].get(("", kind.crd))
            if crd is not None and crd["metadata"].get("deletionTimestamp"):
                self._drain_crd(crd)

    def _drain_namespace(self, namespace: str) -> None:
        """Delete what the namespace holds; once empty, the namespace goes too."""
        if (NAMESPACES, namespace) in self._draining:
            return
        self._draining.add((NAMESPACES, namespace))
        try:
            content = [(storage, key) for storage, objs in self._objects.items() for key in objs if key[0] == namespace]
            for storage, key in content:
                obj = self._objects[storage].get(key)
                if obj is not None and not obj["metadata"].get("deletionTimestamp"):
                    kind = self.registry.for_storage(storage)
                    self._delete(storage, key, kind.default_propagation if kind else "Background")
        finally:
            self._draining.discard((NAMESPACES, namespace))
        if ("", namespace) in self._objects[NAMESPACES] and not any(
            k[0] == namespace for objs in self._objects.values() for k in objs
        ):
            self._remove(NAMESPACES, ("", namespace))

    def _drain_crd(self, crd: dict[str, Any]) -> None:
        """Delete the custom resources of a CRD being deleted; once none is left, release the CRD."""
        spec = crd["spec"]
        storage = (spec["group"], spec["names"]["plural"])
        if (CRDS, crd["metadata"]["name"]) in self._draining:
            return
        self._draining.add((CRDS, crd["metadata"]["name"]))
        try:
            for key, obj in list(self._objects[storage].items()):
                if key in self._objects[storage] and not obj["metadata"].get("deletionTimestamp"):
                    self._delete(storage, key, "Background")
        finally:
            self._draining.discard((CRDS, crd["metadata"]["name"]))
        key = ("", crd["metadata"]["name"])
        if not self._objects[storage] and key in self._objects[CRDS]:
            current = self._objects[CRDS][key]["metadata"]
            finalizers = [f for f in current.get("finalizers", []) if f != admission.CRD_CLEANUP_FINALIZER]
            self._modify(CRDS, key, {"metadata": {**current, "finalizers": finalizers}})
            if not finalizers:
                self._remove(CRDS, key)

    def _register_crd(self, crd: dict[str, Any]) -> None:
        self.registry.remove_crd(crd["metadata"]["name"])
        for kind in kinds_from_crd(crd):
            self.registry.add(kind)

    # --- garbage collection ----------------------------------------------------------------

    def _dependents(self, uid: str) -> list[tuple[Storage, Key]]:
        return [
            (storage, key)
            for storage, objs in self._objects.items()
            for key, obj in objs.items()
            if any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])
        ]

    def _orphan(self, uid: str) -> None:
        for storage, key in self._dependents(uid):
            meta = self._objects[storage][key]["metadata"]
            kept = [r for r in meta["ownerReferences"] if r.get("uid") != uid]
            self._modify(storage, key, {"metadata": {**meta, "ownerReferences": kept}})

    def _schedule_gc(self, only: tuple[Storage, Key] | None = None) -> None:
        """A garbage collector pass soon; `only`: a new dependent, the one object it can concern
        (its owners gone already), so that a create does not cost a pass over every object."""
        if only is None:
            self._gc_full = True
        else:
            self._gc_new.add(only)
        if self._gc_scheduled:
            return
        self._gc_scheduled = True
        try:
            asyncio.get_running_loop().call_soon(self._gc_pass)
        except RuntimeError:  # outside an event loop (a Store used directly): collect at once
            self._gc_pass()

    def _gc_pass(self) -> None:
        if self._gc_full:
            self.collect_garbage()
            return
        # Only new dependents since the last pass: a new reference keeps an owner in foreground
        # deletion waiting, it never releases one; only their own owners matter.
        self._gc_scheduled = False
        new, self._gc_new = self._gc_new, set()
        for storage, key in new:
            obj = self._objects[storage].get(key)
            if obj is None or obj["metadata"].get("deletionTimestamp"):
                continue
            references = obj["metadata"].get("ownerReferences") or []
            alive = [r for r in references if r.get("uid") in self._uids]
            if not alive:
                self._delete(storage, key, "Background")
            elif len(alive) < len(references):
                self._modify(storage, key, {"metadata": {**obj["metadata"], "ownerReferences": alive}})

    def collect_garbage(self) -> None:
        """One pass of the garbage collector: dependents whose owners are all gone are deleted,
        references to gone owners are dropped, owners waiting in foreground deletion are released."""
        self._gc_scheduled = self._gc_full = False
        self._gc_new.clear()
        referenced: set[str] = set()
        for storage, objs in list(self._objects.items()):
            for key, obj in list(objs.items()):
                references = obj["metadata"].get("ownerReferences") or []
                if not references or obj["metadata"].get("deletionTimestamp"):
                    referenced.update(r.get("uid") for r in references)
                    continue
                alive = [r for r in references if r.get("uid") in self._uids]
                if not alive:
                    self._delete(storage, key, "Background")
                elif len(alive) < len(references):
                    self._modify(storage, key, {"metadata": {**obj["metadata"], "ownerReferences": alive}})
                referenced.update(r.get("uid") for r in alive)
        for storage, objs in list(self._objects.items()):
            for key, obj in list(objs.items()):
                meta = obj["metadata"]
                if "foregroundDeletion" in (meta.get("finalizers") or []) and meta["uid"] not in referenced:
                    finalizers = [f for f in meta["finalizers"] if f != "foregroundDeletion"]
                    self._modify(storage, key, {"metadata": {**meta, "finalizers": finalizers}})
                    if not finalizers:
                        self._remove(storage, key)

    # --- for tests acting as controllers ---------------------------------------------------

    def reset(self) -> None:
        """Remove every object but the CRDs and the initial namespaces at once, finalizers or not
        (watchers see them DELETED)."""
        for storage, objs in list(self._objects.items()):
            for key in list(objs):
                if storage != CRDS and not (storage == NAMESPACES and key[1] in INITIAL_NAMESPACES):
                    self._remove(storage, key)
        self.pod_logs.clear()
        self.pod_ports.clear()
