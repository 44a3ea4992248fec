"""Fault injection, the in-process helpers for tests acting as controllers, and throughput."""

import statistics
import time

import kmock
import kubernetes
import pytest
from kubeemu.harness import KubeCluster
from kubernetes.client import ApiException

MERGE = "application/merge-patch+json"


def outcomes(core, namespace: str, count: int) -> list[int]:
    codes = []
    for index in range(count):
        try:
            core.create_namespaced_config_map(namespace, {"metadata": {"name": f"cm{index}"}})
            codes.append(201)
        except ApiException as e:
            codes.append(e.status)
    return codes


def test_a_fraction_of_matching_requests_fails_reproducibly(kube_emulator, core, kube_namespace):
    runs = []
    for attempt in range(2):
        namespace = f"{kube_namespace}-{attempt}"
        core.create_namespace({"metadata": {"name": namespace}})
        with kube_emulator.faults.inject(0.3, status=503, methods={"POST"}, path=r"/configmaps", seed=7) as rule:
            runs.append(outcomes(core, namespace, 40))
            core.list_namespaced_config_map(namespace)  # a GET: not matched, never fails
        assert rule.matched == 40 and rule.injected == runs[-1].count(503)
        kube_emulator.delete("namespaces", namespace)
    assert runs[0] == runs[1]
    assert set(runs[0]) == {201, 503} and 5 < runs[0].count(503) < 20


def test_injected_conflicts_look_like_conflicts(kube_emulator, core, kube_namespace):
    core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "cm"}})
    kube_emulator.faults.inject(1.0, status=409, methods={"PATCH"}, limit=1)
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map("cm", kube_namespace, {"data": {"a": "1"}}, _content_type=MERGE)
    assert caught.value.status == 409 and '"reason": "Conflict"' in caught.value.body
    assert core.patch_namespaced_config_map("cm", kube_namespace, {"data": {"a": "1"}}, _content_type=MERGE)


def test_a_test_can_act_as_the_job_controller(kube_emulator, kube_api_client, kube_namespace):
    batch = kubernetes.client.BatchV1Api(kube_api_client)
    batch.create_namespaced_job(
        kube_namespace,
        {
            "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}},
        },
    )
    before = batch.read_namespaced_job("j", kube_namespace)
    kube_emulator.complete_job(kube_namespace, "j")
    job = batch.read_namespaced_job("j", kube_namespace)
    assert job.status.succeeded == 1 and {c.type for c in job.status.conditions} >= {"Complete"}
    assert job.metadata.generation == before.metadata.generation
    batch.create_namespaced_job(
        kube_namespace,
        {
            "metadata": {"name": "k"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}},
        },
    )
    kube_emulator.fail_job(kube_namespace, "k", message="exit code 3")
    failed = {c.type: c for c in batch.read_namespaced_job("k", kube_namespace).status.conditions}
    assert failed["Failed"].status == "True" and failed["Failed"].message == "exit code 3"

    kube_emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": kube_namespace},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
        }
    )
    kube_emulator.set_pod_log(kube_namespace, "p", "line 1\nline 2\nline 3\n")
    core = kubernetes.client.CoreV1Api(kube_api_client)
    assert core.read_namespaced_pod_log("p", kube_namespace) == "line 1\nline 2\nline 3\n"
    assert core.read_namespaced_pod_log("p", kube_namespace, tail_lines=1) == "line 3\n"
    kube_emulator.patch_status("pods", "p", {"phase": "Running"}, kube_namespace)
    assert core.read_namespaced_pod("p", kube_namespace).status.phase == "Running"
    assert kube_emulator.get("po", "p", kube_namespace)["status"]["phase"] == "Running"
    assert [j["metadata"]["name"] for j in kube_emulator.list("jobs.batch", kube_namespace)] == ["j", "k"]


def test_creates_stay_fast_as_requests_accumulate(core, kube_namespace):
    timings = []
    for batch in range(10):
        started = time.perf_counter()
        for index in range(100):
            core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": f"cm{batch}-{index}"}})
        timings.append(time.perf_counter() - started)
    rates = [round(100 / t) for t in timings]
    print(f"creates/s per 100 (1000 creates): {rates}")
    # The request log is trimmed: the last hundreds are about as fast as the first (kmock as shipped: ~10x
    # slower by then). Medians of three, and a wide margin, for a machine shared with other work.
    assert statistics.median(timings[-3:]) < 3 * statistics.median(timings[:3])


def test_kmock_reactions_and_request_log_still_work(tmp_path):
    with KubeCluster(tmp_path / "kubeconfig") as cluster:
        emulator = cluster.emulator
        emulator["get /api/v1/namespaces/default/configmaps/special"] << {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "special"},
            "data": {"from": "a reaction"},
        }
        with kubernetes.config.new_client_from_config(config_file=str(cluster.kubeconfig)) as client:
            core = kubernetes.client.CoreV1Api(client)
            assert core.read_namespaced_config_map("special", "default").data == {"from": "a reaction"}
            with pytest.raises(ApiException):
                core.read_namespaced_config_map("ordinary", "default")
        reads = list(emulator["get", kmock.resource("", "v1", "configmaps")])
        assert [(r.namespace, r.name, r.action) for r in reads] == [
            ("default", "special", kmock.action.FETCH),
            ("default", "ordinary", kmock.action.FETCH),
        ]
