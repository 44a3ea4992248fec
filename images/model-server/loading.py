"""Model dir + params -> model and tokenizer, ready to generate.

Params: `dtype` (auto, float32, float16, bfloat16; default float32 on CPU, auto on GPU),
`device` (cpu, cuda, cuda:N; default cuda when there is one), `load_in_8bit` / `load_in_4bit`
(bitsandbytes, GPU only). A dir holding a LoRA adapter (adapter_config.json) is served as its
base model (the trainer stores it in the dir's base/) with the adapter merged in, or kept
apart when the base is quantized.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import substratus_contract as contract
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

DTYPES = {"auto": "auto", "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass(frozen=True)
class LoadOptions:
    device: str
    dtype: str
    quantize_bits: int | None  # 8 or 4 (bitsandbytes), None for full weights


def options(params: dict) -> LoadOptions:
    """The loading params, checked before any weights are read; ContractError names what is wrong."""
    device = contract.param(params, "device", str) or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise contract.ContractError(f"param device is {device!r}, but this machine has no CUDA GPU")
    if device != "cpu" and not device.startswith("cuda"):
        raise contract.ContractError(f"param device must be cpu, cuda or cuda:N, not {device!r}")
    dtype = contract.param(params, "dtype", str) or ("float32" if device == "cpu" else "auto")
    if dtype not in DTYPES:
        raise contract.ContractError(f"param dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    bits = [b for b in (8, 4) if contract.param(params, f"load_in_{b}bit", bool, False)]
    if len(bits) == 2:
        raise contract.ContractError("params load_in_8bit and load_in_4bit are both set; choose one")
    if bits and device == "cpu":
        raise contract.ContractError(f"param load_in_{bits[0]}bit needs a CUDA GPU (bitsandbytes); this runs on CPU")
    return LoadOptions(device, dtype, bits[0] if bits else None)


def check_model_dir(model_dir: Path) -> None:
    """Fails fast (ContractError) on a dir that cannot hold a servable model."""
    contract.require_complete(model_dir)
    config = next((model_dir / n for n in ("config.json", "adapter_config.json") if (model_dir / n).is_file()), None)
    if config is None:
        raise contract.ContractError(f"{model_dir} has no config.json or adapter_config.json: not a Hugging Face model")
    unreadable = [p.name for p in model_dir.iterdir() if p.is_file() and not os.access(p, os.R_OK)]
    if unreadable:
        raise contract.ContractError(f"{model_dir}: cannot read {', '.join(sorted(unreadable))}")
    try:
        json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise contract.ContractError(f"{config} is unreadable: {e}") from e
    if config.name == "adapter_config.json" and contract.base_model_dir(model_dir) is None:
        raise contract.ContractError(
            f"{model_dir} holds a LoRA adapter but no base model in {contract.ADAPTER_BASE_DIR}/ beside it"
        )


def load(model_dir: Path, opts: LoadOptions):
    """Returns (model, tokenizer) for a dir that passed check_model_dir."""
    kwargs = {"dtype": DTYPES[opts.dtype]}
    if opts.quantize_bits is not None:
        kwargs["quantization_config"] = _bitsandbytes(opts.quantize_bits)
    if opts.device == "cuda":
        kwargs["device_map"] = "auto"  # spreads a large model over all the GPUs of the pod
    base_dir = contract.base_model_dir(model_dir)
    adapter = (model_dir / "adapter_config.json").is_file()
    weights_dir = base_dir if adapter else model_dir
    model = AutoModelForCausalLM.from_pretrained(weights_dir, **kwargs)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, model_dir)
        if opts.quantize_bits is None:
            model = model.merge_and_unload()
    if "device_map" not in kwargs:
        model = model.to(opts.device)
    model.eval()
    tokenizer_dir = model_dir if (model_dir / "tokenizer_config.json").is_file() else weights_dir
    return model, AutoTokenizer.from_pretrained(tokenizer_dir)


def _bitsandbytes(bits: int):
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
