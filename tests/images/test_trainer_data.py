"""The trainer's data formats: chat `messages` rendered with the model's chat template, the loss
on the assistant's answer only; run in-process on the real tokenizer, and through the program."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys

import pytest

from tests.images.fixtures import IMAGES, TOY_PAIRS, prepare_content, run_program

TRAINER = "model-trainer-huggingface"


def chat_records() -> list[dict]:
    return [
        {"messages": [{"role": "system", "content": "Answer with a color."},
                      {"role": "user", "content": prompt.split("\n")[0]},
                      {"role": "assistant", "content": completion.strip()}]}
        for prompt, completion in TOY_PAIRS
    ]  # fmt: skip


@pytest.fixture
def data_module(monkeypatch):
    """The trainer's data.py, under a name of its own (it imports substratus_contract as the image does)."""
    monkeypatch.syspath_prepend(str(IMAGES / "common"))
    spec = importlib.util.spec_from_file_location("trainer_data", IMAGES / TRAINER / "data.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_chat_loss_is_on_the_answer_only(data_module, toy_tokenizer, tmp_path):
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in chat_records()))
    examples, texts, files = data_module.read_examples(tmp_path)
    assert len(examples) == 8 and not texts and files == ["chat.jsonl"]
    items = data_module.tokenize(examples, texts, toy_tokenizer, 128)
    first = items[0]
    learned = [token for token, label in zip(first["input_ids"], first["labels"], strict=True) if label != -100]
    assert toy_tokenizer.decode(learned) == " blue\n"  # after the generation prompt "assistant:"
    rendered = toy_tokenizer.decode(first["input_ids"])
    assert rendered.startswith("system: Answer with a color.\nuser: Q: color of sky?\n")


def test_chat_data_trains_through_the_program(model_artifacts, tmp_path):
    content = prepare_content(tmp_path, model_artifacts("llama"), chat_records())
    result = run_program(TRAINER, content, {"max_steps": 3, "per_device_train_batch_size": 4})
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((content / "artifacts" / "manifest.json").read_text())
    assert manifest["examples"] == 8 and manifest["steps"] == 3 and manifest["train_steps_per_second"] > 0


@pytest.mark.parametrize("messages, words", [
    ([{"role": "user", "content": "hi"}], "chat.jsonl line 2: the last message must be the assistant's"),
    ("hello", "chat.jsonl line 2: messages must be a non-empty list"),
    ([], "chat.jsonl line 2: messages must be a non-empty list"),
])  # fmt: skip
def test_bad_chat_records_name_their_line(data_module, messages, words, tmp_path):
    records = [chat_records()[0], {"messages": messages}]
    (tmp_path / "chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(data_module.ContractError, match=words):
        data_module.read_examples(tmp_path)


def test_chat_needs_a_chat_template(data_module, toy_tokenizer, tmp_path):
    (tmp_path / "chat.jsonl").write_text(json.dumps(chat_records()[0]) + "\n")
    examples, texts, _ = data_module.read_examples(tmp_path)
    plain = copy.deepcopy(toy_tokenizer)
    plain.chat_template = None
    with pytest.raises(data_module.ContractError, match="chat.jsonl line 1: chat messages need a tokenizer"):
        data_module.tokenize(examples, texts, plain, 128)
