"""Manifests for the API tests: the examples, the seeds' YAML, and invalid variations."""

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
SEEDS = ROOT.parent / "shared" / "seeds"


def load_examples() -> dict[str, dict]:
    return {str(path.relative_to(ROOT / "examples")): yaml.safe_load(path.read_text()) for path in EXAMPLES}


def seed_yaml_blocks(seed: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (SEEDS / seed).read_text(), flags=re.S)


def _example(path: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / path).read_text())


BASE_MODEL = "facebook-opt-125m/base-model.yaml"
FINETUNED_MODEL = "facebook-opt-125m/finetuned-model.yaml"
SERVER = "facebook-opt-125m/server.yaml"
NOTEBOOK = "facebook-opt-125m/notebook.yaml"
DATASET = "facebook-opt-125m/dataset.yaml"


@dataclass
class Invalid:
    id: str
    example: str
    change: Callable[[dict], Any]
    path: str  # the field the error must name
    by_schema: bool  # the CRD's OpenAPI schema alone rejects it (not only CEL)
    # False: neither the schema nor a CEL rule can (params' values): the models refuse it, the
    # extension with 400, the operator with an InvalidSpec condition naming the field.
    by_crd: bool = True

    def manifest(self) -> dict:
        manifest = copy.deepcopy(_example(self.example))
        self.change(manifest)
        return manifest


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def change(manifest: dict) -> None:
        *parents, last = path.split(".")
        node = manifest
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value

    return change


def _delete(path: str) -> Callable[[dict], None]:
    def change(manifest: dict) -> None:
        *parents, last = path.split(".")
        node = manifest
        for key in parents:
            node = node[key]
        del node[last]

    return change


GIT = {"git": {"url": "https://github.com/substratusai/model-trainer-huggingface"}}

