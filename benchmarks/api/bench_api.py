"""REST API benchmark: list latency with 1,000 resources, and push-channel delay.

    .venv/bin/python benchmarks/api/bench_api.py [--resources 1000] [--lists 300] [--changes 100]

Runs the Kubernetes API emulator (testing/kubeemu) in this process, fills a namespace with
Models, starts `jupyter server` with the extension as a real subprocess pointed at the
emulator, then measures over HTTP:
- GET /substratus/api/v1/models (the whole list, as JSON) latency, p50/p99;
- the delay from a status change written to the API server to its `data:` message on
  GET /substratus/api/v1/events, p50/p99.
Prints the numbers and writes them to results.json beside this script.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import lab_server  # noqa: E402 - beside this script
from kubeemu.harness import KubeCluster  # noqa: E402

NAMESPACE = "bench"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _summary(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": round(_percentile(ms, 0.5), 2),
        "p99_ms": round(_percentile(ms, 0.99), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--lists", type=int, default=300)
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="substratus-bench-"))
    token = secrets.token_hex(16)
    port = lab_server.free_port()
    with KubeCluster(kubeconfig=scratch / "kubeconfig", history_limit=2000) as cluster:
        for path in sorted((ROOT / "crds").glob("*.yaml")):
            cluster.post_crds(path)
        cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        for i in range(args.resources):
            cluster.create(
                {
                    "apiVersion": "substratus.ai/v1",
                    "kind": "Model",
                    "metadata": {"name": f"model-{i:04d}", "namespace": NAMESPACE},
                    "spec": {"image": "substratusai/model-loader-huggingface", "params": {"name": f"org/model-{i}"}},
                },
                NAMESPACE,
            )
        server = lab_server.start(
            scratch,
            port,
            token,
            f"--SubstratusExtension.namespace={NAMESPACE}",
            env={"KUBECONFIG": str(scratch / "kubeconfig")},
        )
        try:
            results = _measure(cluster, port, token, args)
        finally:
            server.terminate()
            server.wait(30)
    results["machine"] = {
        "cpu": _cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    results["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps(results, indent=2))
    (Path(__file__).parent / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _measure(cluster: KubeCluster, port: int, token: str, args) -> dict:
    headers = {"Authorization": f"token {token}"}
    path = "/substratus/api/v1/models"
    deadline = time.monotonic() + 60
    while True:  # the server is up and its cache synced
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = response.read()
            if response.status == 200 and len(json.loads(body)["items"]) == args.resources:
                break
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the Jupyter server did not come up with the extension")
        time.sleep(0.2)

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    size = 0
    for _ in range(args.lists):
        start = time.perf_counter()
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        latencies.append(time.perf_counter() - start)
        assert response.status == 200
        size = len(body)

    arrivals: dict[str, float] = {}
    ready = threading.Event()
    events = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    events.request("GET", "/substratus/api/v1/events?kinds=models", headers=headers)
    stream = events.getresponse()

    def read() -> None:
        buffer = b""
        while len(arrivals) < args.changes:
            chunk = stream.read1(65536)
            if not chunk:
                return
            buffer += chunk
            if not ready.is_set() and b"connected" in buffer:
                ready.set()
            while b"\n\n" in buffer:
                message, buffer = buffer.split(b"\n\n", 1)
                if message.startswith(b"data: "):
                    event = json.loads(message[6:])
                    marker = (event["object"].get("status") or {}).get("image", "")
                    if marker.startswith("bench-") and marker not in arrivals:
                        arrivals[marker] = time.perf_counter()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(30)
    sent: dict[str, float] = {}
    for i in range(args.changes):
        marker = f"bench-{i}"
        sent[marker] = time.perf_counter()
        cluster.patch_status("models", f"model-{i % args.resources:04d}", {"image": marker}, NAMESPACE)
        time.sleep(0.01)
    reader.join(30)
    events.close()
    delays = [arrivals[m] - sent[m] for m in sent if m in arrivals]
    return {
        "resources": args.resources,
        "list_bytes": size,
        "list_latency": _summary(latencies),
        "push_delay": {**_summary(delays), "lost": args.changes - len(delays)},
    }


if __name__ == "__main__":
    main()
