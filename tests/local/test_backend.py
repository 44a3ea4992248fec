"""The local backend's own behaviour, with scripted stand-in programs: validation, immutability,
dependencies, the job slot, failures, clusters-only features, uploads, logs and changes."""

import asyncio
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from jupyter_substratus.api.workloads import CANCEL_ANNOTATION
from jupyter_substratus.backends import BadRequest, Conflict, Invalid, NotFound
from tests.local.conftest import manifest, reason, wait_for

LOADER = "substratusai/model-loader-huggingface"
DATA_LOADER = "substratusai/dataset-loader-http:v0.2"
TRAINER = "substratusai/model-trainer-huggingface"


async def test_create_validates_and_model_specs_are_immutable(scripted_backend):
    backend = scripted_backend
    with pytest.raises(Invalid) as invalid:
        await backend.create(manifest("Model", "m", image=LOADER, bogus=1))
    assert any("bogus" in e.path for e in invalid.value.errors)
    created = await backend.create(manifest("Model", "m", image=LOADER))
    assert created["metadata"]["namespace"] == "default" and created["metadata"]["generation"] == 1
    with pytest.raises(Conflict):
        await backend.create(manifest("Model", "m", image=LOADER))
    with pytest.raises(Invalid, match="immutable"):
        await backend.replace(manifest("Model", "m", image=LOADER, params={"sleep": 1}))
    labelled = manifest("Model", "m", image=LOADER)
    labelled["metadata"]["labels"] = {"team": "a"}
    assert (await backend.replace(labelled))["metadata"]["labels"] == {"team": "a"}
    await backend.create(manifest("Server", "s", image="substratusai/model-server", model={"name": "m"}))
    changed = await backend.replace(
        manifest("Server", "s", image="substratusai/model-server", model={"name": "m"}, params={"max_new_tokens": 8})
    )
    assert changed["metadata"]["generation"] == 2
    await backend.delete("servers", "s")
    with pytest.raises(NotFound):
        await backend.get("servers", "s")


async def test_a_fine_tune_waits_for_its_inputs_and_jobs_take_turns(scripted_backend):
    backend = scripted_backend
    changes = await backend.changes()  # read at the end: a stream keeps what happens after it opens
    await backend.create(manifest("Model", "tuned", image=TRAINER, model={"name": "base"}, dataset={"name": "data"}))
    tuned = await wait_for(backend, "models", "tuned", lambda o: reason(o, "Complete") == "DependencyNotFound")
    assert "Model base" in tuned["status"]["conditions"][0]["message"]
    await backend.create(manifest("Model", "base", image=LOADER, params={"sleep": 1.5}))
    await backend.create(manifest("Dataset", "data", image=DATA_LOADER, params={"sleep": 0.2}))
    # One slot: the dataset is queued while the base model loads.
    await wait_for(backend, "models", "base", lambda o: reason(o, "Complete") == "Running")
    data = await wait_for(backend, "datasets", "data", lambda o: reason(o, "Complete") == "Starting")
    assert "queued" in data["status"]["conditions"][0]["message"]
    tuned = await backend.get("models", "tuned")
    assert reason(tuned, "Complete") == "WaitingForDependency"
    tuned = await wait_for(backend, "models", "tuned", lambda o: o["status"]["ready"], timeout=30)
    assert tuned["status"]["image"] == TRAINER
    artifacts = tuned["status"]["artifacts"]["url"]
    assert artifacts.startswith("file://") and artifacts.endswith("/models/tuned/content/artifacts")
    out = (backend.store.artifacts_dir("default", "models", "tuned") / "out.txt").read_text()
    assert out.split("\n")[0] == "artifacts data model params.json"
    seen = []
    async with asyncio.timeout(5):
        async for event in changes:
            seen.append((event.type, event.object["metadata"]["name"], event.object["status"]["ready"]))
            if seen[-1] == ("MODIFIED", "tuned", True):
                break
    await changes.aclose()
    assert ("ADDED", "base", False) in seen and ("MODIFIED", "base", True) in seen
    lines = [line async for line in backend.logs("models", "tuned")]
    assert lines == ["started", "done"]


