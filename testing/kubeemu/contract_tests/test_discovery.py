"""Discovery: built-in kinds, and kinds registered by creating a CRD, as clients find them."""

import kubernetes
import pytest

from .conftest import GROUP, VERSION


def get(cluster, path: str) -> dict:
    status, body = cluster.request("GET", path)
    assert status == 200, body
    return body


@pytest.mark.parametrize("path", ["/version", "/version/", "/api", "/api/", "/apis", "/apis/", "/api/v1/"])
def test_root_paths_answer_with_or_without_a_trailing_slash(kube_emulator, path):
    assert get(kube_emulator, path)


def test_a_created_crd_is_discoverable_with_short_names_and_categories(kube_emulator, kube_api_client, widget_crd):
    groups = kubernetes.client.ApisApi(kube_api_client).get_api_versions().groups
    assert GROUP in [g.name for g in groups]
    entries = {r["name"]: r for r in get(kube_emulator, f"/apis/{GROUP}/{VERSION}")["resources"]}
    assert entries["widgets"]["shortNames"] == ["wd"]
    assert entries["widgets"]["categories"] == ["all", "kubeemu"]
    assert entries["widgets"]["namespaced"] is True and entries["widgets"]["kind"] == "Widget"
    assert set(entries["widgets"]["verbs"]) >= {
        "create",
        "get",
        "list",
        "watch",
        "patch",
        "update",
        "delete",
        "deletecollection",
    }
    assert entries["widgets/status"]["verbs"] == ["get", "patch", "update"]


def test_built_in_kinds_are_discoverable(kube_emulator):
    core = {r["name"] for r in get(kube_emulator, "/api/v1")["resources"]}
    assert {
        "namespaces",
        "pods",
        "pods/log",
        "pods/status",
        "services",
        "secrets",
        "configmaps",
        "events",
        "serviceaccounts",
        "persistentvolumeclaims",
    } <= core
    for group_version, plural in [
        ("batch/v1", "jobs"),
        ("apps/v1", "deployments"),
        ("events.k8s.io/v1", "events"),
        ("coordination.k8s.io/v1", "leases"),
        ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
    ]:
        assert plural in {r["name"] for r in get(kube_emulator, f"/apis/{group_version}")["resources"]}


def test_a_created_crd_reports_established(kube_api_client, widget_crd):
    crd = kubernetes.client.ApiextensionsV1Api(kube_api_client).read_custom_resource_definition(
        widget_crd["metadata"]["name"]
    )
    conditions = {c.type: c.status for c in crd.status.conditions}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    # CEL rules are kept in the stored CRD, though the emulator does not evaluate them.
    assert crd.spec.versions[0].var_schema.open_apiv3_schema.properties["spec"].x_kubernetes_validations
