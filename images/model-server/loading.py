"""Model dir + options -> model and tokenizer, ready to generate.

`dtype` defaults to float32 on CPU and auto on GPU; `device` to cuda when there is one. A dir
holding a LoRA adapter (adapter_config.json) is served as its base model (the trainer stores it
in the dir's base/) with the adapter merged in, or kept apart when the base is quantized. On CPU,
without adapters served beside the base, the linear layers run on packed weights (packed_linear.py).
"""

from pathlib import Path

import substratus_contract as contract
import torch
from checks import Options
from packed_linear import pack_linears
from transformers import AutoModelForCausalLM, AutoTokenizer


def resolve_device(opts: Options) -> str:
    """The device to load on; ContractError when the options need a GPU this machine lacks."""
    device = opts.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if opts.quantize_bits and device == "cpu":
        raise contract.ContractError(
            f"param load_in_{opts.quantize_bits}bit needs a CUDA GPU (bitsandbytes); this machine has none"
        )
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise contract.ContractError(f"param device is {device!r}, but this machine has no CUDA GPU")
    return device


def load(model_dir: Path, opts: Options, device: str, adapters: dict[str, Path]):
    """Returns (model, tokenizer) for a dir that passed check_model_dir; with adapters, the base
    once and every adapter beside it in one peft model (switched per request)."""
    dtype = opts.dtype or ("float32" if device == "cpu" else "auto")
    kwargs = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
    if opts.quantize_bits is not None:
        kwargs["quantization_config"] = _bitsandbytes(opts.quantize_bits)
    if device == "cuda":
        kwargs["device_map"] = "auto"  # spreads a large model over all the GPUs of the pod
    adapter = (model_dir / "adapter_config.json").is_file()
    weights_dir = contract.base_model_dir(model_dir) if adapter else model_dir
    model = AutoModelForCausalLM.from_pretrained(weights_dir, **kwargs)
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, model_dir)
        if opts.quantize_bits is None:
            model = model.merge_and_unload()
    if adapters:
        from peft import PeftModel

        (first, first_dir), *others = adapters.items()
        model = PeftModel.from_pretrained(model, first_dir, adapter_name=first)
        for name, directory in others:
            model.load_adapter(directory, adapter_name=name)
    if "device_map" not in kwargs:
        model = model.to(device)
    model.eval()
    if device == "cpu" and not adapters:
        pack_linears(model, rows=opts.max_concurrency)
    tokenizer_dir = model_dir if (model_dir / "tokenizer_config.json").is_file() else weights_dir
    return model, AutoTokenizer.from_pretrained(tokenizer_dir)


def _bitsandbytes(bits: int):
    from transformers import BitsAndBytesConfig

    if bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
