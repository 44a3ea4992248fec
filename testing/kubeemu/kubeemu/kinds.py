"""The resource kinds the emulator serves: built-in ones, and those that CRDs register.

One `ResourceKind` per served group/version/plural. Versions of one resource share storage
(keyed by group and plural); the emulator does no conversion between versions, it only
rewrites `apiVersion` (a CRD with the `None` conversion strategy behaves the same).
"""

import dataclasses
from collections.abc import Iterator
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# the only subresources served
SUBRESOURCE_VERBS = {
    "status": ("get", "patch", "update"),
    "log": ("get",),
    "portforward": ("create", "get"),
    "proxy": ("create", "delete", "get", "patch", "update"),
}


@dataclasses.dataclass(frozen=True)
class ResourceKind:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    singular: str = ""
    verbs: tuple[str, ...] = VERBS
    schema: dict[str, Any] | None = None  # openAPIV3Schema of a custom resource; None: not validated
    selectable_fields: tuple[str, ...] = ()  # extra field-selector labels (metadata.* are always there)
    default_propagation: str = "Background"  # what a DELETE without propagationPolicy does to dependents
    crd: str | None = None  # the CRD that registered it

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage(self) -> tuple[str, str]:
        return self.group, self.plural

    @property
    def status_apart(self) -> bool:
        """Whether spec and status are written through separate endpoints."""
        return "status" in self.subresources

    @property
    def returns_deleted_object(self) -> bool:
        """Whether a DELETE that removes at once answers the object (else a Success Status)."""
        return self.crd is not None or self.storage in {("", "pods"), ("", "namespaces")}

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def resource_entries(self) -> list[dict[str, Any]]:
        """The APIResource entries of this kind in an APIResourceList (discovery)."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        subs = [
            {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS[sub]),
            }
            for sub in sorted(self.subresources)
        ]
        return [main, *subs]


def _builtin(group: str, version: str, plural: str, kind: str, **extra: Any) -> ResourceKind:
    return ResourceKind(group=group, version=version, plural=plural, kind=kind, **extra)


_STATUS = frozenset({"status"})
_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = tuple(
    f"involvedObject.{f}" for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
) + ("reason", "reportingComponent", "source", "type")

BUILTINS: tuple[ResourceKind, ...] = (
    _builtin(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        subresources=_STATUS,
        selectable_fields=("status.phase",),
        verbs=tuple(v for v in VERBS if v != "deletecollection"),
    ),
    _builtin(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=frozenset({"status", "log", "portforward"}),
        selectable_fields=_POD_FIELDS,
    ),
    _builtin(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        categories=("all",),
        subresources=frozenset({"status", "proxy"}),
        verbs=tuple(v for v in VERBS if v != "deletecollection"),
    ),
    _builtin("", "v1", "endpoints", "Endpoints", short_names=("ep",)),
    _builtin("", "v1", "secrets", "Secret", selectable_fields=("type",)),
    _builtin("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    _builtin("", "v1", "events", "Event", short_names=("ev",), selectable_fields=_EVENT_FIELDS),
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _builtin("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), subresources=_STATUS),
    _builtin("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=_STATUS),
    _builtin("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    # The API's default for Jobs is to orphan their pods (kubectl asks for Background itself).
    _builtin(
        "batch",
        "v1",
        "jobs",
        "Job",
        categories=("all",),
        subresources=_STATUS,
        selectable_fields=("status.successful",),
        default_propagation="Orphan",
    ),
    _builtin("batch", "v1", "cronjobs", "CronJob", short_names=("cj",), categories=("all",), subresources=_STATUS),
    _builtin(
        "apps", "v1", "deployments", "Deployment", short_names=("deploy",), categories=("all",), subresources=_STATUS
    ),
    _builtin("apps", "v1", "replicasets", "ReplicaSet", short_names=("rs",), categories=("all",), subresources=_STATUS),
    _builtin(
        "apps", "v1", "statefulsets", "StatefulSet", short_names=("sts",), categories=("all",), subresources=_STATUS
    ),
    _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
    _builtin("networking.k8s.io", "v1", "ingresses", "Ingress", short_names=("ing",), subresources=_STATUS),
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=_STATUS,
    ),
)


def kinds_from_crd(crd: dict[str, Any]) -> list[ResourceKind]:
    """The kinds a CustomResourceDefinition serves, one per served version."""
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        subresources = frozenset(version.get("subresources") or {})
        result.append(
            ResourceKind(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                subresources=subresources & {"status"},
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                selectable_fields=tuple(f["jsonPath"].lstrip(".") for f in version.get("selectableFields", ())),
                crd=crd["metadata"]["name"],
            )
        )
    return result


class Registry:
    """Lookups of served kinds by URL parts, by group for discovery, and by kubectl-like names."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, str, str], ResourceKind] = {}
        for kind in BUILTINS:
            self.add(kind)

    def add(self, kind: ResourceKind) -> None:
        self._kinds[kind.group, kind.version, kind.plural] = kind

    def remove_crd(self, crd_name: str) -> None:
        for key, kind in list(self._kinds.items()):
            if kind.crd == crd_name:
                del self._kinds[key]

    def lookup(self, group: str, version: str, plural: str) -> ResourceKind | None:
        return self._kinds.get((group, version, plural))

    def __iter__(self) -> Iterator[ResourceKind]:
        return iter(self._kinds.values())

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, the preferred (the storage one, or the first) first."""
        found: list[str] = []
        for kind in self._kinds.values():
            if kind.group == group and kind.version not in found:
                found.append(kind.version)
        return found

    def groups(self) -> list[str]:
        found: list[str] = []
        for kind in self._kinds.values():
            if kind.group and kind.group not in found:
                found.append(kind.group)
        return found

    def in_version(self, group: str, version: str) -> list[ResourceKind]:
        return [k for k in self._kinds.values() if k.group == group and k.version == version]

    def for_storage(self, storage: tuple[str, str]) -> ResourceKind | None:
        return next((k for k in self._kinds.values() if k.storage == storage), None)

    def resolve(self, name: str) -> ResourceKind:
        """A kind by plural, singular, kind, short name, optionally `.group` qualified (like kubectl)."""
        wanted, _, group = name.partition(".")
        for kind in self._kinds.values():
            names = {kind.plural, kind.singular or kind.kind.lower(), kind.kind.lower(), *kind.short_names}
            if wanted.lower() in names and (not group or kind.group == group):
                return kind
        raise LookupError(f"no served resource is called {name!r}")
