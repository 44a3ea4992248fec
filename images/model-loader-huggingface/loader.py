"""Model loader: fetch a causal LM and write it to $CONTENT_DIR/artifacts as a Hugging Face dir.

params:
  name       Hugging Face repo id (downloaded with huggingface_hub, token from $HF_TOKEN or
             $HUGGING_FACE_HUB_TOKEN),
             a local path or file:// URL, or gs://bucket/prefix (google-cloud-storage; honours
             $STORAGE_EMULATOR_HOST)
  revision   branch, tag or commit of a hub repo (default: main)
  gguf_file  the GGUF file inside the source to convert (a source that is itself a .gguf file,
             or a dir holding exactly one and no config.json, is converted without it)
Output: save_pretrained (safetensors) + tokenizer + manifest.json, then the completion marker.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import substratus_contract as contract
from substratus_contract import ContractError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model", ".txt", ".jinja", ".gguf", ".py", ".tiktoken")


def fetch_gcs(url: str, target: Path) -> Path:
    """gs://bucket/prefix -> target (one object, or every object under the prefix)."""
    bucket_name, _, prefix = url.removeprefix("gs://").partition("/")
    if not bucket_name:
        raise ContractError(f"name {url!r} names no bucket")
    client = contract.storage_client()
    bucket = client.bucket(bucket_name)
    prefix = prefix.strip("/")
    single = bucket.blob(prefix) if prefix else None
    if single is not None and single.exists():
        path = target / Path(prefix).name
        single.download_to_filename(str(path))
        return path
    blobs = [
        b for b in client.list_blobs(bucket_name, prefix=f"{prefix}/" if prefix else None) if not b.name.endswith("/")
    ]
    if not blobs:
        raise ContractError(f"no objects under {url}")
    for blob in blobs:
        relative = blob.name[len(prefix) :].lstrip("/") if prefix else blob.name
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(path))
    return target


def hub_token() -> str | None:
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN") or None


def fetch_hub(repo_id: str, revision: str | None, gguf_file: str | None, target: Path) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    patterns = (
        [gguf_file, "*.json", "*.model", "*.txt", "*.jinja"]
        if gguf_file
        else ["*.safetensors", "*.json", "*.model", "*.txt", "*.jinja", "*.tiktoken", "*.py"]
    )
    try:
        path = snapshot_download(
            repo_id=repo_id,
            revision=revision,
            token=hub_token(),
            allow_patterns=patterns,
            local_dir=target,
        )
    except (RepositoryNotFoundError, LocalEntryNotFoundError, HfHubHTTPError, ValueError) as error:
        raise ContractError(
            f"cannot download {repo_id!r} (revision {revision or 'main'}) from the hub: "
            f"{str(error).splitlines()[0] if str(error) else type(error).__name__}"
        ) from None
    path = Path(path)
    if not gguf_file and not any(path.glob("*.safetensors")):
        # Older repos only ship PyTorch .bin weights.
        path = Path(
            snapshot_download(
                repo_id=repo_id,
                revision=revision,
                token=hub_token(),
                allow_patterns=["*.bin", "*.json"],
                local_dir=target,
            )
        )
    return path


def resolve(name: str, revision: str | None, gguf_file: str | None, scratch: Path) -> Path:
    if name.startswith("gs://"):
        return fetch_gcs(name, scratch)
    local = Path(name.removeprefix("file://"))
    if name.startswith(("file://", "/", "./", "../")) or local.exists():
        if not local.exists():
            raise ContractError(f"model source {name} does not exist")
        return local
    if name.count("/") > 1 or " " in name:
        raise ContractError(f"name {name!r} is neither a hub repo id, an existing path nor a gs:// URL")
    return fetch_hub(name, revision, gguf_file, scratch)


def find_gguf(source: Path, gguf_file: str | None) -> Path | None:
    if source.is_file():
        if source.suffix != ".gguf":
            raise ContractError(f"model source {source.name} is a file but not a .gguf file")
        return source
    if gguf_file:
        path = source / gguf_file
        if not path.is_file():
            raise ContractError(f"gguf_file {gguf_file} is not in the model source")
        return path
    if (source / "config.json").is_file():
        return None
    found = sorted(source.rglob("*.gguf"))
    if len(found) == 1:
        return found[0]
    if found:
        raise ContractError(f"the model source holds {len(found)} GGUF files: name one with gguf_file")
    raise ContractError("the model source has no config.json and no GGUF file: not a Hugging Face model")


def load_gguf(gguf: Path):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    try:
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
        config = AutoConfig.from_pretrained(folder, gguf_file=name)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except (ValueError, OSError, KeyError) as error:
        raise ContractError(f"cannot read GGUF file {name}: {error}") from None
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=loaded.dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if unexpected or set(missing) - tied:
        raise ContractError(
            f"GGUF file {name}: weights do not fit the model (missing {sorted(missing)[:3]}, "
            f"unexpected {sorted(unexpected)[:3]})"
        )
    model.tie_weights()
    return model, tokenizer


def load_hf(source: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype="auto")
    except (ValueError, OSError, KeyError) as error:
        raise ContractError(f"cannot load the model in {source.name or source}: {str(error).splitlines()[0]}") from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (ValueError, OSError, KeyError) as error:
        reason = str(error).splitlines()[0]
        raise ContractError(f"cannot load the tokenizer in {source.name or source}: {reason}") from None
    return model, tokenizer


def main() -> None:
    values = contract.params()
    name = contract.param(values, "name", str)
    if not name:
        raise ContractError("param name is required: a hub repo id, a local path or a gs:// URL")
    revision = contract.param(values, "revision", str)
    gguf_file = contract.param(values, "gguf_file", str)
    artifacts = contract.artifacts_dir()
    (artifacts / contract.COMPLETION_MARKER).unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="model-loader-") as scratch:
        source = resolve(name, revision, gguf_file, Path(scratch))
        print(f"loading {name} from {source}", flush=True)
        gguf = find_gguf(source, gguf_file)
        model, tokenizer = load_gguf(gguf) if gguf else load_hf(source)
        for stale in list(artifacts.iterdir()):
            if stale.name != contract.PROGRESS:
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
        model.save_pretrained(artifacts, safe_serialization=True)
        tokenizer.save_pretrained(artifacts)
    config = model.config
    contract.write_manifest(
        artifacts,
        kind="model",
        source=name,
        revision=revision,
        gguf_file=gguf.name if gguf else None,
        architecture=(config.architectures or [type(model).__name__])[0],
        model_type=config.model_type,
        parameters=sum(p.numel() for p in model.parameters()),
        dtype=str(model.dtype).removeprefix("torch."),
        vocab_size=getattr(config, "vocab_size", None),
        loader="model-loader-huggingface",
    )
    contract.mark_complete(artifacts)
    print(f"saved {name} to {artifacts}", flush=True)


if __name__ == "__main__":
    contract.run(main)
