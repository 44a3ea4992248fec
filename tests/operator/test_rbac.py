"""operator/deploy's RBAC grants every verb the operator uses.

The operator runs against the emulator as its ServiceAccount (the emulator enforces RBAC from
operator/deploy); every request it makes is recorded. The check: each recorded access is
allowed by the ClusterRole, and, since kube.ensure deletes a left-over child of any kind it
creates, each kind it creates may be deleted too.
"""

import copy
import json
import urllib.error
import urllib.request

import pytest
import yaml
from kubeemu import rbac
from kubeemu.harness import KubeCluster

from tests.operator.conftest import (
    GKE_CONFIG,
    PVC_CONFIG,
    RBAC,
    Simulator,
    install_rbac,
    running_operator,
    wait_for,
)
from tests.operator.test_models import manifest, ready, reason
from tests.operator.test_serving import ready_model


def _cluster_role(documents: list[dict]) -> list[dict]:
    return next(d for d in documents if d["kind"] == "ClusterRole")["rules"]


def missing(accesses: list[rbac.Access], rules: list[dict]) -> set[tuple[str, str, str]]:
    """(verb, group, resource) the operator uses that the rules do not grant."""
    needed = {(a.verb, a.group, a.resource) for a in accesses}
    needed |= {
        ("delete", group, resource) for verb, group, resource in needed if verb == "create" and resource != "events"
    }
    return {n for n in needed if not any(rbac.rule_allows(rule, rbac.Access(*n)) for rule in rules)}


def _scenario(cluster: KubeCluster, namespace: str, sim) -> None:
    """Every kind of child, a spec change, a suspend, and a child left by an orphaning delete."""
    with running_operator(cluster, namespace, PVC_CONFIG):
        ready_model(cluster, namespace, sim)
        cluster.create(manifest("Server", "srv", image="server", model={"name": "base"}), namespace)
        sim.ready_deployment("srv-server")
        ready(sim, "servers.substratus.ai", "srv")
        cluster.patch("servers.substratus.ai", "srv", {"spec": {"image": "server:v2"}}, namespace)
        wait_for(
            lambda: (
                sim.get("deployments.apps", "srv-server")["spec"]["template"]["spec"]["containers"][0]["image"]
                == "server:v2"
            ),
            what="the Deployment rolled",
        )
        cluster.create(manifest("Notebook", "nb", image="notebook", model={"name": "base"}), namespace)
        sim.ready_pod("nb-notebook")
        ready(sim, "notebooks.substratus.ai", "nb")
        cluster.patch("notebooks.substratus.ai", "nb", {"spec": {"suspend": True}}, namespace)
        reason(sim, "notebooks.substratus.ai", "nb", "Serving", "Suspended")
        # Deleted with --cascade=orphan and made again: the old Job is the operator's to delete.
        cluster.create(manifest("Model", "again", image="loader"), namespace)
        old = sim.wait("jobs.batch", "again-loader")
        sim.fail_job("again-loader", "boom")
        reason(sim, "models.substratus.ai", "again", "Complete", "JobFailed")
        cluster.delete("models.substratus.ai", "again", namespace, propagation_policy="Orphan")
        cluster.create(manifest("Model", "again", image="loader"), namespace)
        wait_for(
            lambda: (job := sim.get("jobs.batch", "again-loader")) and job["metadata"]["uid"] != old["metadata"]["uid"],
            what="the left-over Job replaced",
        )
    cluster.delete("configmaps", "substratus", namespace)
    with running_operator(cluster, namespace, {**GKE_CONFIG, "KANIKO_IMAGE": "kaniko"}):
        cluster.create(manifest("Model", "built", build={"git": {"url": "https://example.com/repo"}}), namespace)
        sim.wait(
            "jobs.batch",
            next(
                j["metadata"]["name"]
                for j in wait_for(
                    lambda: [
                        j for j in cluster.list("jobs.batch", namespace) if j["metadata"]["name"].startswith("build-")
                    ],
                    what="the build Job",
                )
            ),
        )


@pytest.fixture(scope="module")
def recorded(kube_emulator) -> list[tuple[rbac.Access, bool]]:
    namespace = "rbac-scenario"
    kube_emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    user = rbac.service_account("substratus-system", "substratus-operator")
    before = len(kube_emulator.accesses(user))
    try:
        _scenario(kube_emulator, namespace, Simulator(kube_emulator, namespace))
    finally:
        kube_emulator.delete("namespaces", namespace)
    return kube_emulator.accesses(user)[before:]


def test_the_operator_was_refused_nothing(recorded):
    assert recorded, "the operator made no requests as its ServiceAccount"
    refused = sorted({(a.verb, a.group, a.resource) for a, allowed in recorded if not allowed})
    assert refused == []


def test_the_cluster_role_grants_every_verb_the_operator_uses(recorded):
    rules = _cluster_role([d for d in yaml.safe_load_all(RBAC.read_text()) if d])
    assert missing([a for a, _ in recorded], rules) == set()
    used = {(a.verb, a.resource) for a, _ in recorded}
    assert {
        ("delete", "jobs"),
        ("create", "deployments"),
        ("patch", "deployments"),
        ("create", "secrets"),
        ("delete", "pods"),
        ("patch", "models/status"),
    } <= used


@pytest.mark.parametrize(
    "resource, verb",
    [
        ("jobs", "delete"),
        ("deployments", "patch"),
        ("secrets", "create"),
        ("models/status", "patch"),
        ("jobs", "watch"),
    ],
)
def test_the_check_fails_when_a_verb_is_removed(recorded, resource, verb):
    documents = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    rules = copy.deepcopy(_cluster_role(documents))
    for rule in rules:
        if resource in rule["resources"]:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    assert any(v == verb and r == resource for v, _, r in missing([a for a, _ in recorded], rules))


def test_the_emulator_refuses_a_verb_the_role_lacks(kube_emulator, kube_namespace, tmp_path):
    documents = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    for rule in _cluster_role(documents):
        if "jobs" in rule["resources"]:
            rule["verbs"].remove("delete")
    try:
        user = kube_emulator.service_account_kubeconfig(
            tmp_path / "kubeconfig", *install_rbac(kube_emulator, documents)
        )
        token = yaml.safe_load((tmp_path / "kubeconfig").read_text())["users"][0]["user"]["token"]
        status, body = _as(kube_emulator, token, "DELETE", f"/apis/batch/v1/namespaces/{kube_namespace}/jobs/x")
        assert status == 403
        assert body["message"] == (
            f'jobs.batch "x" is forbidden: User "{user}" cannot delete resource "jobs" in API '
            f'group "batch" in the namespace "{kube_namespace}"'
        )
        status, _ = _as(kube_emulator, token, "GET", f"/apis/batch/v1/namespaces/{kube_namespace}/jobs/x")
        assert status == 404  # allowed, and not there
    finally:
        install_rbac(kube_emulator)


def _as(cluster: KubeCluster, token: str, method: str, path: str):
    request = urllib.request.Request(cluster.url + path, method=method, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
