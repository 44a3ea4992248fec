"""The acceptance test of the reconcile flow: one scenario through both adapters, the same
conditions and phases in both.

The operator side is the real operator on the API emulator, with the test playing the Job
controller and the kubelet (tests/operator's Simulator: the emulator runs no pods); the local
side is the local backend running real processes (tests/local's scripted jobs). Each side is
driven through its Backend (create, get, rerun) and the scenario records what each resource
reports at each step: the conditions without their times, the phase, the trainerStatus. A
running job's message says how it runs (a pid here, a Job there) and is the one thing left out.
"""

from __future__ import annotations

import asyncio
import json
import time

from jupyter_substratus.api.workloads import CANCEL_ANNOTATION
from jupyter_substratus.backends.kubernetes import KubernetesBackend
from jupyter_substratus.backends.local import LocalBackend
from tests.operator.conftest import GKE_CONFIG, Simulator, running_operator

STAMP = "2026-12-03T12:00:00Z"
PROGRESS = {"time": 1764763200.0, "step": 5, "max_steps": 20, "epoch": 0.25, "loss": 1.5, "eta_seconds": 9}
CHILD = {"models": "Model", "datasets": "Dataset"}


def manifest(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def essence(obj: dict) -> dict:
    status = obj.get("status") or {}
    running = status.get("phase") == "Running"
    conditions = [
        {k: v for k, v in c.items() if k != "lastTransitionTime" and not (running and k == "message")}
        for c in status.get("conditions") or []
    ]
    return {"phase": status.get("phase"), "conditions": conditions, "trainerStatus": status.get("trainerStatus")}


class OperatorSide:
    """The Job controller's and the kubelet's part, played by the test."""

    def __init__(self, backend, cluster, namespace: str):
        self.backend, self.cluster, self.namespace = backend, cluster, namespace
        self.sim = Simulator(cluster, namespace)

    async def job_runs(self, job: str, progress: dict | None = None) -> None:
        found = await asyncio.to_thread(self.sim.wait, "jobs.batch", job)
        pod = f"{job}-running"
        self.cluster.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod, "namespace": self.namespace, "labels": {"job-name": job}},
                "spec": found["spec"]["template"]["spec"],
            }
        )
        self.cluster.patch_status("pods", pod, {"phase": "Running"}, self.namespace)
        if progress is not None:
            self.cluster.set_pod_log(self.namespace, pod, "loading\n" + json.dumps(progress) + "\n")

    async def job_ends(self, job: str, failure: str | None = None) -> None:
        if failure is None:
            await asyncio.to_thread(self.sim.succeed_job, job)
        else:
            await asyncio.to_thread(self.sim.fail_job, job, failure)

    async def cancel(self, plural: str, name: str) -> None:
        patch = {"metadata": {"annotations": {CANCEL_ANNOTATION: STAMP}}}
        self.cluster.patch(f"{plural}.substratus.ai", name, patch, self.namespace)

    async def stopped(self, job: str) -> bool:
        return self.sim.get("jobs.batch", job) is None


class LocalSide:
    """Real processes: the scripted jobs run, fail and sleep as their params say."""

    def __init__(self, backend: LocalBackend):
        self.backend = backend

    async def job_runs(self, job: str, progress: dict | None = None) -> None:
        pass

    async def job_ends(self, job: str, failure: str | None = None) -> None:
        pass

    async def cancel(self, plural: str, name: str) -> None:
        store = self.backend.store
        obj = store.read(self.backend.default_namespace, plural, name)
        obj["metadata"].setdefault("annotations", {})[CANCEL_ANNOTATION] = STAMP
        store.write(obj)

    async def stopped(self, job: str) -> bool:
        return not self.backend.reconciler.workloads


