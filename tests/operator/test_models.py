"""Models and Datasets under the real operator: loader Jobs, fine-tuning, dependency wake-up, failures."""

import kubernetes_validate

from tests.operator.conftest import GKE_CONFIG, running_operator, wait_for


def manifest(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def condition(obj: dict | None, type_: str) -> dict:
    for c in ((obj or {}).get("status") or {}).get("conditions", []):
        if c["type"] == type_:
            return c
    return {}


def validate_children(cluster, namespace: str) -> None:
    for resource in ("jobs.batch", "deployments.apps", "services", "pods", "configmaps", "secrets",
                     "persistentvolumeclaims"):
        for obj in cluster.list(resource, namespace):
            if obj["metadata"].get("labels", {}).get("app.kubernetes.io/managed-by") == "substratus-operator":
                obj = {k: v for k, v in obj.items() if k != "status"}
                obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k in
                                   ("name", "namespace", "labels", "annotations", "ownerReferences")}
                kubernetes_validate.validate(obj, "1.37", strict=True)


def test_model_import_runs_a_loader_job_and_becomes_ready(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Model", "opt-125m", image="substratusai/model-loader-huggingface",
                                      params={"name": "facebook/opt-125m"}), kube_namespace)
        job = sim.wait("jobs.batch", "opt-125m-loader")
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Model", "opt-125m", True)
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "PARAM_NAME", "value": "facebook/opt-125m"} in container["env"]
        assert {m["mountPath"]: m["readOnly"] for m in container["volumeMounts"]} == {
            "/content/params.json": True, "/content/artifacts": False}
        assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
        sim.succeed_job("opt-125m-loader")
        model = wait_for(lambda: (m := sim.get("models.substratus.ai", "opt-125m"))["status"].get("ready") and m)
        assert condition(model, "Complete")["status"] == "True"
        assert model["status"]["artifacts"]["url"] == f"gs://artifacts/test/{kube_namespace}/models/opt-125m"
        assert model["status"]["image"] == "substratusai/model-loader-huggingface"
        assert sim.get("configmaps", "opt-125m-params")["data"]["params.json"] == '{"name": "facebook/opt-125m"}'
        validate_children(kube_emulator, kube_namespace)
