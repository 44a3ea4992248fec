"""Benchmark: 200 Models created at once against the operator on the Kubernetes API emulator.

Reports CRs fully reconciled per second (create -> child Job -> Job completes -> Model ready),
p50/p99 latency from a Model's create to its child Job, API requests per reconcile, and the
emulator's raw create rate measured in the same run. Run from the repository root:

    .venv/bin/python benchmarks/operator/run.py [--models 200] [--out benchmarks/operator/results.json]
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]
KUBECONFIG = Path(tempfile.mkdtemp(prefix="bench-")) / "kubeconfig"
os.environ["KUBECONFIG"] = str(KUBECONFIG)  # before `kubernetes` is imported

import kopf  # noqa: E402
import kubernetes  # noqa: E402
from kopf.testing import KopfRunner  # noqa: E402

from tests.kubeemu.harness import KubeCluster  # noqa: E402

CONFIG = {
    "CLUSTER_NAME": "bench",
    "REGISTRY": "registry.example/substratus",
    "PLATFORM": "gke",
    "ARTIFACTS_URL": "gs://artifacts",
}
NON_WATCH = r"^(?!.*[?&]watch=)"


def model(name: str) -> dict:
    return {
        "apiVersion": "substratus.ai/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {"image": "substratusai/model-loader-huggingface"},
    }


def raw_create_rate(client, namespace: str, count: int) -> float:
    """ConfigMaps created one after another over HTTP with the official client: the emulator's pace."""
    core = kubernetes.client.CoreV1Api(client)
    started = time.perf_counter()
    for index in range(count):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"raw-{index}"}, "data": {"k": "v"}})
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args()

    with KubeCluster(kubeconfig=KUBECONFIG) as cluster:
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            cluster.post_crds(path)
        for namespace in ("raw", "bench"):
            cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        client = kubernetes.config.new_client_from_config(config_file=str(KUBECONFIG))
        raw_rate = raw_create_rate(client, "raw", args.models)

        cluster.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "substratus", "namespace": "bench"},
                "data": CONFIG,
            }
        )
        os.environ["SUBSTRATUS_CONFIG"] = "bench/substratus"
        custom = kubernetes.client.CustomObjectsApi(client)
        created: dict[str, float] = {}
        job_seen: dict[str, float] = {}
        stop = threading.Event()

        def controller() -> None:
            """Sees each child Job appear (the latency's end) and completes it, as the Job controller would."""
            while not stop.is_set():
                for job in cluster.list("jobs.batch", "bench"):
                    owner = job["metadata"]["labels"]["substratus.ai/owner-name"]
                    if owner not in job_seen:
                        job_seen[owner] = time.perf_counter()
                        cluster.complete_job("bench", job["metadata"]["name"])
                time.sleep(0.01)

        args_kopf = ["run", "-A", "--standalone", "-m", "substratus_operator.handlers"]
        with KopfRunner(args_kopf, registry=kopf.OperatorRegistry(), timeout=120):
            time.sleep(1.0)  # the operator is up and watching before the clock starts
            watcher = threading.Thread(target=controller, daemon=True)
            watcher.start()
            with cluster.faults.inject(0.0, path=NON_WATCH) as counter:
                started = time.perf_counter()
                for index in range(args.models):
                    name = f"m{index:03}"
                    created[name] = time.perf_counter()
                    custom.create_namespaced_custom_object("substratus.ai", "v1", "bench", "models", model(name))
                while (
                    sum(
                        bool((m.get("status") or {}).get("ready"))
                        for m in cluster.list("models.substratus.ai", "bench")
                    )
                    < args.models
                ):
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                requests = counter.matched - args.models  # less the benchmark's own creates
            stop.set()
            watcher.join()

    latencies = sorted((job_seen[n] - created[n]) * 1000 for n in created)
    results = {
        "models": args.models,
        "reconciled_per_second": round(args.models / elapsed, 1),
        "raw_create_per_second": round(raw_rate, 1),
        "ratio_to_raw_create_rate": round(args.models / elapsed / raw_rate, 2),
        "create_to_job_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        },
        # Every non-watch request during the run (the operator's and kopf's) but the benchmark's own
        # creates; the benchmark's readiness polls and Job completions are in-process, not HTTP.
        "api_requests_per_reconcile": round(requests / args.models, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": _processor(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
    }
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


def _processor() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    main()
