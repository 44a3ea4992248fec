"""Deletion: finalizers, garbage collection by owner references, namespaces and CRDs."""

import threading
import time

import kubernetes
import pytest
from kubernetes.client import ApiException

from .conftest import GROUP, PLURAL, VERSION, widget

MERGE = "application/merge-patch+json"


def eventually(check, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, ApiException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def gone(read) -> None:
    with pytest.raises(ApiException) as caught:
        read()
    assert caught.value.status == 404


def owner_reference(obj: dict, kind: str = "ConfigMap", api_version: str = "v1") -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": obj.metadata.name, "uid": obj.metadata.uid}


def test_finalizers_hold_the_object_until_they_are_emptied(custom, kube_namespace):
    body = widget("w1")
    body["metadata"]["finalizers"] = ["kubeemu.test/cleanup"]
    custom.create_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, body)
    watched: list[str] = []
    since = custom.list_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL)["metadata"]["resourceVersion"]

    def watch() -> None:
        for event in kubernetes.watch.Watch().stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            kube_namespace,
            PLURAL,
            resource_version=since,
            timeout_seconds=5,
        ):
            watched.append(event["type"])
            if event["type"] == "DELETED":
                return

    thread = threading.Thread(target=watch)
    thread.start()

    deleting = custom.delete_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
    assert deleting["metadata"]["deletionTimestamp"]
    held = custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
    assert held["metadata"]["finalizers"] == ["kubeemu.test/cleanup"]

    with pytest.raises(ApiException) as caught:  # no new finalizers on an object being deleted
        custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            kube_namespace,
            PLURAL,
            "w1",
            {"metadata": {"finalizers": ["kubeemu.test/cleanup", "other/x"]}},
        )
    assert caught.value.status == 422

    custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1", {"metadata": {"finalizers": None}}
    )
    gone(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1"))
    thread.join(timeout=10)
    assert watched == ["MODIFIED", "MODIFIED", "DELETED"]


def test_deleting_an_owner_deletes_its_dependents_recursively(core, kube_namespace):
    root = core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "root"}})
    child = core.create_namespaced_config_map(
        kube_namespace, {"metadata": {"name": "child", "ownerReferences": [owner_reference(root)]}}
    )
    core.create_namespaced_secret(
        kube_namespace, {"metadata": {"name": "grandchild", "ownerReferences": [owner_reference(child)]}}
    )
    core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "bystander"}})

    core.delete_namespaced_config_map("root", kube_namespace)
    eventually(lambda: gone(lambda: core.read_namespaced_secret("grandchild", kube_namespace)))
    gone(lambda: core.read_namespaced_config_map("child", kube_namespace))
    assert core.read_namespaced_config_map("bystander", kube_namespace)


def test_orphan_propagation_keeps_dependents(core, kube_namespace):
    root = core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "root"}})
    core.create_namespaced_config_map(
        kube_namespace, {"metadata": {"name": "child", "ownerReferences": [owner_reference(root)]}}
    )
    core.delete_namespaced_config_map("root", kube_namespace, propagation_policy="Orphan")
    time.sleep(0.05)
    assert not core.read_namespaced_config_map("child", kube_namespace).metadata.owner_references


def test_foreground_deletion_waits_for_dependents(core, kube_namespace):
    root = core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "root"}})
    core.create_namespaced_config_map(
        kube_namespace,
        {
            "metadata": {
                "name": "child",
                "ownerReferences": [owner_reference(root)],
                "finalizers": ["kubeemu.test/hold"],
            }
        },
    )
    core.delete_namespaced_config_map("root", kube_namespace, propagation_policy="Foreground")
    deleting = core.read_namespaced_config_map("root", kube_namespace)
    assert deleting.metadata.deletion_timestamp and deleting.metadata.finalizers == ["foregroundDeletion"]
    core.patch_namespaced_config_map("child", kube_namespace, {"metadata": {"finalizers": None}}, _content_type=MERGE)
    eventually(lambda: gone(lambda: core.read_namespaced_config_map("root", kube_namespace)))


def test_deleting_a_namespace_deletes_its_content(core, custom):
    core.create_namespace({"metadata": {"name": "doomed"}})
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "cm"}})
    custom.create_namespaced_custom_object(
        GROUP, VERSION, "doomed", PLURAL, {**widget("w"), "metadata": {"name": "w", "finalizers": ["x.io/y"]}}
    )
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    gone(lambda: core.read_namespaced_config_map("cm", "doomed"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("doomed", {"metadata": {"name": "late"}})
    assert caught.value.status == 403
    custom.patch_namespaced_custom_object(GROUP, VERSION, "doomed", PLURAL, "w", {"metadata": {"finalizers": None}})
    gone(lambda: core.read_namespace("doomed"))


def test_deleting_a_crd_deletes_its_resources_and_unregisters_it(kube_api_client, core, kube_namespace):
    extensions = kubernetes.client.ApiextensionsV1Api(kube_api_client)
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.kubeemu.test"},
        "spec": {
            "group": "kubeemu.test",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    extensions.create_custom_resource_definition(crd)
    custom.create_namespaced_custom_object(
        "kubeemu.test",
        "v1",
        kube_namespace,
        "gadgets",
        {"apiVersion": "kubeemu.test/v1", "kind": "Gadget", "metadata": {"name": "g"}, "anything": 1},
    )
    extensions.delete_custom_resource_definition("gadgets.kubeemu.test")
    gone(lambda: extensions.read_custom_resource_definition("gadgets.kubeemu.test"))
    gone(lambda: custom.list_namespaced_custom_object("kubeemu.test", "v1", kube_namespace, "gadgets"))
