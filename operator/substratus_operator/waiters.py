"""Who waits for what: the resources that a Model or Dataset turning ready (or a build Job
finishing) must wake, kept up to date from the resources' own watch events."""

from jupyter_substratus.api import ResourceValidationError, parse
from jupyter_substratus.api import workloads as w

from .workqueue import Cache


def waiting_on(body) -> list[tuple]:
    """(namespace, what, name) of each thing this resource waits for: a Model, a Dataset, or the
    build of its image's content ((namespace, "build", tag))."""
    namespace, spec = body["metadata"]["namespace"], body.get("spec") or {}
    keys = [
        (namespace, kind, (spec.get(field) or {}).get("name"))
        for kind, field in (("Model", "model"), ("Dataset", "dataset"))
        if spec.get(field)
    ]
    if spec.get("build"):
        manifest = {k: body[k] for k in ("apiVersion", "kind", "spec")}
        manifest["metadata"] = {"name": body["metadata"]["name"]}
        try:
            plan = w.build_plan(parse(manifest))
        except ResourceValidationError:
            plan = None  # reported by its reconcile; it waits for nothing
        if plan is not None:
            keys.append((namespace, "build", plan.tag))
    return keys


class Waiters:
    """Who waits for what, from the resources' own events: the other direction of `waiting_on`."""

    def __init__(self):
        self._waiters: dict[tuple, set[tuple]] = {}  # (namespace, what, name) -> {(kind, name)}
        self._keys: dict[tuple, list[tuple]] = {}  # a waiter's cache key -> what it waits for

    def update(self, body, deleted: bool = False) -> None:
        waiter = Cache.key(body)
        for key in self._keys.pop(waiter, ()):
            self._waiters[key].discard((waiter[0], waiter[2]))
            if not self._waiters[key]:
                del self._waiters[key]
        if deleted:
            return
        self._keys[waiter] = keys = waiting_on(body)
        for key in keys:
            self._waiters.setdefault(key, set()).add((waiter[0], waiter[2]))

    def of(self, key: tuple) -> set[tuple]:
        """(kind, name) of every resource waiting for `key`."""
        return set(self._waiters.get(key, ()))
