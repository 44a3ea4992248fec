"""The trainer, run as a program the way the local backend runs it, on tiny models and SmolLM2.
The fine-tunes the end-to-end tests serve come from the session's `fine_tuned` fixture, trained once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.images.fixtures import (
    FULL_TINY,
    LORA_TINY,
    NOTEBOOK_NOISE,
    ROOT,
    SMOLLM2_STEPS,
    TOY_PAIRS,
    TRAINER,
    prepare_content,
    run_program,
    termination_reason,
    toy_records,
)


def _train(content: Path, params: dict, **kwargs) -> Path:
    result = run_program(TRAINER, content, params, **kwargs)
    assert result.returncode == 0, result.stderr[-3000:]
    artifacts = content / "artifacts"
    assert (artifacts / ".complete").is_file()
    return artifacts


def _progress(artifacts: Path) -> list[dict]:
    return [json.loads(line) for line in (artifacts / "progress.jsonl").read_text().splitlines()]


def _greedy(model, tokenizer, prompt: str) -> str:
    import torch

    ids = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)


def _assert_learned(artifacts: Path, adapter: bool = False) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if adapter:
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(artifacts / "base")
        model = PeftModel.from_pretrained(base, artifacts)
    else:
        model = AutoModelForCausalLM.from_pretrained(artifacts)
    tokenizer = AutoTokenizer.from_pretrained(artifacts)
    model.eval()
    right = sum(_greedy(model, tokenizer, prompt).startswith(completion) for prompt, completion in TOY_PAIRS)
    assert right >= 7, f"{right}/8 completions learned"


def _assert_loss_fell(artifacts: Path) -> None:
    progress = _progress(artifacts)
    assert {"step", "epoch", "loss", "learning_rate", "eta_seconds"} <= set(progress[-1])
    assert progress[-1]["loss"] < progress[0]["loss"] / 3, (progress[0], progress[-1])


@pytest.mark.parametrize("arch", ["llama", "gpt2", "opt"])
def test_full_fine_tune_learns_the_toy_task(arch, fine_tuned):
    artifacts = fine_tuned(arch, FULL_TINY)
    _assert_loss_fell(artifacts)
    _assert_learned(artifacts)
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["steps"] == 60 and manifest["examples"] == 8 and manifest["adapter"] is False
    assert manifest["train_steps_per_second"] > 0 and manifest["train_runtime"] > 0
    assert (artifacts / "model.safetensors").is_file() and (artifacts / "tokenizer.json").is_file()


def test_lora_merged_and_kept(fine_tuned):
    merged = fine_tuned("llama", LORA_TINY)
    assert not (merged / "adapter_config.json").exists() and (merged / "config.json").is_file()
    _assert_loss_fell(merged)
    _assert_learned(merged)

    kept = fine_tuned("llama", {**LORA_TINY, "merge_adapter": False})
    assert (kept / "adapter_config.json").is_file() and (kept / "base" / "config.json").is_file()
    assert json.loads((kept / "manifest.json").read_text())["adapter"] is True
    _assert_loss_fell(kept)
    _assert_learned(kept, adapter=True)


@pytest.mark.parametrize("arch", ["gpt2", "opt"])
def test_lora_on_tied_heads_merged_and_kept(arch, model_artifacts, tmp_path):
    """GPT-2 and OPT tie lm_head to the input embeddings: the head is trained in full beside the
    adapter (lora_modules_to_save) and comes out untied, merged or kept. A whole head trained at
    the adapter's 2e-2 overshoots: 5e-3."""
    lora = {
        "max_steps": 60,
        "learning_rate": 5e-3,
        "per_device_train_batch_size": 8,
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.0,
        "lora_modules_to_save": "lm_head",
    }
    merged = _train(prepare_content(tmp_path / "merged", model_artifacts(arch), toy_records()), lora)
    assert json.loads((merged / "config.json").read_text())["tie_word_embeddings"] is False
    _assert_loss_fell(merged)
    _assert_learned(merged)

    kept = _train(
        prepare_content(tmp_path / "kept", model_artifacts(arch), toy_records()), {**lora, "merge_adapter": False}
    )
    assert (kept / "adapter_config.json").is_file() and (kept / "base" / "config.json").is_file()
    _assert_loss_fell(kept)
    _assert_learned(kept, adapter=True)


def test_instruction_and_text_data(model_artifacts, tmp_path):
    records = [{"instruction": p.split("\n")[0], "input": "", "output": c} for p, c in TOY_PAIRS]
    content = prepare_content(
        tmp_path, model_artifacts("gpt2"), records, files={"notes.txt": "the sky is blue. grass is green.\n" * 8}
    )
    artifacts = _train(content, {"max_steps": 3, "max_length": 64})
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["data_files"] == ["notes.txt", "train.jsonl"] and manifest["examples"] > 8


@pytest.mark.slow  # SmolLM2-135M: conversion (once per session) + 2 steps, about 30-60 s
def test_smollm2_trains_two_steps(fine_tuned):
    artifacts = fine_tuned("smollm2", SMOLLM2_STEPS)
    assert len(_progress(artifacts)) == 2
    assert json.loads((artifacts / "manifest.json").read_text())["architecture"] == "LlamaForCausalLM"