INVALID = [
    Invalid("unknown-spec-field", BASE_MODEL, _set("spec.imagee", "x"), "spec.imagee", True),
    Invalid("unknown-resources-field", SERVER, _set("spec.resources.gpus", 1), "spec.resources.gpus", True),
    Invalid("unknown-gpu-field", SERVER, _set("spec.resources.gpu.model", "a100"), "spec.resources.gpu.model", True),
    Invalid(
        "unknown-gpu-type",
        SERVER,
        _set("spec.resources.gpu", {"type": "nvidia-x", "count": 1}),
        "spec.resources.gpu.type",
        True,
    ),
    Invalid(
        "negative-gpu-count",
        SERVER,
        _set("spec.resources.gpu", {"type": "nvidia-l4", "count": -1}),
        "spec.resources.gpu.count",
        True,
    ),
    Invalid(
        "gpu-count-string",
        SERVER,
        _set("spec.resources.gpu", {"type": "nvidia-l4", "count": "4"}),
        "spec.resources.gpu.count",
        True,
    ),
    Invalid(
        "gpu-count-float",
        SERVER,
        _set("spec.resources.gpu", {"type": "nvidia-l4", "count": 1.5}),
        "spec.resources.gpu.count",
        True,
    ),
    Invalid(
        "gpu-type-with-count-zero",
        SERVER,
        _set("spec.resources.gpu", {"type": "nvidia-l4", "count": 0}),
        "spec.resources.gpu",
        False,
    ),
    Invalid("cpu-zero", FINETUNED_MODEL, _set("spec.resources.cpu", 0), "spec.resources.cpu", True),
    Invalid("memory-string", FINETUNED_MODEL, _set("spec.resources.memory", "16Gi"), "spec.resources.memory", True),
    Invalid("disk-negative", FINETUNED_MODEL, _set("spec.resources.disk", -5), "spec.resources.disk", True),
    Invalid("image-and-build", BASE_MODEL, _set("spec.build", GIT), "spec", True),
    Invalid("neither-image-nor-build", BASE_MODEL, _delete("spec.image"), "spec", True),
    Invalid(
        "build-git-and-upload",
        NOTEBOOK,
        lambda m: (
            m["spec"].pop("image"),
            m["spec"].update(build={**GIT, "upload": {"md5Checksum": "0" * 32, "requestID": "r1"}}),
        ),
        "spec.build",
        True,
    ),
    Invalid(
        "build-empty", NOTEBOOK, lambda m: (m["spec"].pop("image"), m["spec"].update(build={})), "spec.build", True
    ),
    Invalid(
        "build-git-without-url",
        BASE_MODEL,
        lambda m: (m["spec"].pop("image"), m["spec"].update(build={"git": {"branch": "main"}})),
        "spec.build.git.url",
        True,
    ),
    Invalid(
        "build-git-bad-url",
        BASE_MODEL,
        lambda m: (m["spec"].pop("image"), m["spec"].update(build={"git": {"url": "not a url"}})),
        "spec.build.git.url",
        True,
    ),
    Invalid(
        "build-git-path-escapes",
        BASE_MODEL,
        lambda m: (m["spec"].pop("image"), m["spec"].update(build={"git": {**GIT["git"], "path": "../secrets"}})),
        "spec.build.git.path",
        True,
    ),
    Invalid(
        "build-git-branch-and-tag",
        BASE_MODEL,
        lambda m: (
            m["spec"].pop("image"),
            m["spec"].update(build={"git": {**GIT["git"], "branch": "main", "tag": "v1"}}),
        ),
        "spec.build.git",
        False,
    ),
    Invalid(
        "build-upload-bad-md5",
        NOTEBOOK,
        lambda m: (
            m["spec"].pop("image"),
            m["spec"].update(build={"upload": {"md5Checksum": "xyz", "requestID": "r1"}}),
        ),
        "spec.build.upload.md5Checksum",
        True,
    ),
    Invalid(
        "build-upload-without-request",
        NOTEBOOK,
        lambda m: (m["spec"].pop("image"), m["spec"].update(build={"upload": {"md5Checksum": "0" * 32}})),
        "spec.build.upload.requestID",
        True,
    ),
    Invalid("server-without-model", SERVER, _delete("spec.model"), "spec.model", True),
    Invalid("model-ref-without-name", SERVER, _set("spec.model", {}), "spec.model.name", True),
    Invalid("model-ref-bad-name", SERVER, _set("spec.model", {"name": "Falcon_7B"}), "spec.model.name", True),
    Invalid("model-ref-as-string", SERVER, _set("spec.model", "falcon-7b"), "spec.model", True),
    Invalid("dataset-without-model", FINETUNED_MODEL, _delete("spec.model"), "spec", False),
    Invalid(
        "params-nested-object", FINETUNED_MODEL, _set("spec.params.lora", {"r": 8}), "spec.params.lora", False, False
    ),
    Invalid("params-list", FINETUNED_MODEL, _set("spec.params.layers", [1, 2]), "spec.params.layers", False, False),
    Invalid("params-null", FINETUNED_MODEL, _set("spec.params.seed", None), "spec.params.seed", False, False),
    Invalid(
        "params-bad-key",
        FINETUNED_MODEL,
        _set("spec.params.learning-rate", 0.1),
        "spec.params.learning-rate",
        False,
        False,
    ),
    Invalid(
        "trainer-param-wrong-type",
        FINETUNED_MODEL,
        _set("spec.params.learning_rate", "fast"),
        "spec.params.learning_rate",
        False,
        False,
    ),
    Invalid(
        "trainer-param-below-minimum",
        FINETUNED_MODEL,
        _set("spec.params.learning_rate", -1),
        "spec.params.learning_rate",
        False,
        False,
    ),
    Invalid("params-not-a-map", FINETUNED_MODEL, _set("spec.params", ["a"]), "spec.params", True),
    Invalid(
        "env-number",
        BASE_MODEL,
        _set("spec.env", {"HF_HUB_ENABLE_HF_TRANSFER": 1}),
        "spec.env.HF_HUB_ENABLE_HF_TRANSFER",
        True,
    ),
    Invalid(
        "env-bad-secret-reference",
        BASE_MODEL,
        _set("spec.env", {"HF_TOKEN": "${{ secret.huggingface }}"}),
        "spec.env.HF_TOKEN",
        False,
    ),
    Invalid("command-not-a-list", BASE_MODEL, _set("spec.command", "python train.py"), "spec.command", True),
    Invalid("command-with-number", BASE_MODEL, _set("spec.command", ["python", 3]), "spec.command[1]", True),
    Invalid("suspend-string", NOTEBOOK, _set("spec.suspend", "yes"), "spec.suspend", True),
    Invalid("image-empty", DATASET, _set("spec.image", ""), "spec.image", True),
    Invalid("image-with-space", DATASET, _set("spec.image", "my image"), "spec.image", True),
    Invalid("spec-missing", DATASET, _delete("spec"), "spec", True),
    Invalid("cpu-string", FINETUNED_MODEL, _set("spec.resources.cpu", "2"), "spec.resources.cpu", True),
]
