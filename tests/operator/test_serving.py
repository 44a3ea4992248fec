"""Servers and Notebooks under the real operator: Deployments, pods, tokens, suspend, rolling."""

from tests.operator.conftest import GKE_CONFIG, PVC_CONFIG, running_operator, wait_for
from tests.operator.test_models import condition, manifest, ready, reason, validate_children


def ready_model(kube_emulator, namespace, sim, name="base"):
    kube_emulator.create(manifest("Model", name, image="loader"), namespace)
    sim.succeed_job(f"{name}-loader")
    ready(sim, "models.substratus.ai", name)


def test_server_deployment_service_url_and_a_spec_change_rolls(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        ready_model(kube_emulator, kube_namespace, sim)
        kube_emulator.create(
            manifest(
                "Server",
                "srv",
                image="substratusai/model-server",
                model={"name": "base"},
                resources={"gpu": {"type": "nvidia-l4", "count": 2}},
            ),
            kube_namespace,
        )
        deployment = sim.wait("deployments.apps", "srv-server")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        # The operator's decision; the server adds its defaults (scheme: HTTP, thresholds).
        assert {"path": "/", "port": 8080}.items() <= container["readinessProbe"]["httpGet"].items()
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "2"
        assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
        assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert {m["mountPath"]: m.get("readOnly", False) for m in container["volumeMounts"]}["/content/model"] is True
        service = sim.wait("services", "srv-server")
        assert service["spec"]["ports"][0]["port"] == 8080
        assert condition(sim.get("servers.substratus.ai", "srv"), "Serving").get("status") != "True"
        sim.ready_deployment("srv-server")
        server = ready(sim, "servers.substratus.ai", "srv")
        assert server["status"]["url"] == f"http://srv-server.{kube_namespace}.svc.cluster.local:8080"
        validate_children(kube_emulator, kube_namespace)

        kube_emulator.patch(
            "servers.substratus.ai", "srv", {"spec": {"image": "substratusai/model-server:v2"}}, kube_namespace
        )
        rolled = wait_for(
            lambda: (
                (d := sim.get("deployments.apps", "srv-server"))["spec"]["template"]["spec"]["containers"][0]["image"]
                == "substratusai/model-server:v2"
                and d
            ),
            what="the Deployment rolled",
        )
        assert rolled["metadata"]["generation"] > deployment["metadata"]["generation"]
        wait_for(lambda: not sim.get("servers.substratus.ai", "srv")["status"]["ready"], what="not ready while rolling")
        sim.ready_deployment("srv-server")
        ready(sim, "servers.substratus.ai", "srv")


def test_a_server_without_an_image_gets_vllm_on_a_gpu_and_the_transformers_server_on_cpu(
    kube_emulator, kube_namespace, sim
):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        ready_model(kube_emulator, kube_namespace, sim)
        gpu = {"gpu": {"type": "nvidia-l4", "count": 1}}
        kube_emulator.create(manifest("Server", "gpu", model={"name": "base"}, resources=gpu), kube_namespace)
        kube_emulator.create(manifest("Server", "cpu", model={"name": "base"}), kube_namespace)
        for name, image in (("gpu", "substratusai/model-server-vllm"), ("cpu", "substratusai/model-server")):
            deployment = sim.wait("deployments.apps", f"{name}-server")
            assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == image
            sim.ready_deployment(f"{name}-server")
            assert ready(sim, "servers.substratus.ai", name)["status"]["image"] == image


def test_a_server_pod_that_does_not_come_up_says_why(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        ready_model(kube_emulator, kube_namespace, sim)
        kube_emulator.create(
            manifest("Server", "srv", image="substratusai/model-server", model={"name": "base"}), kube_namespace
        )
        labels = sim.wait("deployments.apps", "srv-server")["spec"]["template"]["metadata"]["labels"]
        container = {"name": "server", "image": "substratusai/model-server"}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "srv-server-1", "labels": labels}}
        kube_emulator.create({**pod, "spec": {"containers": [container]}}, kube_namespace)

        def pod_status(**status) -> str:
            kube_emulator.patch_status("pods", "srv-server-1", status, kube_namespace)
            return wait_for(
                lambda: (
                    condition(sim.get("servers.substratus.ai", "srv"), "Serving").get("message") != previous
                    and condition(sim.get("servers.substratus.ai", "srv"), "Serving")
                ),
                what="the Server's condition changed",
            )

        def waiting(reason: str, message: str, **extra) -> dict:
            state = {"waiting": {"reason": reason, "message": message}}
            return {"name": "server", "ready": False, "image": "substratusai/model-server", "imageID": "",
                    "restartCount": 0, "state": state, **extra}  # fmt: skip

        previous = condition(sim.get("servers.substratus.ai", "srv"), "Serving").get("message")
        unschedulable = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                         "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}  # fmt: skip
        no_node = pod_status(phase="Pending", conditions=[unschedulable])
        assert no_node["reason"] == "Starting" and "waits for a node: 0/3 nodes" in no_node["message"]

        previous = no_node["message"]
        no_image = pod_status(containerStatuses=[waiting("ImagePullBackOff", "Back-off pulling image")])
        assert no_image["reason"] == "PodFailed"
        assert "cannot pull substratusai/model-server: Back-off pulling image" in no_image["message"]

        previous = no_image["message"]
        last = {"terminated": {"exitCode": 1, "reason": "Error", "message": "cannot load the model: bad weights"}}
        crashing = pod_status(
            phase="Running",
            containerStatuses=[waiting("CrashLoopBackOff", "back-off 40s", restartCount=3, lastState=last)],
        )
        assert crashing["reason"] == "PodFailed"
        assert "keeps crashing (3 restarts): cannot load the model: bad weights" in crashing["message"]

        sim.ready_deployment("srv-server")  # fixed by itself (the model was repaired): ready after all
        ready(sim, "servers.substratus.ai", "srv")


