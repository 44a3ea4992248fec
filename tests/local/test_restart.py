"""Restart safety: the process hosting the backend dies during a fine-tune (SIGKILL, so nothing
is cleaned up; the trainer dies with it), and a new backend on the same state directory finds
finished artifacts intact, no trainer running, the fine-tune Interrupted (never ready), and re-runs it when it
is deleted and created again. A graceful stop marks a running job Interrupted too."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from jupyter_substratus.backends.local import LocalBackend
from tests.images.fixtures import toy_records, write_jsonl
from tests.local.conftest import manifest, reason, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return True
    return state == "Z"


@pytest.mark.slow
async def test_a_killed_server_leaves_the_fine_tune_interrupted_and_rerunnable(tmp_path, tiny_model_dirs):
    state = tmp_path / "state"
    data = write_jsonl(tmp_path / "toy.jsonl", toy_records())
    host = subprocess.Popen(
        [sys.executable, "-m", "tests.local.host", str(state), str(tiny_model_dirs["gpt2"]), str(data)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = host.stdout.readline()
        assert line.startswith("TRAINING"), line
        trainer = int(line.split()[1])
    finally:
        host.kill()
        host.wait()
    deadline = time.monotonic() + 5
    while not _gone(trainer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(trainer), "the trainer ends with its host"

    backend = LocalBackend(state_dir=state)
    try:
        tuned = await backend.get("models", "tuned")
        assert reason(tuned, "Complete") == "Interrupted" and not tuned["status"]["ready"]
        assert "Run it again" in tuned["status"]["conditions"][-1]["message"]
        assert not (backend.store.artifacts_dir("default", "models", "tuned") / ".complete").exists()
        for plural, name in (("models", "base"), ("datasets", "toy")):
            done = await backend.get(plural, name)
            assert done["status"]["ready"] and reason(done, "Complete") == "Succeeded"
            assert (backend.store.artifacts_dir("default", plural, name) / ".complete").exists()

        await backend.delete("models", "tuned")
        await backend.create(
            manifest(
                "Model",
                "tuned",
                image="substratusai/model-trainer-huggingface",
                model={"name": "base"},
                dataset={"name": "toy"},
                params={"max_steps": 1},
            )
        )
        tuned = await wait_for(backend, "models", "tuned", lambda o: o["status"]["ready"], timeout=180)
        assert reason(tuned, "Complete") == "Succeeded"
    finally:
        await backend.close()


async def test_a_graceful_stop_interrupts_running_jobs_and_requeues_waiting_ones(tmp_path, scripted_images):
    state = tmp_path / "state"
    first = LocalBackend(state_dir=state, images_dir=scripted_images)
    await first.create(manifest("Model", "slow", image="substratusai/model-loader-huggingface", params={"sleep": 30}))
    await first.create(manifest("Model", "next", image="substratusai/model-loader-huggingface"))
    running = await wait_for(first, "models", "slow", lambda o: reason(o, "Complete") == "Running")
    pid = int(running["status"]["conditions"][-1]["message"].rsplit("pid ", 1)[1].rstrip(")"))
    await first.close()
    assert _gone(pid)
    assert reason(await first.get("models", "slow"), "Complete") == "Interrupted"

    second = LocalBackend(state_dir=state, images_dir=scripted_images)
    try:
        done = await wait_for(second, "models", "next", lambda o: o["status"]["ready"], timeout=20)
        assert done["status"]["artifacts"]["url"].endswith("/models/next/content/artifacts")
        slow = await second.get("models", "slow")
        assert reason(slow, "Complete") == "Interrupted" and not slow["status"]["ready"]
        await second.create(manifest("Dataset", "data", image="substratusai/dataset-loader-http"))
        await second.create(
            manifest(
                "Model",
                "on-slow",
                image="substratusai/model-trainer-huggingface",
                model={"name": "slow"},
                dataset={"name": "data"},
            )
        )
        tuned = await wait_for(second, "models", "on-slow", lambda o: reason(o, "Complete") == "DependencyFailed")
        assert "Model slow failed (Interrupted)" in tuned["status"]["conditions"][-1]["message"]
    finally:
        await second.close()
