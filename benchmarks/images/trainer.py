"""Trainer benchmark: images/model-trainer-huggingface/train.py against a plain transformers Trainer
script, on the same model, data and training arguments, in the same run.

Both sides run as subprocesses with the same torch thread count, alternating which goes first
round by round:
  - substratus: the trainer program on a content dir (model/, data/, params.json), as the local
    backend runs it (its defaults: a progress line every 1% of the steps; the completion marker);
  - plain: this file with --plain, the script a user would write: datasets.Dataset from the
    JSONL, tokenized, DataCollatorForLanguageModeling, Trainer with its default logging, then
    save_pretrained. Its only addition is a callback that prints the step at 10% and 100% of the
    steps, the benchmark's markers.
Steady-state steps/s runs from the step at 10% of the steps to the last, so one-time costs of
the first steps (lazy imports, warm-up) count for neither side: the trainer's progress lines for
those steps and the plain script's markers, each read from the pipe as it is printed. Two
clocks: CPU seconds of the process (/proc/PID/stat; with one torch thread, the work per step,
which the other load on a shared machine moves least) and wall seconds. Trainer's own
train_steps_per_second (the whole train() call) and the whole process's CPU and wall seconds
(imports, loading, tokenizing, saving) are reported too.

    .venv/bin/python benchmarks/images/trainer.py [--rounds 5] [--steps 1000] [--batch 8]

Writes trainer.json and trainer.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TRAINER = ROOT / "images" / "model-trainer-huggingface"
TARGET = 0.95
TICKS = os.sysconf("SC_CLK_TCK")


def plain(content: Path, steps: int, batch: int, learning_rate: float) -> None:
    """The baseline: a plain transformers fine-tuning script (plus the benchmark's step markers)."""
    from datasets import Dataset
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    class Markers(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step in (first_marked(steps), steps):
                print(json.dumps({"step": state.global_step}), flush=True)

    tokenizer = AutoTokenizer.from_pretrained(content / "model")
    model = AutoModelForCausalLM.from_pretrained(content / "model")
    records = [json.loads(line) for line in (content / "data" / "train.jsonl").read_text().splitlines()]
    dataset = Dataset.from_list(records).map(
        lambda r: tokenizer(r["prompt"] + r["completion"] + tokenizer.eos_token),
        remove_columns=["prompt", "completion"],
    )
    with tempfile.TemporaryDirectory() as output:
        arguments = TrainingArguments(
            output_dir=output,
            max_steps=steps,
            per_device_train_batch_size=batch,
            learning_rate=learning_rate,
            save_strategy="no",
            report_to="none",
        )
        trainer = Trainer(
            model=model,
            args=arguments,
            train_dataset=dataset,
            data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
            callbacks=[Markers()],
        )
        metrics = trainer.train().metrics
    model.save_pretrained(content / "artifacts")
    tokenizer.save_pretrained(content / "artifacts")
    (content / "artifacts" / "metrics.json").write_text(json.dumps(metrics))


def first_marked(steps: int) -> int:
    """The step the measurement starts at: 10% of the steps, a multiple of the trainer's log interval."""
    interval = max(1, -(-steps // 100))  # the trainer logs every ceil(1% of the steps)
    return max(interval, steps // 10 // interval * interval)


def make_content(root: Path) -> Path:
    """A complete model (a small Llama from a config, BPE tokenizer trained on the data) and dataset."""
    sys.path.insert(0, str(ROOT))
    from tests.images.fixtures import TOY_PAIRS, build_tiny_model, mark_complete, train_tokenizer, write_jsonl

    records = [
        {"prompt": f"{prompt} ({i})", "completion": completion} for i in range(16) for prompt, completion in TOY_PAIRS
    ]
    tokenizer = train_tokenizer([r["prompt"] + r["completion"] for r in records])
    model = build_tiny_model("llama", root / "model", tokenizer)
    mark_complete(model, kind="model", source="benchmark-tiny-llama")
    write_jsonl(root / "data" / "train.jsonl", records)
    mark_complete(root / "data", kind="dataset")
    return root


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) the running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def step_of(line: str) -> int | None:
    try:
        found = json.loads(line)
    except json.JSONDecodeError:
        return None
    return found.get("step") if isinstance(found, dict) else None


def run_once(kind: str, base: Path, args) -> dict:
    content = base / f"{kind}-{time.monotonic_ns()}"
    content.mkdir()
    for name in ("model", "data"):
        (content / name).symlink_to(base / name, target_is_directory=True)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "HF_HUB_OFFLINE": "1",
        "CONTENT_DIR": str(content),
        "TERMINATION_LOG": str(content / "termination-log"),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join([str(TRAINER), str(ROOT / "images" / "common")]),
    }
    if kind == "substratus":
        params = {"max_steps": args.steps, "learning_rate": args.lr, "per_device_train_batch_size": args.batch}
        (content / "params.json").write_text(json.dumps(params))
        command = [sys.executable, str(TRAINER / "train.py")]
    else:
        options = ["--steps", str(args.steps), "--batch", str(args.batch), "--lr", str(args.lr)]
        command = [sys.executable, __file__, "--plain", str(content), *options]
    marked = (first_marked(args.steps), args.steps)
    marks: dict[int, tuple[float, float]] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with (content / "stderr.txt").open("w") as stderr:
        process = subprocess.Popen(command, cwd=content, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        for line in process.stdout:
            step = step_of(line)
            if step in marked:
                marks[step] = (process_cpu(process.pid), time.perf_counter())
        process.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0 or len(marks) != 2:
        raise SystemExit(f"{kind} failed ({process.returncode}): {(content / 'stderr.txt').read_text()[-2000:]}")
    source = content / "artifacts" / ("manifest.json" if kind == "substratus" else "metrics.json")
    metrics = json.loads(source.read_text())
    steps = marked[1] - marked[0]
    (cpu_from, wall_from), (cpu_to, wall_to) = marks[marked[0]], marks[marked[1]]
    return {
        "cpu_steps_per_second": round(steps / (cpu_to - cpu_from), 2),
        "wall_steps_per_second": round(steps / (wall_to - wall_from), 2),
        "trainer_steps_per_second": round(metrics["train_steps_per_second"], 2),
        "process_cpu_seconds": round(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 2),
        "process_wall_seconds": round(wall, 2),
    }


def machine() -> dict:
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both sides")
    parser.add_argument("--plain", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain, args.steps, args.batch, args.lr)
        return

    rounds: list[dict[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = make_content(Path(tmp))
        for index in range(args.rounds):
            rounds.append({})
            for kind in ("substratus", "plain") if index % 2 == 0 else ("plain", "substratus"):
                rounds[-1][kind] = run_once(kind, base, args)
                print(index, kind, rounds[-1][kind], flush=True)
    write_results(summarize(rounds, args))


def summarize(rounds: list[dict[str, dict]], args) -> dict:
    """Medians per side, and the median of the per-round ratios substratus / plain."""
    median = {
        kind: {key: round(statistics.median(r[kind][key] for r in rounds), 2) for key in rounds[0][kind]}
        for kind in ("substratus", "plain")
    }
    ratios = {
        key: [round(r["substratus"][key] / r["plain"][key], 3) for r in rounds]
        for key in ("cpu_steps_per_second", "wall_steps_per_second", "trainer_steps_per_second")
    }
    headline = statistics.median(ratios["cpu_steps_per_second"])
    return {
        "setup": {
            "model": "Llama from a config (hidden 64, 2 layers), BPE vocab 400",
            "examples": 128,
            "steps": args.steps,
            "measured_steps": f"{first_marked(args.steps)}..{args.steps}",
            "batch": args.batch,
            "learning_rate": args.lr,
            "threads": args.threads,
            "rounds": args.rounds,
        },
        "median": median,
        "ratio": {key: statistics.median(found) for key, found in ratios.items()},
        "ratio_per_round": ratios,
        "target": TARGET,
        "target_met": headline >= TARGET,
        "rounds": rounds,
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def write_results(results: dict) -> None:
    (HERE / "trainer.json").write_text(json.dumps(results, indent=2) + "\n")
    s, p, m = results["median"]["substratus"], results["median"]["plain"], results["machine"]
    setup, ratio, per_round = results["setup"], results["ratio"], results["ratio_per_round"]

    def spread(key: str) -> str:
        return ", ".join(map(str, per_round[key]))

    (HERE / "trainer.md").write_text(
        "# Trainer benchmark: results\n\n"
        f"`trainer.json` is the last run of `trainer.py` ({results['date']}): {setup['model']}, "
        f"{setup['examples']} prompt/completion examples, {setup['steps']} steps of batch {setup['batch']} "
        f"(steady state measured over steps {setup['measured_steps']}), {setup['threads']} torch thread(s), "
        f"{setup['rounds']} rounds (each runs both sides back to back, alternating which goes first), medians.\n\n"
        f"Machine: {m['cpu']}, {m['cores']} cores, shared with other engineers' test runs (load average "
        f"{', '.join(map(str, m['load_average']))} at the end), Python {m['python']}, torch {m['torch']}, "
        f"transformers {m['transformers']}.\n\n"
        "| | steps/s (CPU clock) | steps/s (wall clock) | Trainer's train() steps/s | process CPU s "
        "| process wall s |\n| --- | --- | --- | --- | --- | --- |\n"
        f"{_row('substratus trainer', s)}{_row('plain Trainer script', p)}\n"
        "Ratio substratus / plain (median of the per-round ratios):\n\n"
        f"- steady-state steps/s, CPU clock: **{ratio['cpu_steps_per_second']}** (target >= {results['target']}: "
        f"{'met' if results['target_met'] else 'NOT met'}); per round {spread('cpu_steps_per_second')}\n"
        f"- steady-state steps/s, wall clock: {ratio['wall_steps_per_second']}; per round "
        f"{spread('wall_steps_per_second')}\n"
        f"- Trainer's train_steps_per_second (whole train(), first steps included): "
        f"{ratio['trainer_steps_per_second']}; per round {spread('trainer_steps_per_second')}\n\n"
        "Each side keeps its defaults: the substratus trainer logs every 1% of the steps (a progress line to "
        "stdout and progress.jsonl), the plain script every 500 steps (Trainer's default); the trainer feeds "
        "token lists through a small padding collator, the plain script a datasets.Dataset through "
        "DataCollatorForLanguageModeling; both save the model at the end, the trainer also hashes its outputs "
        "for the completion marker. The CPU clock is the headline: the wall-clock rates move with the other "
        "load on this shared 2-core machine (see the per-round spread).\n"
    )
    print((HERE / "trainer.md").read_text())


def _row(name: str, median: dict) -> str:
    keys = (
        "cpu_steps_per_second",
        "wall_steps_per_second",
        "trainer_steps_per_second",
        "process_cpu_seconds",
        "process_wall_seconds",
    )
    return f"| {name} | " + " | ".join(f"{median[key]:.2f}" for key in keys) + " |\n"


if __name__ == "__main__":
    main()