async def test_a_failure_carries_its_reason_to_dependents(scripted_backend):
    backend = scripted_backend
    await backend.create(manifest("Dataset", "bad", image=DATA_LOADER, params={"fail": "no such file: x.jsonl"}))
    await backend.create(manifest("Model", "base", image=LOADER))
    await backend.create(manifest("Model", "tuned", image=TRAINER, model={"name": "base"}, dataset={"name": "bad"}))
    bad = await wait_for(backend, "datasets", "bad", lambda o: reason(o, "Complete") == "JobFailed")
    assert bad["status"]["conditions"][0]["message"] == "no such file: x.jsonl"
    tuned = await wait_for(backend, "models", "tuned", lambda o: reason(o, "Complete") == "DependencyFailed")
    assert "no such file" in tuned["status"]["conditions"][0]["message"]

    again = await backend.rerun("datasets", "bad")  # the same spec fails the same way, from the start
    assert again["metadata"]["uid"] != bad["metadata"]["uid"]
    await wait_for(backend, "datasets", "bad", lambda o: reason(o, "Complete") == "JobFailed")
    await backend.delete("datasets", "bad")  # fixed: the fine-tune waiting on it goes on
    await backend.create(manifest("Dataset", "bad", image=DATA_LOADER))
    await wait_for(backend, "models", "tuned", lambda o: o["status"]["ready"])


async def test_cancel_marks_the_run_and_a_rerun_forgets_it(scripted_backend):
    backend = scripted_backend
    await backend.create(manifest("Dataset", "quick", image=DATA_LOADER))
    await wait_for(backend, "datasets", "quick", lambda o: o["status"]["ready"])
    with pytest.raises(Conflict, match="complete"):
        await backend.cancel("datasets", "quick")
    with pytest.raises(BadRequest, match="only Models and Datasets"):
        await backend.cancel("servers", "quick")
    with pytest.raises(NotFound):
        await backend.cancel("models", "missing")

    await backend.create(manifest("Dataset", "slow", image=DATA_LOADER, params={"sleep": 30}))
    await wait_for(backend, "datasets", "slow", lambda o: reason(o, "Complete") == "Running")
    changes = await backend.changes()
    cancelled = await backend.cancel("datasets", "slow")
    requested = cancelled["metadata"]["annotations"][CANCEL_ANNOTATION]
    assert backend.store.read("default", "datasets", "slow")["metadata"]["annotations"] == {
        CANCEL_ANNOTATION: requested
    }
    async with asyncio.timeout(5):  # published, as every write is, which wakes the reconciler
        event = await anext(changes)
    await changes.aclose()
    assert event.object["metadata"]["annotations"] == {CANCEL_ANNOTATION: requested}

    again = await backend.rerun("datasets", "slow")
    assert again["metadata"]["uid"] != cancelled["metadata"]["uid"]
    assert CANCEL_ANNOTATION not in (again["metadata"].get("annotations") or {})


async def test_what_needs_a_cluster_says_so(scripted_backend):
    backend = scripted_backend
    await backend.create(manifest("Model", "foreign", image="ghcr.io/someone/trainer:1"))
    await backend.create(manifest("Model", "git", build={"git": {"url": "https://github.com/x/y"}}))
    await backend.create(manifest("Model", "secret", image=LOADER, env={"HF_TOKEN": "${{ secrets.hf.token }}"}))
    for name in ("foreign", "git", "secret"):
        obj = await wait_for(backend, "models", name, lambda o: reason(o, "Complete") == "InvalidSpec")
        message = next(c["message"] for c in obj["status"]["conditions"] if c["type"] == "Complete")
        assert "cluster" in message and not obj["status"]["ready"], message
    git = await backend.get("models", "git")
    assert reason(git, "Built") == "BuildFailed"


