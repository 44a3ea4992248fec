"""params -> vLLM engine arguments (`vllm serve`'s flags), checked before vLLM starts, so that a
wrong param ends the server with a one-line reason naming it instead of a vLLM traceback.

params (params.json or PARAM_* env vars), each with the vLLM flag it becomes:
  dtype                   auto, float16, bfloat16, float32            --dtype
  max_model_len           context length to serve (tokens)            --max-model-len
  gpu_memory_utilization  share of each GPU's memory, (0, 1]          --gpu-memory-utilization
  quantization            awq, gptq, fp8, bitsandbytes, ...           --quantization
  load_in_4bit            the transformers server's name for bitsandbytes 4-bit
  tensor_parallel_size    default: every GPU the pod sees             --tensor-parallel-size
  max_concurrency         sequences in one batch                      --max-num-seqs
  max_new_tokens          default max_tokens of a request             --override-generation-config
A Model dir holding a kept LoRA adapter (adapter_config.json, base model in base/) is served as
its base with the adapter as a LoRA module under the Model's name (--enable-lora); a Server's
adapters (adapters/<name>/) are LoRA modules under their names on the one base.
"""

import json
from pathlib import Path

import substratus_contract as contract

DTYPES = ("auto", "float16", "bfloat16", "float32")
QUANTIZATIONS = ("awq", "gptq", "fp8", "bitsandbytes", "gguf", "compressed-tensors", "awq_marlin", "gptq_marlin")


def engine_args(
    params: dict, model_dir: Path, gpu_count: int, host: str, port: str, adapters: dict[str, Path] | None = None
) -> list[str]:
    """The `vllm serve` argument list; ContractError (or contract.fail) names a wrong param."""
    if gpu_count < 1:
        raise contract.ContractError("model-server-vllm needs a GPU and this pod has none: use model-server on CPU")
    name = contract.model_name(model_dir)
    adapter = (model_dir / "adapter_config.json").is_file()
    weights = model_dir
    if adapter:
        weights = contract.base_model_dir(model_dir)
        if weights is None:
            raise contract.ContractError(f"{model_dir} holds a LoRA adapter but no base model in base/ beside it")
    args = [str(weights), "--host", host, "--port", port, "--served-model-name", f"{name}-base" if adapter else name]
    loras = ({name: model_dir} if adapter else {}) | dict(adapters or {})
    if loras:
        rank = max(json.loads((d / "adapter_config.json").read_text()).get("r", 16) for d in loras.values())
        modules = [f"{lora}={directory}" for lora, directory in loras.items()]
        args += ["--enable-lora", "--lora-modules", *modules, "--max-lora-rank", str(_lora_rank(rank))]
        args += ["--max-loras", str(len(loras))]

    dtype = contract.param(params, "dtype", str, "auto")
    if dtype not in DTYPES:
        raise contract.ContractError(f"param dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    args += ["--dtype", dtype]
    quantization = contract.param(params, "quantization", str)
    if contract.param(params, "load_in_8bit", bool, False):
        raise contract.ContractError("param load_in_8bit: vLLM's bitsandbytes is 4-bit; use load_in_4bit or fp8")
    if contract.param(params, "load_in_4bit", bool, False):
        if quantization not in (None, "bitsandbytes"):
            raise contract.ContractError(f"params load_in_4bit and quantization {quantization!r} conflict; choose one")
        quantization = "bitsandbytes"
    if quantization is not None:
        if quantization not in QUANTIZATIONS:
            raise contract.ContractError(
                f"param quantization must be one of {', '.join(QUANTIZATIONS)}, not {quantization!r}"
            )
        args += ["--quantization", quantization]

    parallel = contract.param(params, "tensor_parallel_size", int, gpu_count)
    if not 1 <= parallel <= gpu_count:
        raise contract.ContractError(
            f"param tensor_parallel_size must be 1 to {gpu_count} (the GPUs here), not {parallel}"
        )
    args += ["--tensor-parallel-size", str(parallel)]
    for key, flag in (("max_model_len", "--max-model-len"), ("max_concurrency", "--max-num-seqs")):
        value = contract.param(params, key, int)
        if value is not None:
            if value < 1:
                raise contract.ContractError(f"param {key} must be at least 1, not {value}")
            args += [flag, str(value)]
    share = contract.param(params, "gpu_memory_utilization", float)
    if share is not None:
        if not 0 < share <= 1:
            raise contract.ContractError(f"param gpu_memory_utilization must be in (0, 1], not {share}")
        args += ["--gpu-memory-utilization", str(share)]
    max_new_tokens = contract.param(params, "max_new_tokens", int)
    if max_new_tokens is not None:
        if max_new_tokens < 1:
            raise contract.ContractError(f"param max_new_tokens must be at least 1, not {max_new_tokens}")
        args += ["--override-generation-config", json.dumps({"max_new_tokens": max_new_tokens})]
    return args


def _lora_rank(rank: int) -> int:
    """vLLM takes these ranks only; the smallest that holds the adapter's."""
    return next((r for r in (8, 16, 32, 64, 128, 256, 320, 512) if r >= rank), rank)
