"""Models and Datasets under the real operator: loader Jobs, fine-tuning, dependency wake-up, failures."""

import time

import kubernetes_validate
import pytest
from kopf._core.engines.activities import ActivityError

from tests.operator.conftest import GKE_CONFIG, running_operator, wait_for


def manifest(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def condition(obj: dict | None, type_: str) -> dict:
    for c in ((obj or {}).get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return c
    return {}


def validate_children(cluster, namespace: str) -> None:
    for resource in (
        "jobs.batch",
        "deployments.apps",
        "services",
        "pods",
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
    ):
        for obj in cluster.list(resource, namespace):
            if obj["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "substratus-operator":
                obj = {k: v for k, v in obj.items() if k != "status"}
                obj["metadata"] = {
                    k: v
                    for k, v in obj["metadata"].items()
                    if k in ("name", "namespace", "labels", "annotations", "ownerReferences")
                }
                kubernetes_validate.validate(obj, "1.37", strict=True)


def test_model_import_runs_a_loader_job_and_becomes_ready(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(
            manifest(
                "Model", "opt-125m", image="substratusai/model-loader-huggingface", params={"name": "facebook/opt-125m"}
            ),
            kube_namespace,
        )
        job = sim.wait("jobs.batch", "opt-125m-loader")
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Model", "opt-125m", True)
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "PARAM_NAME", "value": "facebook/opt-125m"} in container["env"]
        # What the operator decided, read through the server's defaults (readOnly: false is not echoed).
        assert {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]} == {
            "/content/params.json": True,
            "/content/artifacts": False,
        }
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        sim.succeed_job("opt-125m-loader")
        model = wait_for(lambda: (m := sim.get("models.substratus.ai", "opt-125m"))["status"].get("ready") and m)
        assert condition(model, "Complete")["status"] == "True"
        assert model["status"]["artifacts"]["url"] == f"gs://artifacts/test/{kube_namespace}/models/opt-125m"
        assert model["status"]["image"] == "substratusai/model-loader-huggingface"
        template = job["spec"]["template"]
        params = template["spec"]["volumes"][0]["downwardAPI"]["items"][0]
        assert params["fieldRef"] == {"fieldPath": "metadata.annotations['substratus.ai/params']"}
        assert template["metadata"]["annotations"]["substratus.ai/params"] == '{"name": "facebook/opt-125m"}'
        validate_children(kube_emulator, kube_namespace)


def ready(sim, plural: str, name: str) -> dict:
    return wait_for(
        lambda: ((m := sim.get(plural, name)) or {}).get("status", {}).get("ready") and m, what=f"{plural} {name} ready"
    )


def reason(sim, plural: str, name: str, type_: str, expected: str) -> dict:
    return wait_for(
        lambda: (
            condition(sim.get(plural, name), type_).get("reason") == expected
            and condition(sim.get(plural, name), type_)
        ),
        what=f"{plural} {name} {type_}={expected}",
    )


def test_fine_tune_waits_for_its_base_model_and_dataset_and_is_woken(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(
            manifest(
                "Model",
                "tuned",
                image="substratusai/model-trainer-huggingface",
                model={"name": "base"},
                dataset={"name": "colors"},
                params={"epochs": 3, "fast": True},
                env={"HF_TOKEN": "${{ secrets.hf.token }}"},
            ),
            kube_namespace,
        )
        reason(sim, "models.substratus.ai", "tuned", "Complete", "DependencyNotFound")
        assert "dependencyMissingSince" in sim.get("models.substratus.ai", "tuned")["status"]
        kube_emulator.create(manifest("Model", "base", image="substratusai/model-loader-huggingface"), kube_namespace)
        kube_emulator.create(manifest("Dataset", "colors", image="substratusai/dataset-loader-http"), kube_namespace)
        waiting = reason(sim, "models.substratus.ai", "tuned", "Complete", "WaitingForDependency")
        # The status the flow writes no longer has it: gone from the cluster's too, not kept by the merge patch.
        assert "dependencyMissingSince" not in sim.get("models.substratus.ai", "tuned")["status"], waiting
        sim.succeed_job("base-loader")
        sim.succeed_job("colors-loader")
        ready(sim, "datasets.substratus.ai", "colors")
        # No timer fires within this test (resync 30 s): the dependency's event wakes it.
        job = sim.wait("jobs.batch", "tuned-trainer", timeout=10)
        container = job["spec"]["template"]["spec"]["containers"][0]
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert (
            mounts["/content/model"].get("readOnly", False),
            mounts["/content/data"].get("readOnly", False),
            mounts["/content/artifacts"].get("readOnly", False),
        ) == (True, True, False)
        volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
        assert volumes["model"]["csi"]["volumeAttributes"] == {
            "bucketName": "artifacts",
            "mountOptions": f"implicit-dirs,only-dir=test/{kube_namespace}/models/base",
        }
        assert job["spec"]["template"]["metadata"]["annotations"]["gke-gcsfuse/volumes"] == "true"
        env = {e["name"]: e for e in container["env"]}
        assert env["PARAM_EPOCHS"]["value"] == "3" and env["PARAM_FAST"]["value"] == "true"
        assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "hf", "key": "token"}}
        sim.succeed_job("tuned-trainer")
        ready(sim, "models.substratus.ai", "tuned")
        validate_children(kube_emulator, kube_namespace)


def test_a_model_created_again_does_not_adopt_the_job_of_the_one_before(kube_emulator, kube_namespace, sim):
    """Deleted and created again while the old Job is still on its way out (a finalizer holds
    it here): the new Model waits for a Job of its own instead of reporting the old failure."""
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Model", "again", image="loader"), kube_namespace)
        sim.fail_job("again-loader", "the first attempt failed")
        reason(sim, "models.substratus.ai", "again", "Complete", "JobFailed")
        hold = {"metadata": {"finalizers": ["test.substratus.ai/hold"]}}
        kube_emulator.patch("jobs.batch", "again-loader", hold, kube_namespace)
        kube_emulator.delete("models.substratus.ai", "again", kube_namespace)
        wait_for(lambda: sim.get("jobs.batch", "again-loader")["metadata"].get("deletionTimestamp"), what="GC")

        model = kube_emulator.create(manifest("Model", "again", image="loader"), kube_namespace)
        time.sleep(1)  # the operator meets the old Job
        assert condition(sim.get("models.substratus.ai", "again"), "Complete").get("reason") != "JobFailed"
        kube_emulator.patch("jobs.batch", "again-loader", {"metadata": {"finalizers": []}}, kube_namespace)
        job = wait_for(
            lambda: (
                (j := sim.get("jobs.batch", "again-loader"))
                and j["metadata"]["ownerReferences"][0]["uid"] == model["metadata"]["uid"]
                and j
            ),
            what="a Job of the new Model",
        )
        assert not (job.get("status") or {}).get("failed")
        assert condition(sim.get("models.substratus.ai", "again"), "Complete").get("reason") != "JobFailed"
        sim.succeed_job("again-loader")
        ready(sim, "models.substratus.ai", "again")


def test_failed_job_reports_the_termination_message(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Dataset", "broken", image="substratusai/dataset-loader-http"), kube_namespace)
        sim.fail_job("broken-loader", "HTTP 404 fetching https://example.com/data.jsonl")
        failed = reason(sim, "datasets.substratus.ai", "broken", "Complete", "JobFailed")
        assert "HTTP 404 fetching https://example.com/data.jsonl" in failed["message"]
        assert failed["status"] == "False"
        # ... and a fine-tune on it fails too, naming why.
        kube_emulator.create(manifest("Model", "base", image="loader"), kube_namespace)
        kube_emulator.create(
            manifest("Model", "tuned", image="trainer", model={"name": "base"}, dataset={"name": "broken"}),
            kube_namespace,
        )
        dependency = reason(sim, "models.substratus.ai", "tuned", "Complete", "DependencyFailed")
        assert "Dataset broken failed (JobFailed)" in dependency["message"]
        assert sim.get("jobs.batch", "tuned-trainer") is None


def test_invalid_spec_is_reported_and_does_not_stop_the_operator(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG) as runner:
        # A nested param passes the CRD (a real server cannot type params for a rule) but not the API's parse.
        kube_emulator.create(manifest("Model", "odd", image="trainer", params={"lora": {"r": 8}}), kube_namespace)
        invalid = reason(sim, "models.substratus.ai", "odd", "Complete", "InvalidSpec")
        assert "spec.params.lora" in invalid["message"], invalid["message"]
        assert "must be a string, number or boolean" in invalid["message"]
        # A value the trainer would refuse (trainer_params.py), before any Job runs.
        kube_emulator.create(
            manifest(
                "Model",
                "fast",
                image="trainer",
                model={"name": "base"},
                dataset={"name": "data"},
                params={"learning_rate": "fast"},
            ),
            kube_namespace,
        )
        invalid = reason(sim, "models.substratus.ai", "fast", "Complete", "InvalidSpec")
        expected = "spec.params.learning_rate: must be a finite number, not 'fast'"
        assert expected in invalid["message"], invalid["message"]
        kube_emulator.create(manifest("Model", "fine", image="loader"), kube_namespace)
        sim.wait("jobs.batch", "fine-loader")
    assert runner.exception is None


def test_restarted_operator_adopts_its_children(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Model", "m1", image="loader"), kube_namespace)
        first = sim.wait("jobs.batch", "m1-loader")
    with running_operator_again(kube_emulator, kube_namespace):
        sim.succeed_job("m1-loader")
        ready(sim, "models.substratus.ai", "m1")
    jobs = kube_emulator.list("jobs.batch", kube_namespace)
    assert [j["metadata"]["uid"] for j in jobs] == [first["metadata"]["uid"]]


def running_operator_again(cluster, namespace):
    cluster.delete("configmaps", "substratus", namespace)
    return running_operator(cluster, namespace, GKE_CONFIG)


def test_deleting_a_model_deletes_its_children(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Model", "gone", image="loader"), kube_namespace)
        sim.wait("jobs.batch", "gone-loader")
        kube_emulator.delete("models.substratus.ai", "gone", kube_namespace)
        wait_for(
            lambda: sim.get("jobs.batch", "gone-loader") is None,
            what="children garbage-collected",
        )
        assert sim.get("models.substratus.ai", "gone") is None


def test_operator_refuses_to_start_with_an_incomplete_config(kube_emulator, kube_namespace, caplog):
    with pytest.raises(ActivityError):
        with running_operator(kube_emulator, kube_namespace, {"PLATFORM": "gke"}):
            wait_for(lambda: "incomplete operator configuration" in caplog.text, what="the refusal")
    assert "CLUSTER_NAME is required" in caplog.text and "ARTIFACTS_URL (gs://bucket) is required" in caplog.text
