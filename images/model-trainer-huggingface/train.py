"""Model trainer: fine-tune $CONTENT_DIR/model on $CONTENT_DIR/data, write $CONTENT_DIR/artifacts.

Every param that is a transformers TrainingArguments field is passed through, typed by the
field's type (num_train_epochs, learning_rate, max_steps, per_device_train_batch_size, ...).
Trainer params: lora_r (LoRA via peft when set), lora_alpha, lora_dropout, lora_target_modules,
lora_modules_to_save (modules trained in full beside the adapter, e.g. lm_head),
merge_adapter (default true; false keeps the adapter and copies the base model to artifacts/base),
load_in_4bit (QLoRA, CUDA only), max_length (tokens per example, default 512). Any other key
ends the job naming it. With $TRAINER_NOTEBOOK set, that notebook runs instead (notebook_mode.py).
A kept adapter loads as PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(artifacts /
"base"), artifacts); see README.md.
Output: save_pretrained (safetensors) + tokenizer + manifest.json, then the completion marker.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import shutil
import tempfile
import time
import types
import typing
from pathlib import Path
from typing import Any

import substratus_contract as contract
from substratus_contract import ContractError

TRAINER_PARAMS: dict[str, type] = {
    "lora_r": int,
    "lora_alpha": float,
    "lora_dropout": float,
    "lora_target_modules": list,
    "lora_modules_to_save": list,
    "merge_adapter": bool,
    "load_in_4bit": bool,
    "max_length": int,
}
# Defaults that differ from TrainingArguments' own: no checkpoints, no trackers, and a log (so a
# progress line) every 1% of the steps: every step of a short job, about 100 lines for a long one.
DEFAULTS: dict[str, Any] = {
    "save_strategy": "no",
    "logging_steps": 0.01,
    "report_to": "none",
    "disable_tqdm": True,
    "remove_unused_columns": False,
}


def _coerce(values: dict[str, Any], key: str, annotation: Any) -> Any:
    """values[key] typed by a TrainingArguments field annotation (unions: the most specific wins)."""
    value = values[key]
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    options = typing.get_args(annotation) if union else (annotation,)
    if value is None and type(None) in options:
        return None
    kinds = [typing.get_origin(o) or o for o in options if o is not type(None)]
    for kind in (bool, int, float):
        if kind in kinds:
            return contract.param(values, key, kind)
    if isinstance(value, (list, dict)):
        wanted = list if isinstance(value, list) else dict
        if wanted in kinds:
            return value
    elif str in kinds or any(isinstance(k, type) and issubclass(k, enum.Enum) for k in kinds):
        return str(value)
    elif list in kinds:
        return contract.param(values, key, list)
    if isinstance(value, (list, dict)) and not any(k in (list, dict, typing.Any) for k in kinds):
        contract.fail(
            f"param {key} must be {' or '.join(getattr(k, '__name__', str(k)) for k in kinds)}, not {value!r}"
        )
    return value


def training_arguments(values: dict[str, Any], output_dir: str):
    from transformers import TrainingArguments

    hints = typing.get_type_hints(TrainingArguments)
    fields = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
    unknown = sorted(k for k in values if k not in fields and k not in TRAINER_PARAMS)
    if unknown:
        raise ContractError(
            f"unknown param {unknown[0]}: neither a transformers TrainingArguments field nor a "
            f"trainer param ({', '.join(TRAINER_PARAMS)})"
        )
    kwargs = {"output_dir": output_dir, **DEFAULTS}
    kwargs.update({k: _coerce(values, k, hints[k]) for k in values if k in fields})
    try:
        return TrainingArguments(**kwargs)
    except (ValueError, TypeError) as error:
        raise ContractError(f"invalid training arguments: {str(error).splitlines()[0]}") from None


class ProgressCallback:
    """contract.progress(step, epoch, loss, learning_rate, eta_seconds) at every log."""

    def __new__(cls):
        from transformers import TrainerCallback

        class _Callback(TrainerCallback):
            def __init__(self):
                self.started = time.monotonic()
                self.losses: list[float] = []

            def on_train_begin(self, args, state, control, **kwargs):
                self.started = time.monotonic()

            def on_log(self, args, state, control, logs=None, **kwargs):
                if not logs or "loss" not in logs:
                    return
                step = state.global_step
                elapsed = time.monotonic() - self.started
                eta = elapsed / step * max(state.max_steps - step, 0) if step else None
                self.losses.append(float(logs["loss"]))
                contract.progress(
                    step=step,
                    max_steps=state.max_steps,
                    epoch=round(state.epoch or 0, 4),
                    loss=float(logs["loss"]),
                    learning_rate=logs.get("learning_rate"),
                    eta_seconds=round(eta, 1) if eta is not None else None,
                )

        return _Callback()


def load_model(model_path: Path, load_in_4bit: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = contract.base_model_dir(model_path)
    adapter = (model_path / "adapter_config.json").is_file()
    weights = base if adapter and base else model_path
    if not (weights / "config.json").is_file():
        raise ContractError(f"{model_path} holds no Hugging Face model (no config.json)")
    options: dict[str, Any] = {"dtype": "auto"}
    if load_in_4bit:
        if not torch.cuda.is_available():
            raise ContractError(
                "load_in_4bit needs a CUDA GPU (bitsandbytes 4-bit); none is available here: "
                "drop load_in_4bit or request a GPU in resources"
            )
        from transformers import BitsAndBytesConfig

        options = {
            "quantization_config": BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
            ),
            "device_map": {"": 0},
        }
    try:
        model = AutoModelForCausalLM.from_pretrained(weights, **options)
        has_tokenizer = (model_path / "tokenizer_config.json").is_file()
        tokenizer = AutoTokenizer.from_pretrained(model_path if has_tokenizer else weights)
    except (OSError, ValueError, KeyError) as error:
        raise ContractError(f"cannot load the model in {model_path}: {str(error).splitlines()[0]}") from None
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, model_path).merge_and_unload()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.dtype == torch.float16 and not torch.cuda.is_available():
        model = model.float()  # fp16 training needs a GPU
    return model, tokenizer, adapter


def add_lora(model, values: dict[str, Any], rank: int, quantized: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)
    targets = contract.param(values, "lora_target_modules", list) or "all-linear"
    config = LoraConfig(
        r=rank,
        lora_alpha=contract.param(values, "lora_alpha", float, 2 * rank),
        lora_dropout=contract.param(values, "lora_dropout", float, 0.05),
        target_modules=targets,
        modules_to_save=contract.param(values, "lora_modules_to_save", list) or None,
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as error:
        raise ContractError(f"LoRA: {str(error).splitlines()[0]}") from None


def copy_base(model_path: Path, target: Path) -> None:
    """The base model beside a kept adapter, so the Model's artifacts serve on their own."""
    shutil.copytree(
        model_path,
        target,
        ignore=shutil.ignore_patterns(
            contract.COMPLETION_MARKER, contract.MANIFEST, contract.PROGRESS, contract.ADAPTER_BASE_DIR
        ),
    )


