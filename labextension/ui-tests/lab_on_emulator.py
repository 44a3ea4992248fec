"""jupyter lab for the UI tests, with the Kubernetes API and the operator it relies on.

No kube-apiserver can run here, so the project's Kubernetes API emulator (testing/kubeemu, test
infrastructure that never ships) serves the API on 127.0.0.1 in a thread of this process, with
the generated CRDs of crds/ registered, and the real operator (substratus_operator, under kopf's
KopfRunner) reconciles the resources the UI creates. Nothing runs containers here, so a small
loop plays the kubelet and the Job and Deployment controllers, as the project's operator tests
do: each Job gets a Pod with a log (a trainer's log carries progress lines) and succeeds a few
seconds later (the Jobs of resources named held-* run until they are deleted, for the tests of a
running training, their trainer's log at step 3 of 12); Deployments become available and
Notebook pods ready a few seconds after they appear. Behind every Server's Service is one real
model server (images/model-server on a tiny Llama, started in the background on 127.0.0.1): its
Deployment becomes available once that answers, with the Pod and Endpoints a cluster would have
(KubeCluster.serve_service), so the sidebar's prompt box gets a completion through the API
server's service proxy. KUBECONFIG points at the emulator before anything imports the kubernetes
client; then jupyter lab (with the jupyter_substratus server extension) runs in this process
with the arguments given to this script.
"""

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

work = Path(os.environ.get("SUBSTRATUS_UI_WORK") or tempfile.mkdtemp(prefix="substratus-ui-"))
os.environ["KUBECONFIG"] = str(work / "kubeconfig")

import kopf  # noqa: E402
from kopf.testing import KopfRunner  # noqa: E402
from kubeemu.harness import KubeCluster  # noqa: E402
from kubeemu.store import now  # noqa: E402

NAMESPACE = "default"
JOB_SECONDS = float(os.environ.get("SUBSTRATUS_UI_JOB_SECONDS", "4"))
HELD_PREFIX = "held-"
HELD_STEPS = 3  # how far a held training's log has got (of 12 steps): it is still running
OWNER_NAME = "substratus.ai/owner-name"
# The operator's configuration on a cluster without a bucket: artifacts on volumes.
OPERATOR_CONFIG = {"CLUSTER_NAME": "ui-tests", "REGISTRY": "registry.example/substratus", "PLATFORM": "generic"}


def progress_log(steps: int = 12, done: int = 12) -> str:
    """What the trainer prints by step `done` of `steps`: progress JSON lines (step, max_steps,
    epoch, loss, learning_rate, eta_seconds), and once all are done where it saved the adapter."""
    lines = ["loading the base model from /content/model", "tokenizing /content/data"]
    for step in range(1, done + 1):
        loss = 2.5 * 0.85**step + 0.3
        lines.append(
            json.dumps(
                {
                    "step": step,
                    "max_steps": steps,
                    "epoch": round(step / steps, 3),
                    "loss": round(loss, 4),
                    "learning_rate": 2e-4,
                    "eta_seconds": (steps - step) * 5,
                }
            )
        )
    if done == steps:
        lines.append("saved the adapter to /content/artifacts")
    return "\n".join(lines) + "\n"


class ModelServer:
    """images/model-server on a tiny Llama on 127.0.0.1, started in a thread: what every Server's
    pod runs here. `address` is set once it answers; `stop()` ends it."""

    def __init__(self) -> None:
        self.address: tuple[str, int] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from tests.images.fixtures import build_tiny_model, make_toy_tokenizer
        from tests.images.serving import complete_copy, serve

        built = build_tiny_model("llama", work / "tiny-llama", make_toy_tokenizer())
        content = work / "model-server"
        content.mkdir(exist_ok=True)
        complete_copy(built, content / "model")
        with serve(content, {"max_new_tokens": 8}) as running:
            self.address = ("127.0.0.1", running.port)
            print(f"lab_on_emulator: model server on {running.url}", flush=True)
            self._stop.wait()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def play_job_controller(cluster: KubeCluster, stop: threading.Event, model_server: ModelServer) -> None:
    """For each new Job: a Pod (from the Job's template) with a log; JOB_SECONDS later the Job
    and the Pod succeed. No containers run here; this is what the kubelet and the Job
    controller would report."""
    first_seen: dict[str, float] = {}
    while not stop.wait(0.5):
        try:
            jobs = cluster.list("jobs.batch", NAMESPACE)
        except Exception:  # noqa: BLE001 - the emulator is stopping
            continue
        for job in jobs:
            name = job["metadata"]["name"]
            # By uid: a Model run again gets a new Job of the same name.
            key = f"job/{job['metadata']['uid']}"
            status = job.get("status") or {}
            held = (job["metadata"].get("labels") or {}).get(OWNER_NAME, "").startswith(HELD_PREFIX)
            if status.get("succeeded") or status.get("failed"):
                continue
            with contextlib.suppress(Exception):
                if key not in first_seen:
                    start_pod(cluster, job, held)  # again next time while the last Job's Pod is still there
                    first_seen[key] = time.monotonic()
                elif not held and time.monotonic() - first_seen[key] >= JOB_SECONDS:
                    cluster.patch_status("pods", f"{name}-pod", {"phase": "Succeeded"}, NAMESPACE)
                    cluster.complete_job(NAMESPACE, name)
        with contextlib.suppress(Exception):
            play_serving(cluster, first_seen, model_server)