@pytest.mark.slow  # a kernel start-up + the example notebook, about 15 s
def test_notebook_mode_runs_the_example(model_artifacts, tmp_path):
    source = ROOT / "examples" / "notebook-from-directory"
    shutil.copytree(source, tmp_path / "src")
    content = prepare_content(tmp_path / "content", model_artifacts("gpt2"), toy_records())
    notebook = {"TRAINER_NOTEBOOK": str(tmp_path / "src" / "finetune.ipynb")}
    result = run_program(TRAINER, content, {"num_train_epochs": 2}, timeout=240, env=notebook)
    assert result.returncode == 0, result.stderr[-3000:]
    assert '{"epoch": 2, "loss": ' in result.stdout  # what the notebook's cells print is in the log
    artifacts = content / "artifacts"
    assert (artifacts / "config.json").is_file() and (artifacts / "model.safetensors").is_file()
    assert (artifacts / "notebook" / "finetune.ipynb").is_file()
    assert (artifacts / "notebook" / "finetune.html").is_file()
    executed = json.loads((artifacts / "notebook" / "finetune.ipynb").read_text())
    assert any("num_train_epochs = 2" in "".join(c["source"]) for c in executed["cells"])
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["mode"] == "notebook" and manifest["architecture"] == "GPT2LMHeadModel"
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(artifacts)
    assert manifest["parameters"] == sum(p.numel() for p in model.parameters()) and manifest["dtype"] == "float32"


@pytest.mark.slow  # a kernel start-up, about 15 s
def test_notebook_mode_log_has_no_noise(model_artifacts, tmp_path):
    """A notebook with no `parameters` cell reads the params itself, and its log holds what its
    cells print, not warnings about the kernel's transport, papermill's parameters or widgets."""
    import nbformat

    code = (
        "import json, os, shutil\nfrom pathlib import Path\nfrom tqdm.auto import tqdm\n"
        "content = Path(os.environ['CONTENT_DIR'])\n"
        "params = json.loads((content / 'params.json').read_text())\n"
        "for epoch in tqdm(range(params['num_train_epochs'])):\n    print('epoch', epoch + 1)\n"
        "shutil.copytree(content / 'model', content / 'artifacts', dirs_exist_ok=True)"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "own-params.ipynb")
    content = prepare_content(tmp_path / "content", model_artifacts("gpt2"), toy_records())
    env = {"TRAINER_NOTEBOOK": str(tmp_path / "own-params.ipynb")}
    result = run_program(TRAINER, content, {"num_train_epochs": 2}, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "epoch 2" in log and "2/2" in log, log  # the cell's prints and its tqdm bar, as text
    assert not [noise for noise in NOTEBOOK_NOISE if noise in log], log
    executed = nbformat.read(content / "artifacts" / "notebook" / "own-params.ipynb", as_version=4)
    assert [cell.source for cell in executed.cells] == [code]  # nothing injected


@pytest.mark.parametrize(
    "cell, words",
    [
        ("raise RuntimeError('bad\\nthing')", "broken.ipynb failed in cell 2: RuntimeError: bad thing"),
        ("y = x + 1", "broken.ipynb finished but saved no model"),
    ],
)
def test_notebook_mode_failures(cell, words, tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell(cell)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "broken.ipynb")
    content = tmp_path / "content"
    result = run_program(TRAINER, content, {}, env={"TRAINER_NOTEBOOK": str(tmp_path / "broken.ipynb")}, timeout=240)
    reason = termination_reason(content)
    assert result.returncode != 0 and words in reason, reason
    assert (content / "artifacts" / "notebook" / "broken.html").is_file()
    assert not (content / "artifacts" / ".complete").exists()


@pytest.mark.parametrize(
    "case, params, words",
    [
        ("unknown", {"max_steps": 1, "learning_rat": 0.1}, ["learning_rat", "TrainingArguments"]),
        ("type", {"num_train_epochs": "lots"}, ["num_train_epochs", "number"]),
        ("4bit", {"lora_r": 4, "load_in_4bit": True}, ["load_in_4bit", "GPU"]),
    ],
)
def test_bad_params(case, params, words, model_artifacts, tmp_path):
    content = prepare_content(tmp_path, model_artifacts("gpt2"), toy_records())
    result = run_program(TRAINER, content, params)
    reason = termination_reason(content)
    assert result.returncode != 0 and reason and "\n" not in reason
    assert all(word in reason for word in words), reason


def test_bad_inputs(model_artifacts, tmp_path):
    content = prepare_content(tmp_path / "nomodel", None, toy_records())
    result = run_program(TRAINER, content, {"max_steps": 1})
    assert result.returncode != 0 and "model" in termination_reason(content)

    lines = [json.dumps(r) for r in toy_records()]
    lines.insert(2, "{not json")
    content = prepare_content(
        tmp_path / "badjson", model_artifacts("gpt2"), None, files={"train.jsonl": "\n".join(lines) + "\n"}
    )
    result = run_program(TRAINER, content, {"max_steps": 1})
    reason = termination_reason(content)
    assert result.returncode != 0 and "train.jsonl line 3" in reason, reason
