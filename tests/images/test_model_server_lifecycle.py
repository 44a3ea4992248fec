"""The model server's life: readiness while the weights load, startup failures with a termination
message, a LoRA adapter served on its base, and a real model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import json
import shutil
import socket
import time

import httpx
import openai
import psutil
import pytest

from tests.images.fixtures import run_program, termination_reason
from tests.images.serving import complete_copy, free_port, serve


def fails_to_start(content, params=None, **env) -> str:
    """Runs the server to its exit; returns the termination message (the exit must be non-zero)."""
    result = run_program("model-server", content, params, {"PORT": str(free_port()), **env}, timeout=120)
    assert result.returncode != 0, result.stderr[-2000:]
    reason = termination_reason(content)
    assert reason and "\n" not in reason
    assert reason in result.stderr
    return reason


@pytest.fixture
def llama(tmp_path, tiny_model_dirs):
    """A content dir whose model/ is a complete copy of the tiny Llama."""
    complete_copy(tiny_model_dirs["llama"], tmp_path / "model")
    return tmp_path


def test_no_model_mounted(tmp_path):
    assert "does not exist" in fails_to_start(tmp_path)


def test_model_without_completion_marker(tmp_path, tiny_model_dirs):
    shutil.copytree(tiny_model_dirs["llama"], tmp_path / "model")
    assert "incomplete (no .complete marker)" in fails_to_start(tmp_path)


def test_dir_that_is_not_a_model(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / ".complete").write_text("{}")
    assert "no config.json" in fails_to_start(tmp_path)


def test_unreadable_config(llama):
    (llama / "model" / "config.json").write_text("{not json")
    assert "config.json is unreadable" in fails_to_start(llama)


def test_weights_that_do_not_load_fail_after_the_port_opened(llama):
    (llama / "model" / "model.safetensors").write_bytes(b"not safetensors")
    assert "cannot load the model" in fails_to_start(llama)


@pytest.mark.parametrize(
    "params, says",
    [
        ({"load_in_8bit": True}, "load_in_8bit needs a CUDA GPU"),
        ({"load_in_4bit": "true"}, "load_in_4bit needs a CUDA GPU"),
        ({"device": "cuda"}, "no CUDA GPU"),
        ({"dtype": "float8"}, "param dtype must be one of"),
        ({"max_new_tokens": "many"}, "param max_new_tokens must be an integer"),
        ({"max_new_tokens": 0}, "max_new_tokens must be at least 1"),
    ],
)
def test_bad_params(llama, params, says):
    assert says in fails_to_start(llama, params)


def test_params_from_env_too(llama):
    assert "load_in_8bit needs a CUDA GPU" in fails_to_start(llama, PARAM_LOAD_IN_8BIT="true")


def test_port_in_use(llama):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        assert f"cannot listen on port {port}" in fails_to_start(llama, PORT=str(port))


@pytest.mark.parametrize("host", [None, "127.0.0.1"])
def test_host_says_where_it_listens(llama, host):
    with serve(llama, env={"HOST": host} if host else None) as server:
        sockets = psutil.Process(server.process.pid).net_connections("inet")
    listening = {c.laddr.ip for c in sockets if c.status == psutil.CONN_LISTEN}
    assert listening == {host or "0.0.0.0"}


def test_unknown_host(llama):
    assert "cannot listen on port" in fails_to_start(llama, HOST="no-such-host.invalid")


def test_adapter_without_its_base(tmp_path, tiny_model_dirs):
    lora_adapter(tiny_model_dirs["llama"], tmp_path / "model", with_base=False)
    assert "LoRA adapter but no base model in base/" in fails_to_start(tmp_path)


def lora_adapter(base_dir, target, with_base=True):
    """A kept (unmerged) LoRA adapter the way the trainer leaves it: adapter files, tokenizer, and
    the base model in base/. Its weights are random, not zero, so the adapter changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(1)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(target)
    if with_base:
        shutil.copytree(base_dir, target / "base")
    (target / ".complete").write_text("{}")
    return model.merge_and_unload()