async def scenario(side) -> list[tuple[str, dict]]:
    backend = side.backend
    seen: list[tuple[str, dict]] = []

    async def at(step: str, plural: str, name: str, phase: str, check=lambda obj: True) -> dict:
        deadline = time.monotonic() + 30
        while True:
            obj = await backend.get(plural, name)
            if (obj.get("status") or {}).get("phase") == phase and check(obj):
                seen.append((step, essence(obj)))
                return obj
            if time.monotonic() > deadline:
                raise AssertionError(f"{step}: {plural}/{name} not {phase}: {json.dumps(obj, indent=1)}")
            await asyncio.sleep(0.1)

    # A fine-tune created before its base Model and Dataset: it waits, then stalls, then runs.
    trainer = {"image": "substratusai/model-trainer-huggingface", "model": {"name": "base"}}
    params = {"progress": json.dumps(PROGRESS), "sleep": 3}
    await backend.create(manifest("Model", "tuned", **trainer, dataset={"name": "data"}, params=params))
    await at("waits for its base", "models", "tuned", "Pending")
    await at("stalls", "models", "tuned", "Stalled")
    await backend.create(manifest("Model", "base", image="substratusai/model-loader-huggingface"))
    await side.job_ends("base-loader")
    await at("base imported", "models", "base", "Ready")
    # Missing past the grace period all the same: now the Dataset.
    await at("still stalled, on its dataset", "models", "tuned", "Stalled", lambda o: "Dataset" in str(o["status"]))
    await backend.create(manifest("Dataset", "data", image="substratusai/dataset-loader-http"))
    await side.job_ends("data-loader")
    await at("dataset loaded", "datasets", "data", "Ready")
    await side.job_runs("tuned-trainer", PROGRESS)
    await at("trains", "models", "tuned", "Running", lambda obj: obj["status"].get("trainerStatus"))
    await side.job_ends("tuned-trainer")
    await at("fine-tuned, its progress kept", "models", "tuned", "Ready")

    # A failure, then a run cancelled and run again.
    failing = {"image": "substratusai/dataset-loader-http", "params": {"fail": "no such file: x.jsonl"}}
    await backend.create(manifest("Dataset", "broken", **failing))
    await side.job_ends("broken-loader", failure="no such file: x.jsonl")
    await at("fails", "datasets", "broken", "Failed")
    await backend.create(manifest("Dataset", "slow", image="substratusai/dataset-loader-http", params={"sleep": 4}))
    await side.job_runs("slow-loader")
    await at("runs", "datasets", "slow", "Running")
    await side.cancel("datasets", "slow")
    await at("cancelled", "datasets", "slow", "Failed")
    deadline = time.monotonic() + 15
    while not await side.stopped("slow-loader"):
        assert time.monotonic() < deadline, "the cancelled run goes on"
        await asyncio.sleep(0.1)
    await backend.rerun("datasets", "slow")
    again = await at("runs again", "datasets", "slow", "Running")
    assert CANCEL_ANNOTATION not in (again["metadata"].get("annotations") or {})
    await side.job_ends("slow-loader")
    await at("complete", "datasets", "slow", "Ready")
    return seen


def test_both_adapters_report_alike(kube_emulator, kube_namespace, scripted_images, tmp_path):
    async def local() -> list[tuple[str, dict]]:
        backend = LocalBackend(
            state_dir=tmp_path / "state",
            images_dir=scripted_images,
            kernels_dir=tmp_path / "kernels",
            stalled_after_seconds=2,
        )
        try:
            return await scenario(LocalSide(backend))
        finally:
            await backend.close()

    async def operator() -> list[tuple[str, dict]]:
        backend = KubernetesBackend(namespace=kube_namespace, kubeconfig=str(kube_emulator.kubeconfig))
        try:
            return await scenario(OperatorSide(backend, kube_emulator, kube_namespace))
        finally:
            await backend.close()

    by_local = asyncio.run(local())
    with running_operator(kube_emulator, kube_namespace, {**GKE_CONFIG, "STALLED_AFTER_SECONDS": "2"}, resync=1):
        by_operator = asyncio.run(operator())
    assert by_local == by_operator
    steps = dict(by_local)
    assert steps["stalls"]["conditions"][0]["message"] == (
        "Model 'base' does not exist; create it or fix spec.model.name"
    )
    assert steps["fine-tuned, its progress kept"]["trainerStatus"]["currentStep"] == 5
    assert steps["cancelled"]["conditions"][0]["reason"] == "Cancelled"
