"""LoRA adapters on a shared base: a Server's adapter Models mounted at adapters/<name>/ beside
its base in model/ are each their own `model` in the OpenAI API, answered by one base in memory;
the requests for one adapter batch continuously, the adapters take turns."""

from __future__ import annotations

import httpx
import pytest

from tests.images.fixtures import mark_complete
from tests.images.serving import serve
from tests.images.test_model_server_batching import PROMPTS, concurrently, stream_completion

PROMPT = "Q: color of grass?\nA:"


def make_adapter(base_dir, target, seed: int):
    """A kept LoRA adapter with random (not zero) weights; returns the merged model to compare with."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    model.save_pretrained(target)
    mark_complete(target, kind="model")
    return model.merge_and_unload()


def greedy(model, tokenizer, max_new_tokens=8) -> str:
    import torch

    ids = tokenizer(PROMPT, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    return text.rstrip("\ufffd")  # the server holds back a character whose bytes have not all come


@pytest.fixture(scope="module")
def served(tmp_path_factory, model_artifacts):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = model_artifacts("llama")
    content = tmp_path_factory.mktemp("serve-adapters")
    (content / "model").symlink_to(base, target_is_directory=True)
    tokenizer = AutoTokenizer.from_pretrained(base)
    expected = {"base": greedy(AutoModelForCausalLM.from_pretrained(base), tokenizer)}
    for name, seed in (("colors", 1), ("shapes", 2)):
        expected[name] = greedy(make_adapter(base, content / "adapters" / name, seed), tokenizer)
    with serve(content) as running:
        yield running, expected


def complete(url: str, model: str) -> dict:
    answer = httpx.post(url + "/v1/completions", json={"model": model, "prompt": PROMPT, "max_tokens": 8,
                                                       "temperature": 0}, timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_each_adapter_answers_as_itself_and_the_base_as_the_base(served):
    server, expected = served
    assert len(set(expected.values())) == 3, "the two adapters and the base should not all agree"
    for name in ("colors", "shapes"):
        answer = complete(server.url, name)
        assert (answer["model"], answer["choices"][0]["text"]) == (name, expected[name])
    base = complete(server.url, "anything-else")
    assert base["choices"][0]["text"] == expected["base"]


def test_concurrent_requests_to_one_adapter_batch_and_each_gets_its_greedy_output_alone(served):
    server, _ = served
    alone = [stream_completion(server.url, prompt, model="colors") for prompt in PROMPTS]
    together = concurrently([lambda p=prompt: stream_completion(server.url, p, model="colors") for prompt in PROMPTS])
    assert [(t["text"], t["reason"]) for t in together] == [(a["text"], a["reason"]) for a in alone]
    assert len({a["text"] for a in alone}) > 1, "the prompts should not all give the same text"
    # In one batch every stream has begun before the first one ends; one at a time, none would have.
    assert max(t["first"] for t in together) < min(t["last"] for t in together)


def test_requests_for_several_adapters_at_once_each_get_their_own_answer(served):
    server, expected = served
    asked = ["colors", "shapes", "base", "colors", "shapes", "base"]
    answers = concurrently([lambda m=model: complete(server.url, m) for model in asked])
    assert [a["choices"][0]["text"] for a in answers] == [expected[model] for model in asked]


def test_models_lists_the_adapters_on_their_one_base(served):
    server, _ = served
    models = httpx.get(server.url + "/v1/models").json()["data"]
    base = models[0]["id"]
    assert [(m["id"], m.get("parent")) for m in models[1:]] == [("colors", base), ("shapes", base)]


def test_a_mounted_dir_that_is_not_an_adapter_fails_the_server(tmp_path, model_artifacts):
    from tests.images.test_model_server_lifecycle import fails_to_start

    (tmp_path / "model").symlink_to(model_artifacts("llama"), target_is_directory=True)
    (tmp_path / "adapters" / "oops").mkdir(parents=True)
    mark_complete(tmp_path / "adapters" / "oops", kind="model")
    assert "adapter oops" in fails_to_start(tmp_path)


def test_an_adapter_trained_on_another_base_fails_the_server(tmp_path, model_artifacts):
    from tests.images.test_model_server_lifecycle import fails_to_start

    (tmp_path / "model").symlink_to(model_artifacts("llama"), target_is_directory=True)
    other = tmp_path / "adapters" / "elsewhere"
    other.mkdir(parents=True)
    (other / "adapter_config.json").write_text("{}")
    mark_complete(other, kind="model", base_model="org/another-base")
    assert "adapter elsewhere was trained on org/another-base" in fails_to_start(tmp_path)
