"""RBAC: what a user may do, decided like the API server's RBAC authorizer from the Roles,
ClusterRoles, RoleBindings and ClusterRoleBindings stored in the emulator.

Users other than the emulator's admin token are service accounts
(`system:serviceaccount:NAMESPACE:NAME`, in the groups `system:serviceaccounts`,
`system:serviceaccounts:NAMESPACE` and `system:authenticated`). Non-resource URLs (discovery,
/version, health) are allowed to every authenticated user, as the default `system:discovery`
binding allows them. Not done: aggregated ClusterRoles, `nonResourceURLs` rules, impersonation.
"""

import dataclasses
from collections.abc import Callable, Iterable
from typing import Any

from kubeemu import errors
from kubeemu.errors import ApiError

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclasses.dataclass(frozen=True)
class Access:
    """One request as the authorizer sees it."""

    verb: str  # get list watch create update patch delete deletecollection
    group: str
    resource: str  # the plural, or "plural/subresource"
    namespace: str | None = None
    name: str | None = None


def service_account(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def _groups(user: str) -> set[str]:
    groups = {"system:authenticated"}
    if user.startswith("system:serviceaccount:"):
        groups |= {"system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"}
    return groups


def _subject_matches(subject: dict[str, Any], user: str) -> bool:
    match subject.get("kind"):
        case "ServiceAccount":
            return user == service_account(subject.get("namespace", ""), subject.get("name", ""))
        case "User":
            return user == subject.get("name")
        case "Group":
            return subject.get("name") in _groups(user)
    return False


def rule_allows(rule: dict[str, Any], access: Access) -> bool:
    def has(field: str, value: str) -> bool:
        listed = rule.get(field) or []
        return "*" in listed or value in listed

    names = rule.get("resourceNames") or []
    return (
        has("verbs", access.verb)
        and has("apiGroups", access.group)
        and has("resources", access.resource)
        and (not names or access.name in names)
    )


def rules_of(
    user: str, namespace: str | None, objects: Callable[[str, str | None], Iterable[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The rules granted to `user` in `namespace` (None: cluster-wide only).

    `objects(plural, namespace)` lists the stored RBAC objects of a kind."""
    cluster_roles = {r["metadata"]["name"]: r for r in objects("clusterroles", None)}
    found: list[dict[str, Any]] = []
    bindings = [(b, None) for b in objects("clusterrolebindings", None)]
    if namespace is not None:
        bindings += [(b, namespace) for b in objects("rolebindings", namespace)]
    for binding, bound_in in bindings:
        if not any(_subject_matches(s, user) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef", {})
        if ref.get("kind") == "ClusterRole":
            role = cluster_roles.get(ref.get("name"))
        else:
            role = next((r for r in objects("roles", bound_in) if r["metadata"]["name"] == ref.get("name")), None)
        found += (role or {}).get("rules") or []
    return found


def forbidden(user: str, access: Access) -> ApiError:
    """403, worded as the API server words it."""
    plural = access.resource.split("/")[0]
    qualified = f"{plural}.{access.group}" if access.group else plural
    what = f'{qualified} "{access.name}"' if access.name else qualified
    where = f'in the namespace "{access.namespace}"' if access.namespace else "at the cluster scope"
    message = (
        f'{what} is forbidden: User "{user}" cannot {access.verb} resource "{access.resource}" '
        f'in API group "{access.group}" {where}'
    )
    details = {"group": access.group, "kind": plural, **({"name": access.name} if access.name else {})}
    return errors.status(403, "Forbidden", message, details)
