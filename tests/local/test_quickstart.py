"""The README quickstart on the local backend, through the REST API of a real jupyter_server
started with no cluster configured (so `auto` picks local): a Dataset from a JSONL file, a tiny
model and SmolLM2 imported by path, a fine-tune by exporting examples/notebook-from-directory,
a Server of the result, and a completion through the Jupyter server's proxy route with the
`openai` client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from pathlib import Path

import openai
import psutil
import pytest

from jupyter_substratus.api.workloads import FAILURE_REASONS
from tests.images.fixtures import smollm2_gguf, toy_records, write_jsonl

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "notebook-from-directory"
pytestmark = pytest.mark.slow


@pytest.fixture
def jp_server_config(tmp_path, monkeypatch):
    # No cluster configured: not the emulator's kubeconfig other tests of the session point at.
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_substratus": True}},
        "SubstratusExtension": {"local_state_dir": str(tmp_path / "state")},
    }


@pytest.fixture
def rest(jp_fetch):
    async def call(method: str, *path: str, body=None, code: int | None = None):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = json.dumps(body)
        response = await jp_fetch("substratus", "api", "v1", *path, **kwargs)
        if code is not None:
            assert response.code == code, response.body
        return json.loads(response.body) if response.body else None

    return call


async def ready(rest, jp_fetch, plural: str, name: str, timeout: float) -> dict:
    obj = None
    try:
        async with asyncio.timeout(timeout):
            while not (obj := await rest("GET", plural, name, code=200))["status"].get("ready"):
                if any(c["reason"] in FAILURE_REASONS for c in obj["status"].get("conditions", [])):
                    break
                await asyncio.sleep(0.3)
            else:
                return obj
    except TimeoutError:
        pass
    logs = await every_log(jp_fetch)
    raise AssertionError(f"{plural}/{name} not ready in {timeout} s: {json.dumps(obj['status'])}\n{logs}")


async def every_log(jp_fetch) -> str:
    """The logs of every resource, so that a failure says why."""
    text = []
    for plural in ("datasets", "models", "servers"):
        listing = await jp_fetch("substratus", "api", "v1", plural)
        for item in json.loads(listing.body)["items"]:
            name = item["metadata"]["name"]
            logs = await jp_fetch("substratus", "api", "v1", plural, name, "logs", raise_error=False)
            text.append(f"--- {plural}/{name} ---\n{logs.body.decode()[-3000:]}")
    return "\n".join(text)


def listening_addresses() -> set[str]:
    """The addresses this process's children listen on."""
    addresses = set()
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            addresses |= {c.laddr.ip for c in child.net_connections("inet") if c.status == psutil.CONN_LISTEN}
    return addresses


def resource(kind: str, name: str, **spec) -> dict:
    return {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


async def test_quickstart(rest, jp_fetch, jp_root_dir, jp_http_port, jp_auth_header, tmp_path, tiny_model_dirs):
    info = await rest("GET", code=200)
    assert info["backend"] == "local"

    data = write_jsonl(tmp_path / "toy.jsonl", toy_records())
    await rest(
        "POST",
        "datasets",
        code=201,
        body=resource("Dataset", "toy", image="substratusai/dataset-loader-http", params={"urls": str(data)}),
    )
    await rest(
        "POST",
        "models",
        code=201,
        body=resource(
            "Model",
            "tiny",
            image="substratusai/model-loader-huggingface",
            params={"name": str(tiny_model_dirs["llama"])},
        ),
    )
    await rest(
        "POST",
        "models",
        code=201,
        body=resource(
            "Model", "smollm2", image="substratusai/model-loader-huggingface", params={"name": str(smollm2_gguf())}
        ),
    )

    shutil.copytree(EXAMPLE, jp_root_dir / "finetune")
    exported = await rest(
        "POST",
        "export",
        code=201,
        body={
            "path": "finetune/finetune.ipynb",
            "model": resource(
                "Model", "tuned", model={"name": "tiny"}, dataset={"name": "toy"}, params={"num_train_epochs": 2}
            ),
        },
    )
    assert exported["spec"]["build"]["upload"]["md5Checksum"]

    tuned = await ready(rest, jp_fetch, "models", "tuned", timeout=240)
    conditions = {c["type"]: c["reason"] for c in tuned["status"]["conditions"]}
    assert conditions == {"Uploaded": "Succeeded", "Built": "Succeeded", "Complete": "Succeeded"}
    logs = await jp_fetch("substratus", "api", "v1", "models", "tuned", "logs")
    assert "running notebook finetune.ipynb" in logs.body.decode()

    await rest(
        "POST",
        "servers",
        code=201,
        body=resource(
            "Server", "tuned", image="substratusai/model-server", model={"name": "tuned"}, params={"max_new_tokens": 4}
        ),
    )
    server = await ready(rest, jp_fetch, "servers", "tuned", timeout=120)
    url = server["status"]["url"]
    assert url.endswith("/substratus/api/v1/servers/tuned/proxy/")
    assert listening_addresses() == {"127.0.0.1"}  # the server: reached only through the proxy route

    token = jp_auth_header["Authorization"].split(" ", 1)[1]
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{jp_http_port}{url}v1", api_key=token)
    completion = await client.completions.create(model="tuned", prompt="Q: color of sky?\nA:", max_tokens=4)
    assert completion.choices[0].text is not None and completion.usage.completion_tokens >= 1
    chunks = [c async for c in await client.completions.create(model="tuned", prompt="Q:", max_tokens=3, stream=True)]
    assert chunks
    anonymous = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{jp_http_port}{url}v1", api_key="wrong")
    with pytest.raises((openai.AuthenticationError, openai.PermissionDeniedError)):  # 403: no token, no XSRF
        await anonymous.completions.create(model="tuned", prompt="Q:", max_tokens=1)
    await client.close()
    await anonymous.close()

    smollm2 = await ready(rest, jp_fetch, "models", "smollm2", timeout=240)
    assert smollm2["status"]["artifacts"]["url"].startswith("file://")
    await rest("DELETE", "servers", "tuned", code=204)
    gone = await rest("GET", "servers", "tuned", "proxy", "v1", "models", code=404)  # no such Server any more
    assert "not found" in gone["message"]