def _context(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


async def test_an_uploaded_context_runs_its_notebook_here(scripted_backend):
    backend = scripted_backend
    dockerfile = f'FROM {TRAINER}\nCOPY . /content/src\nENV TRAINER_NOTEBOOK="/content/src/nb.ipynb"\n'
    data = _context({"Dockerfile": dockerfile, "nb.ipynb": "{}"})
    md5 = hashlib.md5(data).hexdigest()
    await backend.create(manifest("Model", "base", image=LOADER))
    await backend.create(
        manifest("Model", "tuned", model={"name": "base"}, build={"upload": {"md5Checksum": md5, "requestID": "r1"}})
    )
    waiting = await wait_for(backend, "models", "tuned", lambda o: reason(o, "Uploaded") == "AwaitingUpload")
    assert not waiting["status"]["ready"]
    with pytest.raises(BadRequest):
        await backend.upload("models", "tuned", data + b"x", md5, "r1")
    with pytest.raises(BadRequest):
        await backend.upload("models", "tuned", data, md5, "another-request")
    steps = []
    done = await backend.upload("models", "tuned", data, md5, "r1", progress=lambda p: steps.append(p.step))
    assert done.step == "done" and steps == ["uploading", "done"]
    assert (await backend.upload("models", "tuned", data, md5, "r1")).step == "skipped"
    tuned = await wait_for(backend, "models", "tuned", lambda o: o["status"]["ready"], timeout=30)
    assert reason(tuned, "Uploaded") == "Succeeded" and reason(tuned, "Built") == "Succeeded"
    assert tuned["status"]["buildUpload"]["storedMD5Checksum"] == md5
    out = (backend.store.artifacts_dir("default", "models", "tuned") / "out.txt").read_text()
    assert out.split("\n")[1].endswith("/models/tuned/upload/src/nb.ipynb")


async def test_an_upload_on_another_base_image_needs_a_cluster(scripted_backend):
    backend = scripted_backend
    data = _context({"Dockerfile": "FROM nvcr.io/nvidia/pytorch:24.01\n"})
    md5 = hashlib.md5(data).hexdigest()
    await backend.create(manifest("Model", "custom", build={"upload": {"md5Checksum": md5, "requestID": "r"}}))
    await backend.upload("models", "custom", data, md5, "r")
    custom = await wait_for(backend, "models", "custom", lambda o: reason(o, "Complete") == "InvalidSpec")
    assert "need a cluster" in custom["status"]["conditions"][-1]["message"]


async def test_logs_follow_a_running_job(scripted_backend):
    backend = scripted_backend
    with pytest.raises(NotFound):
        [line async for line in backend.logs("models", "nothing")]
    await backend.create(manifest("Model", "slow", image=LOADER, params={"sleep": 1}))
    await wait_for(backend, "models", "slow", lambda o: reason(o, "Complete") == "Running")
    lines = [line async for line in backend.logs("models", "slow", follow=True)]
    assert lines == ["started", "done"]
    assert [line async for line in backend.logs("models", "slow", tail_lines=1)] == ["done"]


async def test_a_notebook_is_a_kernel_spec_with_the_content_linked(scripted_backend, tmp_path):
    backend = scripted_backend
    await backend.create(manifest("Model", "base", image=LOADER))
    notebook = manifest(
        "Notebook", "nb", image="substratusai/notebook-base", model={"name": "base"}, params={"lr": 0.1}
    )
    await backend.create(notebook)
    ready = await wait_for(backend, "notebooks", "nb", lambda o: o["status"]["ready"])
    assert ready["status"]["url"] == "/lab" and reason(ready, "Serving") == "Running"
    spec = json.loads((tmp_path / "kernels" / "substratus-default-nb" / "kernel.json").read_text())
    assert spec["display_name"] == "Substratus: nb" and spec["env"]["PARAM_LR"] == "0.1"
    content = Path(spec["env"]["CONTENT_DIR"])
    assert (content / "model").resolve() == backend.store.artifacts_dir("default", "models", "base").resolve()
    assert json.loads((content / "params.json").read_text()) == {"lr": 0.1}
    await backend.replace({**notebook, "spec": {**notebook["spec"], "suspend": True}})
    suspended = await wait_for(backend, "notebooks", "nb", lambda o: reason(o, "Serving") == "Suspended")
    assert not suspended["status"]["ready"] and not (tmp_path / "kernels" / "substratus-default-nb").exists()


async def test_a_notebook_watched_for_idleness_says_that_applies_on_a_cluster(scripted_backend):
    backend = scripted_backend
    notebook = manifest("Notebook", "nb", image="substratusai/notebook-base", suspendAfterIdle="30m")
    await backend.create(notebook)
    ready = await wait_for(backend, "notebooks", "nb", lambda o: o["status"]["ready"])
    message = next(c["message"] for c in ready["status"]["conditions"] if c["type"] == "Serving")
    assert message.endswith("suspendAfterIdle applies on a cluster: here the kernels are this Lab's own")
    assert "lastActivity" not in ready["status"] and not ready["spec"].get("suspend")