def clear(artifacts: Path) -> None:
    for stale in list(artifacts.iterdir()):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()


def main() -> None:
    notebook = os.environ.get("TRAINER_NOTEBOOK")
    if notebook:
        import notebook_mode

        notebook_mode.run_notebook(Path(notebook))
        return

    from data import Collator, read_examples, tokenize

    values = contract.params()
    model_path, data_path = contract.model_dir(), contract.data_dir()
    contract.require_complete(model_path)
    contract.require_complete(data_path)
    max_length = contract.param(values, "max_length", int, 512)
    rank = contract.param(values, "lora_r", int)
    merge = contract.param(values, "merge_adapter", bool, True)
    load_in_4bit = contract.param(values, "load_in_4bit", bool, False)
    if load_in_4bit and not rank:
        raise ContractError("load_in_4bit trains a LoRA adapter: set lora_r too")
    if rank and not merge and not (model_path / "config.json").is_file():
        raise ContractError("merge_adapter=false needs a base model with its own weights, not a kept adapter")
    artifacts = contract.artifacts_dir()
    clear(artifacts)

    with tempfile.TemporaryDirectory(prefix="trainer-") as scratch:
        arguments = training_arguments(values, scratch)
        examples, texts, files = read_examples(data_path)
        model, tokenizer, _ = load_model(model_path, load_in_4bit)
        items = tokenize(examples, texts, tokenizer, max_length)
        from transformers import Trainer, set_seed

        if rank:
            set_seed(arguments.seed)  # the adapter's random init, reproducible like the rest of the run
            model = add_lora(model, values, rank, load_in_4bit)

        callback = ProgressCallback()
        trainer = Trainer(
            model=model,
            args=arguments,
            train_dataset=items,
            data_collator=Collator(tokenizer.pad_token_id),
            callbacks=[callback],
        )
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(
            f"training {contract.model_name(model_path)} ({trainable:,} trainable parameters) on {len(items)} "
            f"examples from {', '.join(files)}",
            flush=True,
        )
        result = trainer.train()

        keep_adapter = bool(rank) and not merge
        if rank and merge:
            model = model.merge_and_unload()
        model.save_pretrained(artifacts, safe_serialization=True)
        tokenizer.save_pretrained(artifacts)
        if keep_adapter:
            copy_base(model_path, artifacts / contract.ADAPTER_BASE_DIR)

    base_model = model.get_base_model() if keep_adapter else model
    config = base_model.config
    contract.write_manifest(
        artifacts,
        kind="model",
        trainer="model-trainer-huggingface",
        source=f"{contract.model_name(model_path)} fine-tuned",
        base_model=contract.model_name(model_path),
        architecture=(config.architectures or [type(base_model).__name__])[0],
        model_type=config.model_type,
        parameters=sum(p.numel() for p in base_model.parameters()),
        dtype=str(base_model.dtype).removeprefix("torch."),
        data_files=files,
        examples=len(items),
        steps=result.global_step,
        train_loss=result.training_loss,
        train_runtime=result.metrics.get("train_runtime"),
        train_steps_per_second=result.metrics.get("train_steps_per_second"),
        first_loss=callback.losses[0] if callback.losses else None,
        last_loss=callback.losses[-1] if callback.losses else None,
        params=values,
        lora={"r": rank, "merged": merge} if rank else None,
        adapter=keep_adapter,
    )
    contract.mark_complete(artifacts)
    print(f"saved the fine-tuned model to {artifacts}", flush=True)


if __name__ == "__main__":
    contract.run(main)
