"""Local backend benchmark: wall time from "Export to Model" to a ready fine-tuned tiny model.

    .venv/bin/python benchmarks/local/bench_export.py [--runs 2] [--epochs 2]

Each run starts from a fresh state directory with a complete tiny Llama (imported by the real
model loader, not timed) and the toy dataset, then does what the export route does:
`prepare_export` on examples/notebook-from-directory and `ExportManager.start` on the local
backend, and watches the Model's status every 20 ms. The wall time splits into
- packaging: the build context (tar.gz of the directory) and the Model manifest;
- waiting: from the create to the trainer's process running (upload stored and unpacked,
  dependency checks, the job slot);
- training: from the trainer running to the first weights file written (papermill, the kernel,
  loading the model, the epochs);
- saving: from the first weights file to the completion marker (the rest of the notebook, the
  executed notebook written to artifacts/notebook/, the kernel's shutdown, manifest.json);
- reporting: from the completion marker to status.ready (process exit, the reconciler's write).
Prints the numbers and writes results.json beside this script.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from jupyter_substratus.backends.local import LocalBackend  # noqa: E402
from jupyter_substratus.export import ExportManager, prepare_export  # noqa: E402
from tests.images.fixtures import (  # noqa: E402
    TOY_PAIRS,
    build_tiny_model,
    toy_records,
    train_tokenizer,
    write_jsonl,
)

EXAMPLE = ROOT / "examples" / "notebook-from-directory"
POLL = 0.02


def resource(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def ready(backend: LocalBackend, plural: str, name: str) -> dict:
    while not (obj := await backend.get(plural, name))["status"].get("ready"):
        if any(
            c["status"] == "False" and c["reason"] in ("JobFailed", "InvalidSpec", "DependencyFailed")
            for c in obj["status"]["conditions"]
        ):
            raise RuntimeError(json.dumps(obj["status"]))
        await asyncio.sleep(POLL)
    return obj


async def one_run(work: Path, base_model: Path, data: Path, epochs: int) -> dict[str, float]:
    backend = LocalBackend(state_dir=work / "state", kernels_dir=work / "kernels")
    try:
        await backend.create(
            resource("Dataset", "toy", image="substratusai/dataset-loader-http", params={"urls": str(data)})
        )
        await backend.create(
            resource("Model", "tiny", image="substratusai/model-loader-huggingface", params={"name": str(base_model)})
        )
        await ready(backend, "datasets", "toy")
        await ready(backend, "models", "tiny")

        start = time.perf_counter()
        context, manifest = prepare_export(
            EXAMPLE,
            "finetune.ipynb",
            resource(
                "Model", "tuned", model={"name": "tiny"}, dataset={"name": "toy"}, params={"num_train_epochs": epochs}
            ),
        )
        packaged = time.perf_counter()
        exports = ExportManager(backend)
        await exports.start(context, manifest)
        running = None
        while True:
            obj = await backend.get("models", "tuned")
            reason = next((c["reason"] for c in obj["status"]["conditions"] if c["type"] == "Complete"), None)
            if running is None and reason == "Running":
                running = time.perf_counter()
            if obj["status"].get("ready"):
                done = time.perf_counter()
                break
            await asyncio.sleep(POLL)
        artifacts = backend.store.artifacts_dir("default", "models", "tuned")
        # mtimes are wall clock: convert through one pair of readings.
        offset = time.time() - time.perf_counter()
        first_weights = (
            min(p.stat().st_mtime for p in artifacts.iterdir() if p.name in ("config.json", "model.safetensors"))
            - offset
        )
        marker = (artifacts / ".complete").stat().st_mtime - offset
        return {
            "packaging_s": packaged - start,
            "waiting_s": running - packaged,
            "training_s": first_weights - running,
            "saving_s": marker - first_weights,
            "reporting_s": done - marker,
            "total_s": done - start,
        }
    finally:
        await backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="substratus-bench-") as tmp:
        root = Path(tmp)
        tokenizer = train_tokenizer([p + c for p, c in TOY_PAIRS] * 4)
        base_model = build_tiny_model("llama", root / "tiny-llama", tokenizer)
        data = write_jsonl(root / "toy.jsonl", toy_records())
        runs = []
        for index in range(args.runs):
            work = root / f"run-{index}"
            work.mkdir()
            runs.append(asyncio.run(one_run(work, base_model, data, args.epochs)))
            print(json.dumps({k: round(v, 2) for k, v in runs[-1].items()}), flush=True)
    import torch
    import transformers

    results = {
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
        },
        "model": "tiny Llama (tests/images/fixtures.py), examples/notebook-from-directory/finetune.ipynb",
        "epochs": args.epochs,
        "runs": [{k: round(v, 3) for k, v in run.items()} for run in runs],
        "median": {k: round(statistics.median(run[k] for run in runs), 3) for k in runs[0]},
    }
    (Path(__file__).parent / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["median"]))


if __name__ == "__main__":
    main()
