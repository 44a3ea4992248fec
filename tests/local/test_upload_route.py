"""POST /{plural}/{name}/upload: how a kernel's %%substratus finetune hands its build context to
the Jupyter server's backend (a real jupyter_server, the local backend)."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.local.conftest import manifest
from tests.local.test_backend import _context

TRAINER = "substratusai/model-trainer-huggingface"


@pytest.fixture
def jp_server_config(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}},
        "SubstratusExtension": {"local_state_dir": str(tmp_path / "state")},
    }


async def test_a_build_context_is_uploaded_through_the_server(jp_fetch):
    dockerfile = f'FROM {TRAINER}\nCOPY . /content/src\nENV TRAINER_NOTEBOOK="/content/src/nb.ipynb"\n'
    data = _context({"Dockerfile": dockerfile, "nb.ipynb": "{}"})
    md5 = hashlib.md5(data).hexdigest()
    upload_spec = {"upload": {"md5Checksum": md5, "requestID": "r1"}}
    model = manifest("Model", "tuned", model={"name": "base"}, build=upload_spec)
    await jp_fetch("substratus", "api", "v1", "models", method="POST", body=json.dumps(model))

    async def upload(body: bytes, **params: str):
        response = await jp_fetch(
            "substratus",
            "api",
            "v1",
            "models",
            "tuned",
            "upload",
            method="POST",
            body=body,
            params=params,
            raise_error=False,
            headers={"Content-Type": "application/gzip"},
        )
        return response.code, json.loads(response.body)

    code, reply = await upload(data, md5Checksum=md5)
    assert code == 400 and "requestID" in reply["message"]
    code, reply = await upload(data, md5Checksum="0" * 32, requestID="r1")
    assert code == 400 and "another checksum" in reply["message"]
    code, reply = await upload(data + b"x", md5Checksum=md5, requestID="r1")
    assert code == 400 and reply["message"]
    code, reply = await upload(data, md5Checksum=md5, requestID="r1")
    assert code == 200 and reply["step"] == "done" and reply["total"] == len(data)
    code, reply = await upload(data, md5Checksum=md5, requestID="r1")
    assert code == 200 and reply["step"] == "skipped"
    missing = await jp_fetch(
        "substratus",
        "api",
        "v1",
        "models",
        "nothing",
        "upload",
        method="POST",
        body=data,
        params={"md5Checksum": md5, "requestID": "r1"},
        raise_error=False,
    )
    assert missing.code == 404
    stored = json.loads((await jp_fetch("substratus", "api", "v1", "models", "tuned")).body)
    assert stored["status"]["buildUpload"]["storedMD5Checksum"] == md5
