"""Watch streams: resuming from a resourceVersion, timeouts, selectors, expiry."""

import json
import threading
import time
import urllib.request

import kubernetes
import pytest
from kubeemu.harness import KubeCluster
from kubernetes.client import ApiException


def stream(cluster, path: str, count: int | None = None) -> list[dict]:
    """The events of a watch, read as raw JSON lines: `count` of them, or all until it ends."""
    request = urllib.request.Request(cluster.url + path, headers={"Authorization": f"Bearer {cluster.token}"})
    events = []
    with urllib.request.urlopen(request, timeout=10) as response:
        while count is None or len(events) < count:
            line = response.readline()
            if not line:
                break
            events.append(json.loads(line))
    return events


def configmap(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}}


def test_watch_from_a_resource_version_loses_no_events(core, kube_namespace):
    since = core.list_namespaced_config_map(kube_namespace).metadata.resource_version
    for index in range(50):  # before the watch starts: replayed from the history
        core.create_namespaced_config_map(kube_namespace, configmap(f"cm{index:03}"))
    seen: list[tuple[str, str]] = []

    def watch() -> None:
        watcher = kubernetes.watch.Watch()
        for event in watcher.stream(
            core.list_namespaced_config_map, kube_namespace, resource_version=since, timeout_seconds=10
        ):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 300:
                watcher.stop()

    thread = threading.Thread(target=watch)
    thread.start()
    for index in range(50, 300):  # while it runs
        core.create_namespaced_config_map(kube_namespace, configmap(f"cm{index:03}"))
    thread.join(timeout=20)
    assert seen == [("ADDED", f"cm{index:03}") for index in range(300)]


def test_watch_replays_every_change_after_the_resource_version(kube_emulator, core, kube_namespace):
    since = core.list_namespaced_config_map(kube_namespace).metadata.resource_version
    core.create_namespaced_config_map(kube_namespace, configmap("a"))
    core.patch_namespaced_config_map("a", kube_namespace, {"data": {"k": "v"}})
    core.delete_namespaced_config_map("a", kube_namespace)
    events = stream(
        kube_emulator,
        f"/api/v1/namespaces/{kube_namespace}/configmaps?watch=true&resourceVersion={since}&timeoutSeconds=5",
        count=3,
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions) and versions[0] > int(since)


def test_watch_without_a_version_starts_with_the_current_objects(kube_emulator, core, kube_namespace):
    core.create_namespaced_config_map(kube_namespace, configmap("a"))
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps?timeoutSeconds=5"
    assert [e["type"] for e in stream(kube_emulator, path + "&watch=1", count=1)] == ["ADDED"]
    initial = stream(
        kube_emulator, path + "&watch=True&sendInitialEvents=true&resourceVersionMatch=NotOlderThan", count=2
    )
    assert [e["type"] for e in initial] == ["ADDED", "BOOKMARK"]
    assert initial[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_ends_after_its_timeout(kube_emulator, kube_namespace):
    started = time.monotonic()
    assert stream(kube_emulator, f"/api/v1/namespaces/{kube_namespace}/pods?watch=true&timeoutSeconds=1") == []
    assert 0.9 < time.monotonic() - started < 5


def test_objects_leaving_a_selection_are_deleted_for_its_watchers(kube_emulator, core, kube_namespace):
    since = core.list_namespaced_config_map(kube_namespace).metadata.resource_version
    core.create_namespaced_config_map(kube_namespace, configmap("a", team="red"))
    core.patch_namespaced_config_map("a", kube_namespace, {"metadata": {"labels": {"team": "blue"}}})
    core.patch_namespaced_config_map("a", kube_namespace, {"metadata": {"labels": {"team": "red"}}})
    events = stream(
        kube_emulator,
        f"/api/v1/namespaces/{kube_namespace}/configmaps?watch=true"
        f"&labelSelector=team%3Dred&resourceVersion={since}&timeoutSeconds=5",
        count=3,
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED", "ADDED"]


def test_too_old_a_resource_version_is_410_gone(tmp_path):
    with KubeCluster(tmp_path / "kubeconfig", history_limit=5) as cluster:
        for index in range(10):
            cluster.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{index}"}}, "default")
        events = stream(cluster, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=3")
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"

        with kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig)) as client:
            core = kubernetes.client.CoreV1Api(client)
            with pytest.raises(ApiException) as caught:
                list(
                    kubernetes.watch.Watch().stream(
                        core.list_namespaced_config_map, "default", resource_version="3", timeout_seconds=1
                    )
                )
            assert caught.value.status == 410