def play_serving(cluster: KubeCluster, first_seen: dict[str, float], model_server: ModelServer) -> None:
    """Deployments (Servers) become available, and Notebook pods ready, JOB_SECONDS after they
    appear; a Server's once the model server answers behind its Service."""
    for deployment in cluster.list("deployments.apps", NAMESPACE):
        name = deployment["metadata"]["name"]
        generation = deployment["metadata"].get("generation", 1)
        status = deployment.get("status") or {}
        if status.get("observedGeneration") == generation and status.get("readyReplicas"):
            continue
        key = f"deployment/{name}/{generation}"
        if time.monotonic() - first_seen.setdefault(key, time.monotonic()) >= JOB_SECONDS:
            if model_server.address is None:
                continue  # its readiness probe would not pass yet
            cluster.serve_service(NAMESPACE, name, model_server.address)  # the operator names both alike
            cluster.patch_status(
                "deployments.apps",
                name,
                {
                    "observedGeneration": generation,
                    "replicas": 1,
                    "updatedReplicas": 1,
                    "readyReplicas": 1,
                    "availableReplicas": 1,
                },
                NAMESPACE,
            )
    for pod in cluster.list("pods", NAMESPACE):
        labels = pod["metadata"].get("labels") or {}
        if labels.get("substratus.ai/role") != "notebook" or (pod.get("status") or {}).get("phase") == "Running":
            continue
        key = f"pod/{pod['metadata']['name']}/{pod['metadata'].get('uid')}"
        if time.monotonic() - first_seen.setdefault(key, time.monotonic()) >= JOB_SECONDS:
            cluster.patch_status(
                "pods",
                pod["metadata"]["name"],
                {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}]},
                NAMESPACE,
            )


def start_pod(cluster: KubeCluster, job: dict, held: bool) -> None:
    name = job["metadata"]["name"]
    template = job["spec"]["template"]
    labels = {**(template.get("metadata") or {}).get("labels", {}), "job-name": name}
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-pod",
                "namespace": NAMESPACE,
                "labels": labels,
                # The Job's, as the Job controller sets it: the Pod goes with a deleted Job.
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
    )
    cluster.patch_status("pods", f"{name}-pod", {"phase": "Running"}, NAMESPACE)
    role = labels.get("substratus.ai/role", "")
    if role == "trainer":
        text = progress_log(done=HELD_STEPS if held else 12)
    else:
        text = f"{role or 'job'} {name}: fetching\n{role or 'job'} {name}: done\n"
    cluster.set_pod_log(NAMESPACE, f"{name}-pod", text)


cluster = KubeCluster(kubeconfig=work / "kubeconfig").start()
for path in sorted((ROOT / "crds").glob("*.yaml")):
    cluster.post_crds(path)
cluster.create(
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "substratus", "namespace": NAMESPACE},
        "data": OPERATOR_CONFIG,
    }
)
os.environ["SUBSTRATUS_CONFIG"] = f"{NAMESPACE}/substratus"
print(f"lab_on_emulator: Kubernetes API emulator on {cluster.url}", flush=True)

stop = threading.Event()
with contextlib.ExitStack() as stack:
    stack.callback(cluster.stop)
    stack.enter_context(
        KopfRunner(
            ["run", "-A", "--standalone", "-m", "substratus_operator.handlers"],
            registry=kopf.OperatorRegistry(),
            timeout=60,
        )
    )
    # KopfRunner (click's CliRunner) captures sys.stdout/stderr while it runs: give them back,
    # so that jupyter lab's log reaches the log file.
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    stack.callback(stop.set)
    model_server = ModelServer()
    stack.callback(model_server.stop)
    threading.Thread(target=play_job_controller, args=(cluster, stop, model_server), daemon=True).start()
    print("lab_on_emulator: operator running", flush=True)

    from jupyterlab.labapp import main

    main(sys.argv[1:])
