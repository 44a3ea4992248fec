"""Deterministic names, labels and owner references of the children, so a restarted operator
finds (adopts) what it created before instead of making a second copy."""

import hashlib
import json

from jupyter_substratus.api import API_VERSION
from jupyter_substratus.api.workloads import child_name  # noqa: F401 - shared with the backends

MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "substratus-operator"
OWNER_KIND = "substratus.ai/owner-kind"
OWNER_NAME = "substratus.ai/owner-name"
ROLE = "substratus.ai/role"
BUILD_TAG = "substratus.ai/build-tag"
SPEC_HASH = "substratus.ai/spec-hash"
PARAMS = "substratus.ai/params"  # on a workload's pods: its params.json (translate.py)
ARTIFACTS_PVC = "substratus-artifacts"


def build_job_name(tag: str) -> str:
    # Named by content, not by owner: equal content in one namespace is built once.
    return child_name("build", tag)


def labels(owner_kind: str, owner_name: str, role: str) -> dict[str, str]:
    return {MANAGED_BY: OPERATOR, OWNER_KIND: owner_kind, OWNER_NAME: owner_name, ROLE: role}


def owner_reference(body) -> dict:
    # No blockOwnerDeletion: it only makes a foreground deletion of the owner wait for the
    # child, and setting it needs `update` on <kind>/finalizers where the
    # OwnerReferencesPermissionEnforcement admission plugin runs (OpenShift's default). The
    # garbage collector removes the children of a deleted owner without it.
    return {
        "apiVersion": API_VERSION,
        "kind": body["kind"],
        "name": body["metadata"]["name"],
        "uid": body["metadata"]["uid"],
        "controller": True,
    }


def spec_hash(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]
