"""POST /export: a notebook's directory -> a Model, with the upload handshake against
fake-gcs-server (the operator's upload step acted by tests.extension.gcs.OperatorUploadStep)."""

import asyncio
import io
import json
import tarfile

import nbformat


def _project(root):
    project = root / "project"
    project.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('train')")])
    nbformat.write(nb, project / "finetune.ipynb")
    (project / "helpers.py").write_text("X = 1\n")
    (project / "secret.env").write_text("TOKEN=x\n")
    (project / ".dockerignore").write_text("*.env\n")
    return project


def _model(name):
    return {
        "apiVersion": "substratus.ai/v1",
        "kind": "Model",
        "metadata": {"name": name},
        "spec": {
            "model": {"name": "opt"},
            "dataset": {"name": "squad"},
            "params": {"epochs": 1},
            "resources": {"gpu": {"type": "nvidia-l4", "count": 1}},
        },
    }


async def _answer_upload(operator_upload, kube_emulator, name, namespace):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, operator_upload.answer, kube_emulator, "models", name, namespace)


async def _until_finished(api, name):
    for _ in range(600):  # up to 30 s on a busy machine
        status = await api("GET", "/export/{name}", name=name)
        assert status.status == 200
        if status.json["step"] in ("done", "skipped", "failed"):
            return status.json
        await asyncio.sleep(0.05)
    raise AssertionError(f"the export of {name} did not finish: {status.json}")


async def test_export_uploads_once(api, jp_root_dir, kube_emulator, kube_namespace, operator_upload):
    _project(jp_root_dir)
    created = await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("ft1")})
    assert created.status == 201, created.body
    upload = created.json["spec"]["build"]["upload"]
    assert "image" not in created.json["spec"]
    assert created.json["spec"]["model"] == {"name": "opt"}

    waiting = await api("GET", "/export/{name}", name="ft1")
    assert waiting.json["step"] == "waiting"
    assert waiting.json["files"] == [".dockerignore", "Dockerfile", "finetune.ipynb", "helpers.py"]
    assert waiting.json["dockerfileGenerated"] is True

    await _answer_upload(operator_upload, kube_emulator, "ft1", kube_namespace)
    finished = await _until_finished(api, "ft1")
    assert finished["step"] == "done", finished
    assert finished["bytesSent"] == finished["bytesTotal"] > 0
    assert operator_upload.verify(upload["md5Checksum"])
    blob = operator_upload.bucket.blob(operator_upload.object_name(upload["md5Checksum"])).download_as_bytes()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert dockerfile.startswith("FROM substratusai/model-trainer-huggingface\n")
    assert 'ENV TRAINER_NOTEBOOK="/content/src/finetune.ipynb"' in dockerfile

    # The same content again (another Model): the operator has it, nothing is sent.
    signed = operator_upload.signed
    again = await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("ft2")})
    assert again.json["spec"]["build"]["upload"]["md5Checksum"] == upload["md5Checksum"]
    await _answer_upload(operator_upload, kube_emulator, "ft2", kube_namespace)
    second = await _until_finished(api, "ft2")
    assert second["step"] == "skipped" and operator_upload.signed == signed


async def test_export_without_operator_fails_visibly(api, jp_root_dir, jp_serverapp):
    _project(jp_root_dir)
    jp_serverapp.web_app.settings["substratus"].upload_timeout = 0.3
    assert (await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("ft")})).status == 201
    finished = await _until_finished(api, "ft")
    assert finished["step"] == "failed" and "operator" in finished["message"]


async def test_export_errors(api, jp_root_dir, jp_serverapp, tmp_path):
    project = _project(jp_root_dir)
    outside = tmp_path / "outside.ipynb"
    outside.write_text("{}")
    (jp_root_dir / "link.ipynb").symlink_to(outside)

    cases = [
        ({"path": "../outside.ipynb", "model": _model("a")}, 400, "path"),
        ({"path": "link.ipynb", "model": _model("a")}, 400, "path"),
        ({"path": "project/none.ipynb", "model": _model("a")}, 404, "path"),
        ({"model": _model("a")}, 400, "path"),
        ({"path": "project/finetune.ipynb"}, 400, "model"),
        ({"path": "project/finetune.ipynb", "model": {**_model("A_B")}}, 400, "model.metadata.name"),
        ({"path": "project/finetune.ipynb", "model": {**_model("a"), "kind": "Server"}}, 400, "model.kind"),
    ]
    for body, status, path in cases:
        answer = await api("POST", "/export", body=body)
        assert answer.status == status, (body, answer.body)
        assert path in [e["path"] for e in answer.json.get("errors", [])], (body, answer.json)

    (project / "escape").symlink_to(tmp_path)
    answer = await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("a")})
    assert answer.status == 400 and "symlink" in answer.json["message"]
    (project / "escape").unlink()

    jp_serverapp.web_app.settings["substratus"].max_export_bytes = 100
    answer = await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("a")})
    assert answer.status == 400 and "over the limit" in answer.json["message"]

    assert (await api("GET", "/export/{name}", name="never")).status == 404
    assert (await api("POST", "/export", raw=b"[1]")).status == 400
    assert json.loads((await api("POST", "/export", raw=b"nope")).body)["message"].startswith("the body is not JSON")


async def test_upload_waits_while_the_operator_waits_for_dependencies(
    api, jp_root_dir, jp_serverapp, kube_emulator, kube_namespace, operator_upload
):
    _project(jp_root_dir)
    jp_serverapp.web_app.settings["substratus"].upload_timeout = 1.0
    assert (await api("POST", "/export", body={"path": "project/finetune.ipynb", "model": _model("ft")})).status == 201
    loop = asyncio.get_running_loop()
    for i in range(6):  # 1.8 s of "waiting for dependencies", longer than the 1 s timeout
        await loop.run_in_executor(
            None,
            lambda i=i: kube_emulator.patch_status(
                "models",
                "ft",
                {
                    "conditions": [
                        {
                            "type": "Complete",
                            "status": "False",
                            "reason": "WaitingForDependency",
                            "message": f"waiting for Model opt ({i})",
                            "lastTransitionTime": "2026-11-22T12:00:00Z",
                        }
                    ]
                },
                kube_namespace,
            ),
        )
        await asyncio.sleep(0.3)
    status = (await api("GET", "/export/{name}", name="ft")).json
    assert status["step"] == "waiting" and status["message"].startswith("waiting for Model opt"), status
    await _answer_upload(operator_upload, kube_emulator, "ft", kube_namespace)
    assert (await _until_finished(api, "ft"))["step"] == "done"
