"""The checks that need no torch: params and the model dir, so that a bad param or mount fails
in a fraction of a second instead of after the heavy imports."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import substratus_contract as contract

DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True)
class Options:
    max_new_tokens: int  # the default of requests that do not say
    device: str | None  # cpu, cuda, cuda:N; None: cuda when there is one
    dtype: str | None  # one of DTYPES; None: float32 on CPU, auto on GPU
    quantize_bits: int | None  # 8 or 4 (bitsandbytes, GPU only), None for full weights
    max_concurrency: int  # requests generating together in one batch
    max_queue: int  # requests waiting to join the batch; past both: 429
    max_request_bytes: int  # a bigger request body: 413


def read_options(params: dict) -> Options:
    """The server's params; ContractError (or contract.fail) names the one that is wrong."""
    max_new_tokens = contract.param(params, "max_new_tokens", int, 128)
    if max_new_tokens < 1:
        raise contract.ContractError(f"param max_new_tokens must be at least 1, not {max_new_tokens}")
    device = contract.param(params, "device", str)
    if device is not None and device != "cpu" and not device.startswith("cuda"):
        raise contract.ContractError(f"param device must be cpu, cuda or cuda:N, not {device!r}")
    dtype = contract.param(params, "dtype", str)
    if dtype is not None and dtype not in DTYPES:
        raise contract.ContractError(f"param dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    bits = [b for b in (8, 4) if contract.param(params, f"load_in_{b}bit", bool, False)]
    if len(bits) == 2:
        raise contract.ContractError("params load_in_8bit and load_in_4bit are both set; choose one")
    if bits and device == "cpu":
        raise contract.ContractError(f"param load_in_{bits[0]}bit needs a CUDA GPU (bitsandbytes), not device cpu")
    limits = [_at_least(params, name, default, low) for name, default, low in LIMITS]
    return Options(max_new_tokens, device, dtype, bits[0] if bits else None, *limits)


# (param, default, smallest allowed)
LIMITS = (("max_concurrency", 8, 1), ("max_queue", 32, 0), ("max_request_bytes", 1 << 20, 1024))


def _at_least(params: dict, name: str, default: int, low: int) -> int:
    value = contract.param(params, name, int, default)
    if value < low:
        raise contract.ContractError(f"param {name} must be at least {low}, not {value}")
    return value


def check_adapter_dirs(adapters: dict[str, Path], model_dir: Path) -> None:
    """Each adapter a complete LoRA adapter Model; the base beside them a full model."""
    if adapters and (model_dir / "adapter_config.json").is_file():
        raise contract.ContractError(f"{model_dir} is itself an adapter: adapters need a full base model")
    for name, directory in adapters.items():
        contract.require_complete(directory)
        if not (directory / "adapter_config.json").is_file():
            raise contract.ContractError(f"adapter {name}: {directory} has no adapter_config.json: not a LoRA adapter")
        trained_on = contract.read_manifest(directory).get("base_model")
        if trained_on and contract.read_manifest(model_dir) and trained_on != contract.model_name(model_dir):
            raise contract.ContractError(
                f"adapter {name} was trained on {trained_on}, not on the served model {contract.model_name(model_dir)}"
            )


def check_model_dir(model_dir: Path) -> None:
    """Fails (ContractError or contract.fail) on a dir that cannot hold a servable model."""
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