def test_lora_adapter_is_served_on_its_base(tmp_path, tiny_model_dirs):
    import torch
    from transformers import AutoTokenizer

    merged = lora_adapter(tiny_model_dirs["llama"], tmp_path / "model")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dirs["llama"])
    ids = tokenizer("Q: color of grass?\nA:", return_tensors="pt")
    with torch.no_grad():
        out = merged.generate(**ids, max_new_tokens=8, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    expected = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)

    with serve(tmp_path) as running:
        answer = httpx.post(running.url + "/v1/completions",
                            json={"prompt": "Q: color of grass?\nA:", "max_tokens": 8, "temperature": 0})  # fmt: skip
    assert answer.json()["choices"][0]["text"] == expected


# --- a real model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smollm2_content(tmp_path_factory, smollm2_dir):
    content = tmp_path_factory.mktemp("serve-smollm2")
    (content / "model").symlink_to(smollm2_dir, target_is_directory=True)
    return content


def test_smollm2_readiness_then_chat_and_cancel(smollm2_content):
    with serve(smollm2_content, {"max_new_tokens": 32}, wait=False) as running:
        # While its 540 MB of weights load, the port is open: GET / and requests answer 503.
        seen_loading = None
        deadline = time.monotonic() + 60
        while seen_loading is None and time.monotonic() < deadline:
            try:
                seen_loading = httpx.post(running.url + "/v1/completions", json={"prompt": "a"}, timeout=5)
                assert httpx.get(running.url + "/").status_code in (503, 200)
            except httpx.TransportError:
                time.sleep(0.01)
        if seen_loading.status_code == 503:
            assert "still loading" in seen_loading.json()["error"]["message"]
        running.wait_ready()
        assert 503 in running.statuses or seen_loading.status_code == 503, "never saw the server loading"

        client = openai.OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        answer = client.chat.completions.create(model="model", messages=messages, max_tokens=8, temperature=0)
        assert "Paris" in answer.choices[0].message.content
        streamed = client.chat.completions.create(model="model", messages=messages, max_tokens=8, temperature=0,
                                                  stream=True)  # fmt: skip
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == answer.choices[0].message.content

        # A client that goes away mid-stream stops its generation: the next request is not queued
        # behind 400 tokens (about 20 s here) of nobody's answer.
        story = "Once upon a time, in a small village by the sea, there lived an old lighthouse keeper who"
        body = {"prompt": story, "max_tokens": 400, "temperature": 0, "stream": True}  # greedy: 400 tokens, no EOS
        with httpx.stream("POST", running.url + "/v1/completions", json=body, timeout=60) as response:
            lines = response.iter_lines()
            assert json.loads(next(line for line in lines if line.startswith("data: "))[6:])["choices"]
        started = time.monotonic()
        client.completions.create(model="model", prompt="Hi", max_tokens=1)
        assert time.monotonic() - started < 8

        # The same for a client that gives up waiting for a whole (not streamed) answer.
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(running.url + "/v1/completions", json={**body, "stream": False}, timeout=1.5)
        started = time.monotonic()
        client.completions.create(model="model", prompt="Hi", max_tokens=1)
        assert time.monotonic() - started < 8


def test_chat_without_a_chat_template_uses_the_plain_fallback(tmp_path, tiny_model_dirs):
    """A base model's tokenizer often has no chat template: messages become 'Role: text' lines."""
    from transformers import AutoTokenizer

    model = complete_copy(tiny_model_dirs["gpt2"], tmp_path / "model")
    (model / "chat_template.jinja").unlink()
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    tokenizer = AutoTokenizer.from_pretrained(model)
    assert tokenizer.chat_template is None
    expected = tokenizer("System: Be brief.\nUser: color of sky?\nAssistant:")["input_ids"]

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "color of sky?"}]
    with serve(tmp_path) as running:
        answer = httpx.post(running.url + "/v1/chat/completions", json={"messages": messages, "max_tokens": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json()["usage"]["prompt_tokens"] == len(expected)
