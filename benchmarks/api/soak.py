"""Soak: the Jupyter server's memory stays bounded under slow SSE clients, exports and many resources.

    .venv/bin/python benchmarks/api/soak.py [--clients 20] [--idle 5] [--exports 20] [--resources 200]
                                            [--rounds 5] [--bound-mb 50]

Starts `jupyter server` with the extension on the local backend (no cluster configured) as a
subprocess, opens `--clients` SSE streams of which `--idle` never read a byte after the headers
(with a small receive buffer, so the server's writes to them block), creates `--resources`
Models (with an image that needs a cluster, so nothing runs), changes each of them `--rounds`
times (every change is an event for every stream), and exports `--exports` notebooks, each
with 2 MB of incompressible data. The server's RSS is sampled throughout; the script prints
the start, peak and end values beside the bound (start + `--bound-mb`) and exits 1 past it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import lab_server  # beside this script
import psutil

ROOT = Path(__file__).resolve().parents[1].parent
IMAGE = "example.com/custom/model:1"  # not a built-in image: the local backend runs nothing for it


class Api:
    def __init__(self, port: int, token: str):
        self.port, self.headers = port, {"Authorization": f"token {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes]:
        self.connection.request(
            method, f"/substratus/api/v1{path}", body=None if body is None else json.dumps(body), headers=self.headers
        )
        response = self.connection.getresponse()
        return response.status, response.read()


def sse_client(port: int, token: str, reading: bool, stop: threading.Event, counts: list[int]) -> socket.socket:
    sock = socket.socket()
    if not reading:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(
        f"GET /substratus/api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: token {token}\r\n\r\n".encode()
    )
    if reading:

        def read() -> None:
            sock.settimeout(1.0)
            while not stop.is_set():
                try:
                    chunk = sock.recv(1 << 16)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                counts.append(chunk.count(b"data: "))

        threading.Thread(target=read, daemon=True).start()
    return sock


def notebook_dir(root: Path, i: int) -> str:
    folder = root / f"export-{i:02d}"
    folder.mkdir()
    (folder / "train.ipynb").write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (folder / "data.bin").write_bytes(os.urandom(2_000_000))
    return f"export-{i:02d}/train.ipynb"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--idle", type=int, default=5)
    parser.add_argument("--exports", type=int, default=20)
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bound-mb", type=float, default=50.0)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="substratus-soak-"))
    token, port = secrets.token_hex(16), lab_server.free_port()
    server = lab_server.start(
        scratch,
        port,
        token,
        f"--SubstratusExtension.local_state_dir={scratch / 'state'}",
        env={"KUBECONFIG": str(scratch / "no-kubeconfig")},
    )
    process = psutil.Process(server.pid)
    stop = threading.Event()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                api = Api(port, token)
                if api.call("GET", "")[0] == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        paths = [notebook_dir(scratch, i) for i in range(args.exports)]
        start = process.memory_info().rss
        peak = [start]

        def sample() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], process.memory_info().rss)
                time.sleep(0.1)

        threading.Thread(target=sample, daemon=True).start()
        counts: list[int] = []
        clients = [sse_client(port, token, i >= args.idle, stop, counts) for i in range(args.clients)]
        began = time.monotonic()
        models = [
            {
                "apiVersion": "substratus.ai/v1",
                "kind": "Model",
                "metadata": {"name": f"m-{i:04d}"},
                "spec": {"image": IMAGE, "params": {"name": "x" * 2000}},
            }
            for i in range(args.resources)
        ]
        for model in models:
            assert api.call("POST", "/models", model)[0] == 201
        for round_ in range(args.rounds):
            for model in models:
                model["metadata"]["labels"] = {"round": str(round_)}
                status, body = api.call("PUT", f"/models/{model['metadata']['name']}", model)
                assert status == 200, body
        for i, path in enumerate(paths):
            fine_tune = {"metadata": {"name": f"tuned-{i:02d}"}, "spec": {"model": {"name": "m-0000"}}}
            status, body = api.call("POST", "/export", {"path": path, "model": fine_tune})
            assert status == 201, body
        time.sleep(3)  # the uploads finish; the idle clients stay stuck
        end = process.memory_info().rss
        elapsed = time.monotonic() - began
        for sock in clients:
            sock.close()
    finally:
        stop.set()
        server.terminate()
        server.wait(30)

    bound = start + args.bound_mb * 1e6
    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "clients": args.clients,
        "idle_clients": args.idle,
        "resources": args.resources,
        "rounds": args.rounds,
        "exports": args.exports,
        "events_read": sum(counts),
        "seconds": round(elapsed, 1),
        "rss_start_mb": round(start / 1e6, 1),
        "rss_peak_mb": round(peak[0] / 1e6, 1),
        "rss_end_mb": round(end / 1e6, 1),
        "rss_bound_mb": round(bound / 1e6, 1),
    }
    print(json.dumps(result, indent=1))
    print(
        f"RSS start {result['rss_start_mb']} MB, peak {result['rss_peak_mb']} MB, end {result['rss_end_mb']} MB; "
        f"bound {result['rss_bound_mb']} MB: {'OK' if peak[0] <= bound else 'OVER'}"
    )
    sys.exit(0 if peak[0] <= bound else 1)


if __name__ == "__main__":
    main()
