"""Benchmark: 200 Models created at once against the operator on the Kubernetes API emulator.

Reports CRs fully reconciled per second (create -> child Job -> Job completes -> Model ready),
p50/p99 latency from a Model's create to its child Job, API requests per reconcile, and the
emulator's raw create rate measured in the same run. Run from the repository root:

    .venv/bin/python benchmarks/operator/run.py [--models 200] [--repeat 3] [--out benchmarks/operator/results.json]

Three processes, as in a cluster: the "cluster" (the API emulator, with a Job controller that
completes each child Job as soon as it appears, watching the store like kube-controller-manager
watches the API server), the operator as it runs in production (`kopf run` of
substratus_operator.handlers, its own process), and this script, the client that creates the
ConfigMaps of the raw create rate and then the Models, both over HTTP with the official client.
The clock: time.monotonic(), one clock for every process of the machine.

The machine is noisy, so each run measures the raw ConfigMap create rate twice, before the
operator starts and again after the Models are ready and the operator is stopped, and takes the
ratio against the mean of the two. The whole run is repeated --repeat times, each with a fresh
cluster and operator process; the results hold every run and the median of each measure.
"""

import argparse
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "operator")]

CONFIG = {
    "CLUSTER_NAME": "bench",
    "REGISTRY": "registry.example/substratus",
    "PLATFORM": "gke",
    "ARTIFACTS_URL": "gs://artifacts",
}
NAMESPACE = "bench"
NON_WATCH = r"^(?!.*[?&]watch=)"


def model(name: str) -> dict:
    return {
        "apiVersion": "substratus.ai/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {"image": "substratusai/model-loader-huggingface"},
    }


# --- the cluster process ------------------------------------------------------------------------


def serve_cluster(kubeconfig: str) -> None:
    """The emulator and a Job controller; answers one JSON command a line on stdin."""
    import asyncio

    from kubeemu.harness import KubeCluster

    job_seen: dict[str, float] = {}
    ready: dict[str, float] = {}
    changed = threading.Condition()

    with KubeCluster(kubeconfig=kubeconfig) as cluster:
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            cluster.post_crds(path)
        for namespace in ("raw", NAMESPACE):
            cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        cluster.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "substratus", "namespace": NAMESPACE},
                "data": CONFIG,
            }
        )
        store = cluster.emulator.store
        # Like the operator once started: what the start loaded (the schemas, jsonschema, kmock) out
        # of the garbage collector's sight, or full collections pause every request (raw ones too).
        gc.freeze()

        async def jobs(watcher) -> None:
            """The Job controller: each new child Job completes at once (the latency's end)."""
            while (item := await watcher.queue.get()) is not None:
                kind, job = item
                if kind == "ADDED" and not (job.get("status") or {}).get("conditions"):
                    job_seen.setdefault(job["metadata"]["labels"]["substratus.ai/owner-name"], time.monotonic())
                    cluster.complete_job(NAMESPACE, job["metadata"]["name"])

        async def models(watcher) -> None:
            while (item := await watcher.queue.get()) is not None:
                _, obj = item
                if (obj.get("status") or {}).get("ready") and obj["metadata"]["name"] not in ready:
                    with changed:
                        ready[obj["metadata"]["name"]] = time.monotonic()
                        changed.notify_all()

        def start() -> None:
            for kind, consume in (("jobs.batch", jobs), ("models.substratus.ai", models)):
                _, watcher = store.watch(cluster.kind(kind), NAMESPACE, None, None, None, None)
                asyncio.ensure_future(consume(watcher))

        cluster.call(start)
        counter = None
        print(json.dumps({"url": cluster.url}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command["cmd"] == "count":
                counter = cluster.faults.inject(0.0, path=NON_WATCH)
                answer = {}
            elif command["cmd"] == "wait":
                names = set(command["names"])
                with changed:
                    changed.wait_for(lambda names=names: names <= ready.keys(), timeout=command["timeout"])
                answer = {
                    "ready": {n: ready.get(n) for n in names},
                    "job_seen": {n: job_seen.get(n) for n in names},
                    "requests": counter.matched if counter is not None else None,
                }
                if counter is not None:
                    cluster.faults.remove(counter)
                    counter = None
            elif command["cmd"] == "stop":
                break
            print(json.dumps(answer), flush=True)


class Cluster:
    """The cluster process, seen from the client."""

    def __init__(self, kubeconfig: Path):
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve-cluster", str(kubeconfig)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        self.url = self._answer()["url"]

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the cluster process ended")
        return json.loads(line)

    def ask(self, command: dict) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._answer()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.ask_nothing({"cmd": "stop"})
        self.process.wait(timeout=30)

    def ask_nothing(self, command: dict) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()


# --- the client ---------------------------------------------------------------------------------


def raw_create_rate(client, namespace: str, count: int, prefix: str) -> float:
    """ConfigMaps created one after another over HTTP with the official client: the emulator's pace."""
    import kubernetes

    core = kubernetes.client.CoreV1Api(client)
    started = time.monotonic()
    for index in range(count):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"{prefix}-{index}"}, "data": {"k": "v"}})
    return count / (time.monotonic() - started)