def test_server_waits_for_its_model(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Server", "srv", image="server", model={"name": "later"}), kube_namespace)
        reason(sim, "servers.substratus.ai", "srv", "Serving", "DependencyNotFound")
        ready_model(kube_emulator, kube_namespace, sim, "later")
        sim.wait("deployments.apps", "srv-server", timeout=10)


def test_notebook_token_secret_workspace_and_suspend_resume(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        ready_model(kube_emulator, kube_namespace, sim)
        kube_emulator.create(
            manifest(
                "Notebook",
                "nb",
                image="substratusai/notebook-base",
                model={"name": "base"},
                resources={"gpu": {"type": "nvidia-t4"}},
            ),
            kube_namespace,
        )
        pod = sim.wait("pods", "nb-notebook")
        spec = pod["spec"]
        container = spec["containers"][0]
        assert [(p["name"], p["containerPort"]) for p in container["ports"]] == [("http", 8888)]  # + protocol: TCP
        assert {
            "name": "NOTEBOOK_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "nb-notebook-token", "key": "token"}},
        } in container["env"]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
        assert "nodeSelector" not in spec and "tolerations" not in spec  # generic cluster: only the limit
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["workspace"]["persistentVolumeClaim"] == {"claimName": "nb-notebook"}
        assert volumes["artifacts-pvc"]["persistentVolumeClaim"] == {"claimName": "substratus-artifacts"}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts["/content"]["name"] == "workspace"
        assert mounts["/content/model"] == {
            "name": "artifacts-pvc",
            "mountPath": "/content/model",
            "readOnly": True,
            "subPath": f"test/{kube_namespace}/models/base",
        }
        token = sim.wait("secrets", "nb-notebook-token")["data"]["token"]
        sim.ready_pod("nb-notebook")
        notebook = ready(sim, "notebooks.substratus.ai", "nb")
        assert notebook["status"]["url"] == f"http://nb-notebook.{kube_namespace}.svc.cluster.local:8888"
        validate_children(kube_emulator, kube_namespace)
        _assert_token_nowhere_but_the_secret(kube_emulator, kube_namespace, token)

        kube_emulator.patch("notebooks.substratus.ai", "nb", {"spec": {"suspend": True}}, kube_namespace)
        reason(sim, "notebooks.substratus.ai", "nb", "Serving", "Suspended")
        wait_for(lambda: sim.get("pods", "nb-notebook") is None, what="the pod stopped")
        assert sim.get("persistentvolumeclaims", "nb-notebook") is not None  # the work is kept
        assert not sim.get("notebooks.substratus.ai", "nb")["status"]["ready"]

        kube_emulator.patch("notebooks.substratus.ai", "nb", {"spec": {"suspend": False}}, kube_namespace)
        sim.ready_pod("nb-notebook")
        ready(sim, "notebooks.substratus.ai", "nb")
        assert sim.get("secrets", "nb-notebook-token")["data"]["token"] == token  # the same token


def _assert_token_nowhere_but_the_secret(cluster, namespace, token_b64):
    import base64
    import json

    token = base64.b64decode(token_b64).decode()
    notebook = cluster.get("notebooks.substratus.ai", "nb", namespace)
    events = cluster.list("events", namespace)
    pods = cluster.list("pods", namespace)
    assert token not in json.dumps([notebook, events, pods])


def test_failed_notebook_pod_is_reported(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Notebook", "nb", image="broken"), kube_namespace)
        sim.wait("pods", "nb-notebook")
        kube_emulator.patch_status(
            "pods",
            "nb-notebook",
            {
                "phase": "Failed",
                "containerStatuses": [
                    {
                        "name": "notebook",
                        "ready": False,
                        "restartCount": 0,
                        "image": "broken",
                        "imageID": "",
                        "state": {
                            "terminated": {"exitCode": 1, "reason": "Error", "message": "jupyter: no such option"}
                        },
                    }
                ],
            },
            kube_namespace,
        )
        failed = reason(sim, "notebooks.substratus.ai", "nb", "Serving", "PodFailed")
        assert "jupyter: no such option" in failed["message"]


def test_notebook_spec_change_replaces_its_pod_and_deleting_it_removes_its_children(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Notebook", "nb", image="substratusai/notebook-base"), kube_namespace)
        first = sim.wait("pods", "nb-notebook")
        sim.ready_pod("nb-notebook")
        ready(sim, "notebooks.substratus.ai", "nb")
        kube_emulator.patch(
            "notebooks.substratus.ai", "nb", {"spec": {"image": "substratusai/notebook-base:v2"}}, kube_namespace
        )
        replaced = wait_for(
            lambda: (p := sim.get("pods", "nb-notebook")) and p["metadata"]["uid"] != first["metadata"]["uid"] and p,
            what="a new pod",
        )
        assert replaced["spec"]["containers"][0]["image"] == "substratusai/notebook-base:v2"
        kube_emulator.delete("notebooks.substratus.ai", "nb", kube_namespace)
        wait_for(
            lambda: all(
                sim.get(r, n) is None
                for r, n in (
                    ("pods", "nb-notebook"),
                    ("services", "nb-notebook"),
                    ("secrets", "nb-notebook-token"),
                    ("persistentvolumeclaims", "nb-notebook"),
                )
            ),
            what="children garbage-collected",
        )
