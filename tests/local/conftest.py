"""The local backend, direct and behind a real jupyter_server (pytest-jupyter).

`scripted_images` is an images directory whose built-in loaders run a small scripted job (sleep,
fail with a reason, or complete), so the reconciler's lifecycle is tested in seconds; the
end-to-end tests use the real images/ programs.
"""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - the jp_* fixtures and their async test runner

from jupyter_substratus.backends.local import LocalBackend

SCRIPTED_JOB = textwrap.dedent('''
    """A stand-in job following the container contract: PARAM_PROGRESS as its progress line,
    PARAM_SLEEP seconds, then fail with PARAM_FAIL as the reason, or write artifacts/out.txt and
    the completion marker."""
    import os, sys, time
    from pathlib import Path

    content = Path(os.environ["CONTENT_DIR"])
    print("started", flush=True)
    if os.environ.get("PARAM_PROGRESS"):  # one progress line, as the trainer writes them
        print(os.environ["PARAM_PROGRESS"], flush=True)
        with (content / "artifacts" / "progress.jsonl").open("a") as progress:
            progress.write(os.environ["PARAM_PROGRESS"] + "\\n")
    time.sleep(float(os.environ.get("PARAM_SLEEP", "0")))
    if os.environ.get("PARAM_FAIL"):
        Path(os.environ["TERMINATION_LOG"]).write_text(os.environ["PARAM_FAIL"])
        sys.exit(1)
    inputs = sorted(p.name for p in content.iterdir())
    notebook = os.environ.get("TRAINER_NOTEBOOK", "")
    (content / "artifacts" / "out.txt").write_text(" ".join(inputs) + "\\n" + notebook)
    (content / "artifacts" / ".complete").touch()
    print("done", flush=True)
''')


@pytest.fixture
def scripted_images(tmp_path) -> Path:
    root = tmp_path / "images"
    (root / "common").mkdir(parents=True)
    for name in ("model-loader-huggingface", "dataset-loader-http", "model-trainer-huggingface"):
        (root / name).mkdir()
        (root / name / "Dockerfile").write_text(
            'FROM python:3.11-slim\nCOPY job.py /app/\nENTRYPOINT ["python", "/app/job.py"]\n'
        )
        (root / name / "job.py").write_text(SCRIPTED_JOB)
    return root


@pytest.fixture
def scripted_backend(tmp_path, scripted_images, jp_asyncio_loop):
    backend = LocalBackend(state_dir=tmp_path / "state", images_dir=scripted_images, kernels_dir=tmp_path / "kernels")
    yield backend
    jp_asyncio_loop.run_until_complete(backend.close())


def manifest(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def wait_for(backend, plural: str, name: str, predicate, timeout: float = 60.0) -> dict:
    """Poll until predicate(resource) holds; the last state is in the assertion message."""
    obj = None
    try:
        async with asyncio.timeout(timeout):
            while not predicate(obj := await backend.get(plural, name)):
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"{plural}/{name} after {timeout} s: {dump(obj)}") from None
    return obj


def reason(obj: dict, condition_type: str) -> str | None:
    found = [c for c in obj.get("status", {}).get("conditions", []) if c["type"] == condition_type]
    return found[0]["reason"] if found else None


def dump(obj) -> str:
    return json.dumps(obj, indent=1)