def raw_job_create_rate(client, namespace: str, count: int) -> float:
    """The operator's own Job (m000's), created again and again without owner: the emulator's
    pace for the kind whose writes (create, then the Job controller's status) a Model costs most."""
    import kubernetes

    batch = kubernetes.client.BatchV1Api(client)
    job = client.sanitize_for_serialization(batch.read_namespaced_job("m000-loader", NAMESPACE))
    job.pop("status", None)
    job["metadata"] = {"labels": job["metadata"].get("labels", {})}
    for label in ("controller-uid", "batch.kubernetes.io/controller-uid"):
        job["spec"]["selector"]["matchLabels"].pop(label, None)
        job["spec"]["template"]["metadata"]["labels"].pop(label, None)
    started = time.monotonic()
    for index in range(count):
        job["metadata"]["name"] = f"raw-job-{index}"
        batch.create_namespaced_job(namespace, job)
    return count / (time.monotonic() - started)


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU time of a process so far (Linux), or of this one."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_operator(kubeconfig: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """The operator as production runs it (operator/Dockerfile: `python -m substratus_operator`)."""
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "SUBSTRATUS_CONFIG": f"{NAMESPACE}/substratus",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "operator")]),
    }
    args = ["run", "-A", "--standalone", f"--liveness={liveness}", "-m", "substratus_operator.handlers"]
    process = subprocess.Popen(
        [sys.executable, "-m", "kopf", *args], env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    return process, liveness


def wait_healthy(process: subprocess.Popen, liveness: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(liveness, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the operator did not come up within 60 s")


def warm_up(cluster: Cluster, custom, log: Path) -> None:
    """One Model through before the clock starts, so the operator is up and watching; not counted."""
    custom.create_namespaced_custom_object("substratus.ai", "v1", NAMESPACE, "models", model("warmup"))
    if not cluster.ask({"cmd": "wait", "names": ["warmup"], "timeout": 60})["ready"]["warmup"]:
        raise RuntimeError(f"the warm-up Model did not become ready:\n{log.read_text()[-3000:]}")


def stop_operator(operator: subprocess.Popen) -> None:
    operator.terminate()
    operator.wait(timeout=60)


@dataclass
class Reconciled:
    """The Models' part of one run."""

    per_second: float
    create_to_job_ms: list[float]  # sorted
    requests_per_reconcile: float
    wall_seconds: float
    cpu_seconds: dict[str, float | None]


def reconcile_models(cluster: Cluster, custom, operator: subprocess.Popen, count: int) -> Reconciled:
    """Creates `count` Models at once and waits until every one is ready."""
    cluster.ask({"cmd": "count"})
    pids = {"cluster": cluster.process.pid, "operator": operator.pid, "client": None}
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    created: dict[str, float] = {}
    started = time.monotonic()
    for index in range(count):
        name = f"m{index:03}"
        created[name] = time.monotonic()
        custom.create_namespaced_custom_object("substratus.ai", "v1", NAMESPACE, "models", model(name))
    done = cluster.ask({"cmd": "wait", "names": list(created), "timeout": 300})
    cpu = {
        name: round(cpu_seconds(pid) - cpu_before[name], 2) if cpu_before[name] is not None else None
        for name, pid in pids.items()
    }
    missing = [n for n, t in done["ready"].items() if t is None]
    if missing:
        raise RuntimeError(f"{len(missing)} Models not ready within 300 s, e.g. {missing[:5]}")
    elapsed = max(done["ready"].values()) - started
    requests = done["requests"] - count  # less the benchmark's own creates
    return Reconciled(
        per_second=count / elapsed,
        create_to_job_ms=sorted((done["job_seen"][n] - created[n]) * 1000 for n in created),
        requests_per_reconcile=requests / count,
        wall_seconds=elapsed,
        cpu_seconds=cpu,
    )


