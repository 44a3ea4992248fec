"""Where the operator's tests depend on it, the emulator refuses and rewrites what a real API
server refuses and rewrites: Job status rules, defaults of built-in fields, null pruning in
preserve-unknown fields, and the wording of its errors."""

import pytest
from kubeemu.errors import ApiError

from .conftest import widget

TEMPLATE = {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}


def _job(cluster, namespace: str, name: str = "j") -> dict:
    return cluster.create(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {"template": TEMPLATE}}, namespace
    )


def _refused(write) -> str:
    with pytest.raises(ApiError) as raised:
        write()
    assert raised.value.status == 422
    return raised.value.body()["message"]


STAMP = "2026-01-01T00:00:00Z"
MET = {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached", "message": ""}
COMPLETE = {**MET, "type": "Complete"}


@pytest.mark.parametrize(
    "status, message",
    [
        (
            {"startTime": STAMP, "completionTime": STAMP, "conditions": [COMPLETE]},
            "status.conditions: Invalid value: cannot set Complete=True condition without the SuccessCriteriaMet=true "
            "condition",
        ),
        (
            {"startTime": STAMP, "conditions": [MET, COMPLETE]},
            "status.completionTime: Required value: completionTime is required for Complete jobs",
        ),
        (
            {"completionTime": STAMP, "conditions": [MET, COMPLETE]},
            "status.startTime: Required value: startTime is required for finished job",
        ),
        (
            {"startTime": STAMP, "completionTime": STAMP, "active": 1, "conditions": [MET, COMPLETE]},
            "status.active: Invalid value: 1: active>0 is invalid for finished job",
        ),
        (
            {"startTime": STAMP, "conditions": [{**MET, "type": "Failed"}]},
            "status.conditions: Invalid value: "
            "cannot set Failed=True condition without the FailureTarget=true condition",
        ),
        (
            {"startTime": STAMP, "completionTime": STAMP},
            'status.completionTime: Invalid value: "2026-01-01T00:00:00Z": cannot set completionTime when there is no '
            "Complete=True condition",
        ),
    ],
)
def test_a_job_status_the_job_controller_would_not_write_is_refused(kube_emulator, kube_namespace, status, message):
    _job(kube_emulator, kube_namespace)
    refused = _refused(lambda: kube_emulator.patch_status("jobs.batch", "j", status, kube_namespace))
    assert refused.startswith('Job.batch "j" is invalid: ')
    assert message in refused


def test_a_job_start_time_is_fixed_once_set(kube_emulator, kube_namespace):
    _job(kube_emulator, kube_namespace)
    kube_emulator.start_job(kube_namespace, "j")
    refused = _refused(
        lambda: kube_emulator.patch_status("jobs.batch", "j", {"startTime": "2030-01-01T00:00:00Z"}, kube_namespace)
    )
    assert "status.startTime: Required value: startTime cannot be removed for unsuspended job" in refused


@pytest.mark.parametrize("outcome", ["complete", "fail"])
def test_the_harness_finishes_jobs_as_the_job_controller_does(kube_emulator, kube_namespace, outcome):
    _job(kube_emulator, kube_namespace)
    started = kube_emulator.start_job(kube_namespace, "j")["status"]["startTime"]
    job = getattr(kube_emulator, f"{outcome}_job")(kube_namespace, "j")
    status = job["status"]
    assert status["startTime"] == started and status["active"] == 0
    types = [c["type"] for c in status["conditions"]]
    assert types == (["SuccessCriteriaMet", "Complete"] if outcome == "complete" else ["FailureTarget", "Failed"])
    assert ("completionTime" in status) == (outcome == "complete")
    refused = _refused(lambda: kube_emulator.patch_status("jobs.batch", "j", {"conditions": []}, kube_namespace))
    assert "cannot disable the terminal" in refused


def test_built_in_fields_are_defaulted_as_a_real_server_does(kube_emulator, kube_namespace):
    container = {
        "name": "c",
        "image": "x",
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
        "volumeMounts": [
            {"name": "v", "mountPath": "/v", "readOnly": False},
            {"name": "w", "mountPath": "/w", "readOnly": True},
        ],
    }
    pod = kube_emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "containers": [container],
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "w", "emptyDir": {}}],
            },
        },
        kube_namespace,
    )
    echoed = pod["spec"]["containers"][0]
    assert echoed["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert echoed["readinessProbe"] == {
        "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert echoed["volumeMounts"] == [
        {"name": "v", "mountPath": "/v"},
        {"name": "w", "mountPath": "/w", "readOnly": True},
    ]
    service = kube_emulator.create(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}},
        kube_namespace,
    )
    assert service["spec"]["ports"][0]["protocol"] == "TCP"


def test_nulls_in_preserve_unknown_fields_are_pruned(kube_emulator, kube_namespace, widget_crd):
    extra = {"a": None, "b": {"c": None, "d": [None, 1]}}
    created = kube_emulator.create(widget("w1", image="x", extra=extra), kube_namespace)
    assert created["spec"]["extra"] == {"b": {"d": [None, 1]}}


def test_a_one_of_error_names_no_field(kube_emulator, kube_namespace, widget_crd):
    refused = _refused(lambda: kube_emulator.create(widget("w2", size="small"), kube_namespace))
    assert '<nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). Found none valid' in refused


def test_a_rule_error_names_the_node_it_is_on(kube_emulator, kube_namespace, widget_crd):
    refused = _refused(lambda: kube_emulator.create(widget("w3", image="forbidden"), kube_namespace))
    assert refused.endswith("spec: Invalid value: \"object\": the image must not be 'forbidden'")
