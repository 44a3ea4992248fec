"""images/model-server-vllm without vLLM (no GPU here): its entrypoint's structure, the params ->
engine-argument mapping and its one-line refusals, and the contract routes its middleware adds on
top of vLLM's OpenAI server, driven through a stand-in for vLLM's app."""

from __future__ import annotations

import importlib.util
import json
import sys

import httpx
import pytest

from tests.images.fixtures import IMAGES, mark_complete

IMAGE = IMAGES / "model-server-vllm"


def _module(name: str):
    sys.path[:0] = [str(IMAGE), str(IMAGES / "common")]
    try:
        spec = importlib.util.spec_from_file_location(name, IMAGE / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        del sys.path[:2]


engine_args = _module("engine_args")
contract_routes = _module("contract_routes")
ContractError = engine_args.contract.ContractError


@pytest.fixture
def model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    return mark_complete(tmp_path, source="org/tiny")


def test_entrypoint_runs_vllm_serve_with_the_contract_routes():
    import dockerfile

    commands = dockerfile.parse_file(str(IMAGE / "Dockerfile"))
    base = next(c.value[0] for c in commands if c.cmd.upper() == "FROM")
    assert base.startswith("vllm/vllm-openai:v")
    entry = next(c.value for c in commands if c.cmd.upper() == "ENTRYPOINT")
    assert entry == ("python3", "/app/serve.py")
    serve = (IMAGE / "serve.py").read_text()
    assert '"vllm", "serve"' in serve and '"--middleware", "contract_routes.ContractRoutes"' in serve


def test_params_become_engine_arguments(model):
    params = {"dtype": "bfloat16", "max_model_len": "4096", "gpu_memory_utilization": 0.85, "quantization": "awq",
              "max_concurrency": 64, "max_new_tokens": 200}  # fmt: skip
    args = engine_args.engine_args(params, model, 4, "0.0.0.0", "8080")
    assert args[0] == str(model) and "--enable-lora" not in args
    pairs = dict(zip(args[1::2], args[2::2], strict=True))
    assert pairs == {
        "--host": "0.0.0.0",
        "--port": "8080",
        "--served-model-name": "org/tiny",
        "--dtype": "bfloat16",
        "--quantization": "awq",
        "--tensor-parallel-size": "4",  # every GPU the pod sees
        "--max-model-len": "4096",
        "--max-num-seqs": "64",
        "--gpu-memory-utilization": "0.85",
        "--override-generation-config": json.dumps({"max_new_tokens": 200}),
    }


def test_defaults_and_the_transformers_servers_4bit_name(model):
    args = engine_args.engine_args({"load_in_4bit": True}, model, 1, "127.0.0.1", "9000")
    assert args[args.index("--dtype") + 1] == "auto" and args[args.index("--quantization") + 1] == "bitsandbytes"
    assert args[args.index("--tensor-parallel-size") + 1] == "1"


def test_a_kept_adapter_is_a_lora_module_on_its_base(model):
    (model / "adapter_config.json").write_text(json.dumps({"r": 12}))
    (model / "base").mkdir()
    args = engine_args.engine_args({}, model, 1, "0.0.0.0", "8080")
    assert args[0] == str(model / "base")
    assert args[args.index("--lora-modules") + 1] == f"org/tiny={model}"
    assert args[args.index("--max-lora-rank") + 1] == "16" and "--enable-lora" in args


def test_a_servers_adapters_are_lora_modules_on_the_one_base(model, tmp_path_factory):
    adapters = {}
    for name, rank in (("colors", 8), ("shapes", 32)):
        adapters[name] = tmp_path_factory.mktemp(name)
        (adapters[name] / "adapter_config.json").write_text(json.dumps({"r": rank}))
    args = engine_args.engine_args({}, model, 1, "0.0.0.0", "8080", adapters)
    assert args[0] == str(model)
    at = args.index("--lora-modules")
    assert args[at + 1 : at + 3] == [f"colors={adapters['colors']}", f"shapes={adapters['shapes']}"]
    assert args[args.index("--max-lora-rank") + 1] == "32" and args[args.index("--max-loras") + 1] == "2"


@pytest.mark.parametrize(
    "params, gpus, says",
    [
        ({"dtype": "float64"}, 1, "param dtype must be one of"),
        ({"quantization": "magic"}, 1, "param quantization must be one of"),
        ({"tensor_parallel_size": 3}, 2, "param tensor_parallel_size must be 1 to 2"),
        ({"gpu_memory_utilization": 1.5}, 1, "param gpu_memory_utilization must be in (0, 1]"),
        ({"max_model_len": 0}, 1, "param max_model_len must be at least 1"),
        ({"load_in_8bit": True}, 1, "load_in_8bit"),
        ({"load_in_4bit": True, "quantization": "awq"}, 1, "conflict"),
        ({}, 0, "needs a GPU"),
    ],
)
def test_a_wrong_param_fails_with_a_one_line_reason(model, params, gpus, says):
    with pytest.raises(ContractError) as refused:
        engine_args.engine_args(params, model, gpus, "0.0.0.0", "8080")
    assert says in str(refused.value) and "\n" not in str(refused.value)


async def _stand_in_for_vllm(scope, receive, send):
    """Answers as vLLM's OpenAI server does for the routes the middleware uses."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/health":
        status, answer = 200, {}
    elif scope["path"] == "/v1/completions":
        asked = json.loads(body)
        status, answer = 200, {"choices": [{"text": f"{asked['model']}:{asked.get('max_tokens')}"}], "usage": {"x": 1}}
    else:
        status, answer = 404, {"error": {"message": f"no {scope['path']}"}}
    data = json.dumps(answer).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": data})


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setenv("SUBSTRATUS_SERVED_MODELS", json.dumps(["org/tiny"]))
    app = contract_routes.ContractRoutes(_stand_in_for_vllm)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://server")


async def _routes(client):
    async with client:
        ready = await client.get("/")
        generated = await client.post("/generate", content=json.dumps({"prompt": "hi", "max_new_tokens": 3}))
        bad = await client.post("/generate", content=b"[1]")
        unnamed = await client.post("/v1/completions", json={"prompt": "hi", "model": "whatever"})
    return ready, generated, bad, unnamed


def test_contract_routes_over_vllm(client):
    import asyncio

    ready, generated, bad, unnamed = asyncio.run(_routes(client))
    assert ready.status_code == 200
    assert generated.json() == {"generated_text": "org/tiny:3", "usage": {"x": 1}}
    assert bad.status_code == 400 and "prompt" in bad.json()["error"]["message"]
    assert unnamed.json()["choices"][0]["text"].startswith("org/tiny:")