def run_once(models: int) -> dict:
    """One measurement with a fresh cluster and operator process: that run's results."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    kubeconfig = workdir / "kubeconfig"
    os.environ["KUBECONFIG"] = str(kubeconfig)
    import kubernetes

    cluster = Cluster(kubeconfig)
    operator = None
    try:
        client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
        custom = kubernetes.client.CustomObjectsApi(client)
        raw_before = raw_create_rate(client, "raw", models, prefix="raw-before")

        log = workdir / "operator.log"
        operator, liveness = start_operator(kubeconfig, log)
        wait_healthy(operator, liveness, log)
        warm_up(cluster, custom, log)
        reconciled = reconcile_models(cluster, custom, operator, models)
        stop_operator(operator)
        operator = None

        raw_after = raw_create_rate(client, "raw", models, prefix="raw-after")
        raw_job_rate = raw_job_create_rate(client, "raw", models)
    finally:
        if operator is not None:
            stop_operator(operator)
        cluster.stop()

    raw_rate = statistics.mean([raw_before, raw_after])
    latencies = reconciled.create_to_job_ms
    return {
        "reconciled_per_second": round(reconciled.per_second, 1),
        # The baseline: the mean of the rate before the operator starts and after it stops.
        "raw_create_per_second": {
            "before": round(raw_before, 1),
            "after": round(raw_after, 1),
            "mean": round(raw_rate, 1),
        },
        "ratio_to_raw_create_rate": round(reconciled.per_second / raw_rate, 2),
        # Not the target's measure: the same, for the Model's Job after the run (operator stopped).
        "raw_job_create_per_second": round(raw_job_rate, 1),
        "create_to_job_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        },
        # Every non-watch request during the run (the operator's and kopf's) but the benchmark's own
        # creates; the Job controller's completions and the readiness watch are in-process, not HTTP.
        "api_requests_per_reconcile": round(reconciled.requests_per_reconcile, 1),
        # CPU seconds each process used from the first create to the last Model ready, beside
        # that wall time: which one is the bottleneck.
        "wall_seconds": round(reconciled.wall_seconds, 2),
        "cpu_seconds": reconciled.cpu_seconds,
    }


def medians(runs: list[dict]) -> dict:
    """The median over the runs of each headline measure."""

    def median(pick, digits: int = 1) -> float:
        return round(statistics.median(pick(run) for run in runs), digits)

    return {
        "reconciled_per_second": median(lambda run: run["reconciled_per_second"]),
        "raw_create_per_second": median(lambda run: run["raw_create_per_second"]["mean"]),
        "ratio_to_raw_create_rate": median(lambda run: run["ratio_to_raw_create_rate"], digits=2),
        "raw_job_create_per_second": median(lambda run: run["raw_job_create_per_second"]),
        "create_to_job_ms": {
            "p50": median(lambda run: run["create_to_job_ms"]["p50"]),
            "p99": median(lambda run: run["create_to_job_ms"]["p99"]),
        },
        "api_requests_per_reconcile": median(lambda run: run["api_requests_per_reconcile"]),
    }


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "processor": _processor(),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="runs, each with a fresh cluster and operator")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    parser.add_argument("--serve-cluster", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_cluster:
        serve_cluster(args.serve_cluster)
        return
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    runs = []
    for index in range(args.repeat):
        run = run_once(args.models)
        runs.append(run)
        print(
            f"run {index + 1}/{args.repeat}: {run['reconciled_per_second']} reconciled/s, "
            f"raw {run['raw_create_per_second']['mean']}/s, ratio {run['ratio_to_raw_create_rate']}",
            file=sys.stderr,
            flush=True,
        )
    results = {
        "models": args.models,
        "topology": "three processes: cluster (API emulator + Job controller), operator (kopf run), client",
        "median": medians(runs),
        "runs": runs,
        "machine": machine(),
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
