"""Running the real operator (kopf's KopfRunner) against the emulator, and small controller
simulators that move its children through their statuses the way Kubernetes would."""

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import kopf
import pytest
import yaml
from kopf.testing import KopfRunner
from kubeemu.errors import ApiError
from kubeemu.harness import KubeCluster
from kubeemu.store import now

RBAC = Path(__file__).resolve().parents[2] / "operator" / "deploy" / "rbac.yaml"

GKE_CONFIG = {
    "CLUSTER_NAME": "test",
    "REGISTRY": "registry.example/substratus",
    "PLATFORM": "gke",
    "ARTIFACTS_URL": "gs://artifacts",
}
PVC_CONFIG = {"CLUSTER_NAME": "test", "REGISTRY": "registry.example/substratus", "PLATFORM": "generic"}


def wait_for(check, timeout: float = 15.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.05)
    return result


def install_rbac(cluster: KubeCluster, documents: list[dict] | None = None) -> tuple[str, str]:
    """operator/deploy's ServiceAccount, (Cluster)Roles and bindings, as they are (or `documents`):
    the ServiceAccount's namespace and name."""
    documents = documents if documents is not None else [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    for document in documents:
        namespace = document["metadata"].get("namespace")
        if namespace:
            with contextlib.suppress(ApiError):
                cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        with contextlib.suppress(ApiError):
            cluster.delete(document["kind"], document["metadata"]["name"], namespace)
        cluster.create(document, namespace)
    account = next(d for d in documents if d["kind"] == "ServiceAccount")["metadata"]
    return account["namespace"], account["name"]


@contextlib.contextmanager
def running_operator(cluster: KubeCluster, namespace: str, data: dict, resync: float = 30) -> Iterator[KopfRunner]:
    """The operator, configured by a ConfigMap `substratus` in `namespace`, until the block ends.

    It acts as its ServiceAccount, with the RBAC of operator/deploy enforced: a verb missing
    there is a 403 here (as on a real cluster)."""
    kubeconfig = cluster.kubeconfig.with_name("operator-kubeconfig")
    cluster.service_account_kubeconfig(kubeconfig, *install_rbac(cluster))
    cluster.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "substratus", "namespace": namespace},
            "data": data,
        }
    )
    os.environ["SUBSTRATUS_CONFIG"] = f"{namespace}/substratus"
    os.environ["RESYNC_SECONDS"] = str(resync)
    # A fresh registry per run: the handlers module must register into it again.
    sys.modules.pop("substratus_operator.handlers", None)
    args = ["run", "-A", "--standalone", "-m", "substratus_operator.handlers"]
    # Read by the operator when it starts (kube.configuration); the test's own clients keep theirs.
    admin_kubeconfig, os.environ["KUBECONFIG"] = os.environ["KUBECONFIG"], str(kubeconfig)
    try:
        # timeout: how long stopping may take; a call in flight finishes first (up to its own 30 s).
        with KopfRunner(args, registry=kopf.OperatorRegistry(), timeout=90) as runner:
            yield runner
    finally:
        os.environ["KUBECONFIG"] = admin_kubeconfig


class Simulator:
    """Plays the Job, Deployment and kubelet controllers for one namespace."""

    def __init__(self, cluster: KubeCluster, namespace: str):
        self.cluster = cluster
        self.namespace = namespace

    def get(self, resource: str, name: str) -> dict | None:
        found = [o for o in self.cluster.list(resource, self.namespace) if o["metadata"]["name"] == name]
        return found[0] if found else None

    def wait(self, resource: str, name: str, timeout: float = 15.0) -> dict:
        return wait_for(lambda: self.get(resource, name), timeout, f"{resource} {name}")

    def succeed_job(self, name: str) -> None:
        self.wait("jobs.batch", name)
        self.cluster.complete_job(self.namespace, name)

    def fail_job(self, name: str, message: str) -> None:
        job = self.wait("jobs.batch", name)
        self.cluster.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{name}-x1", "namespace": self.namespace, "labels": {"job-name": name}},
                "spec": job["spec"]["template"]["spec"],
            }
        )
        self.cluster.patch_status(
            "pods",
            f"{name}-x1",
            {
                "phase": "Failed",
                "containerStatuses": [
                    {
                        "name": "main",
                        "ready": False,
                        "restartCount": 0,
                        "image": "x",
                        "imageID": "",
                        "state": {"terminated": {"exitCode": 1, "reason": "Error", "message": message}},
                    }
                ],
            },
            self.namespace,
        )
        self.cluster.fail_job(self.namespace, name)

    def ready_deployment(self, name: str) -> None:
        deployment = self.wait("deployments.apps", name)
        generation = deployment["metadata"].get("generation", 1)
        self.cluster.patch_status(
            "deployments.apps",
            name,
            {
                "observedGeneration": generation,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
            },
            self.namespace,
        )

    def ready_pod(self, name: str) -> None:
        self.wait("pods", name)
        self.cluster.patch_status(
            "pods",
            name,
            {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}]},
            self.namespace,
        )


@pytest.fixture
def sim(kube_emulator, kube_namespace) -> Simulator:
    return Simulator(kube_emulator, kube_namespace)
