"""POST /export with the real operator (kopf's KopfRunner) answering the upload handshake:
the extension PUTs the context to the operator's signed URL on fake-gcs-server, the operator
verifies the MD5 and starts the kaniko build Job from it."""

import asyncio

import nbformat

from tests.operator.conftest import GKE_CONFIG, running_operator


def _project(root):
    project = root / "project"
    project.mkdir()
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('train')")]), project / "finetune.ipynb"
    )
    return project


def _condition(obj, type_):
    return next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == type_), {})


async def _poll(check, timeout=30.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = await loop.run_in_executor(None, check)
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError("not reached in time")


async def test_export_through_the_real_operator(api, jp_root_dir, kube_emulator, kube_namespace, fake_gcs, signing_key):
    _project(jp_root_dir)
    fake_gcs.bucket("export-uploads")
    config = {
        **GKE_CONFIG,
        "UPLOAD_URL": "gs://export-uploads",
        "SIGNING_KEY_FILE": str(signing_key[0]),
        "GCS_ENDPOINT": fake_gcs.endpoint,
        "UPLOAD_POLL_SECONDS": "0.2",
    }
    # No base model or dataset: the operator would wait for them before it offers the upload.
    model = {"metadata": {"name": "ft"}, "spec": {"params": {"epochs": 1}}}

    with running_operator(kube_emulator, kube_namespace, config):
        created = await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": model})
        assert created.status == 201, created.body
        md5 = created.json["spec"]["build"]["upload"]["md5Checksum"]

        async def export_finished():
            for _ in range(300):
                status = (await api("GET", "/export/{name}", name="ft")).json
                if status["step"] in ("done", "skipped", "failed"):
                    return status
                await asyncio.sleep(0.1)
            raise AssertionError(status)

        status = await export_finished()
        assert status["step"] == "done", status["message"]
        uploaded = await _poll(
            lambda: (
                _condition(kube_emulator.get("models", "ft", kube_namespace), "Uploaded").get("reason") == "Succeeded"
                and kube_emulator.get("models", "ft", kube_namespace)
            )
        )
        assert uploaded["status"]["buildUpload"]["storedMD5Checksum"] == md5
        jobs = await _poll(
            lambda: [
                j
                for j in kube_emulator.list("jobs.batch", kube_namespace)
                if j["metadata"]["labels"].get("substratus.ai/role") == "build"
            ]
        )
        args = jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"]
        assert any(a.startswith("--context=gs://export-uploads/") and a.endswith(f"/{md5}.tar.gz") for a in args), args
