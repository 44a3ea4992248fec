"""200 Models while the operator is killed and restarted 20+ times and 10% of API requests fail
with 5xx or 409: every Model converges, each with exactly one set of children."""

import threading
import time

import pytest

from tests.operator.conftest import GKE_CONFIG, running_operator, wait_for
from tests.operator.test_models import manifest

MODELS = int(__import__("os").environ.get("REL_MODELS", 200))
RESTARTS = int(__import__("os").environ.get("REL_RESTARTS", 20))


class JobController(threading.Thread):
    """Completes every Job of the namespace shortly after it appears, like a cluster would."""

    def __init__(self, cluster, namespace):
        super().__init__(daemon=True)
        self.cluster, self.namespace = cluster, namespace
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.wait(0.2):
            for job in self.cluster.list("jobs.batch", self.namespace):
                if not (job.get("status") or {}).get("conditions"):
                    self.cluster.complete_job(self.namespace, job["metadata"]["name"])


@pytest.mark.slow  # about 80 s; `make test` (CI) runs it, `-m "not slow"` skips it
@pytest.mark.timeout(400)
def test_200_models_converge_through_restarts_and_api_faults(kube_emulator, kube_namespace):
    faults = kube_emulator.faults
    for index in range(MODELS):
        kube_emulator.create(manifest("Model", f"m{index:03}", image="loader"), kube_namespace)
    controller = JobController(kube_emulator, kube_namespace)
    controller.start()
    try:
        # Not on watches: a real API server ends a watch, it does not answer one with a conflict.
        requests = r"^(?!.*[?&]watch=)"
        # 409s only on writes: a GET is never answered with a conflict.
        with (
            faults.inject(0.07, status=503, path=requests, seed=1) as unavailable,
            faults.inject(
                0.08, status=409, methods={"POST", "PUT", "PATCH", "DELETE"}, path=requests, seed=2
            ) as conflict,
        ):
            for restart in range(RESTARTS):
                started = time.monotonic()
                with running_operator(kube_emulator, kube_namespace, GKE_CONFIG, resync=1):
                    time.sleep(0.5 + (restart % 3) * 0.5)
                    stopping = time.monotonic()
                print(
                    f"restart {restart}: ran {stopping - started:.1f} s, stopped in {time.monotonic() - stopping:.1f} s"
                )
                kube_emulator.delete("configmaps", "substratus", kube_namespace)
            with running_operator(kube_emulator, kube_namespace, GKE_CONFIG, resync=1):
                wait_for(
                    lambda: (
                        sum(
                            bool((m.get("status") or {}).get("ready"))
                            for m in kube_emulator.list("models.substratus.ai", kube_namespace)
                        )
                        == MODELS
                    ),
                    timeout=60,
                    what="every Model ready",
                )
            # 10% of the requests failed (the 503 rule sees every request), each kind many times
            assert unavailable.injected + conflict.injected >= 0.1 * unavailable.matched
            assert unavailable.injected > MODELS // 8 and conflict.injected > MODELS // 8
    finally:
        controller.stopping.set()
        controller.join()

    models = {
        m["metadata"]["name"]: m["metadata"]["uid"] for m in kube_emulator.list("models.substratus.ai", kube_namespace)
    }
    for resource in ("jobs.batch",):  # a Model's one child: its params are an annotation of the pod template
        children = [
            c
            for c in kube_emulator.list(resource, kube_namespace)
            if c["metadata"].get("labels", {}).get("substratus.ai/owner-kind") == "Model"
        ]
        assert len(children) == MODELS
        owners = sorted(
            (c["metadata"]["ownerReferences"][0]["name"], c["metadata"]["ownerReferences"][0]["uid"]) for c in children
        )
        assert owners == sorted(models.items())
