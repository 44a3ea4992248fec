"""The trainer params table agrees with train.py, and a fine-tune's params are checked against it."""

import ast
import copy
import dataclasses
import importlib.util
import sys
import typing

import pytest

from jupyter_substratus.api import ResourceValidationError, parse
from jupyter_substratus.api.trainer_params import TRAINER_PARAMS, TRAINER_PARAMS_BY_NAME
from tests.images.fixtures import IMAGES

from .manifests import FINETUNED_MODEL, _example

TRAIN_PY = IMAGES / "model-trainer-huggingface" / "train.py"
JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string", list: "string"}


@pytest.fixture(scope="module")
def train():
    """train.py itself, importing substratus_contract as the image does."""
    sys.path.insert(0, str(IMAGES / "common"))
    try:
        spec = importlib.util.spec_from_file_location("trainer_train", TRAIN_PY)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(IMAGES / "common"))


def _reads_in_train_py() -> dict[str, tuple[str, object]]:
    """{key: (kind, default)} of each `contract.param(values, "key", kind[, default])` in train.py."""
    reads = {}
    for node in ast.walk(ast.parse(TRAIN_PY.read_text())):
        is_param_call = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "param"
            and len(node.args) >= 3
            and isinstance(node.args[1], ast.Constant)
        )
        if is_param_call:
            default = node.args[3] if len(node.args) > 3 else None
            value = default.value if isinstance(default, ast.Constant) else None
            reads[node.args[1].value] = (node.args[2].id, value)
    return reads


def test_every_trainer_param_of_train_py_is_in_the_table_with_its_type(train):
    for name, kind in train.TRAINER_PARAMS.items():
        assert name in TRAINER_PARAMS_BY_NAME, f"train.py reads {name}: add it to trainer_params.py"
        assert TRAINER_PARAMS_BY_NAME[name].type == JSON_TYPES[kind], name


def test_the_defaults_are_the_ones_train_py_reads_with():
    reads = _reads_in_train_py()
    assert "max_length" in reads and "lora_dropout" in reads, "train.py no longer reads params this way"
    builtins = {"int": int, "float": float, "bool": bool, "str": str, "list": list}
    for name, (kind, default) in reads.items():
        param = TRAINER_PARAMS_BY_NAME[name]
        assert param.type == JSON_TYPES[builtins[kind]], name
        assert param.default == default, name


def test_the_other_params_are_training_arguments_fields_with_their_types_and_defaults(train):
    transformers = pytest.importorskip("transformers")
    hints = typing.get_type_hints(transformers.TrainingArguments)
    fields = {f.name: f for f in dataclasses.fields(transformers.TrainingArguments) if f.init}
    for param in TRAINER_PARAMS:
        if param.name in train.TRAINER_PARAMS:
            continue
        assert param.name in fields, f"{param.name} is neither a trainer param nor a TrainingArguments field"
        kinds = typing.get_args(hints[param.name]) or (hints[param.name],)
        assert any(JSON_TYPES.get(k) == param.type or (param.type == "string" and k is not bool) for k in kinds)
        assert param.default == train.DEFAULTS.get(param.name, fields[param.name].default), param.name


def _fine_tune(**params) -> dict:
    manifest = copy.deepcopy(_example(FINETUNED_MODEL))
    manifest["spec"]["params"] = params
    return manifest


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate": "fast"}, "must be a finite number, not 'fast'"),
        ({"learning_rate": -1}, "must be at least 0, not -1"),
        ({"max_steps": 2.5}, "must be an integer"),
        ({"merge_adapter": "maybe"}, "must be true or false"),
        ({"lora_dropout": 1.5}, "must be at most 1"),
    ],
)
def test_a_wrong_value_names_the_param(params, message):
    with pytest.raises(ResourceValidationError) as raised:
        parse(_fine_tune(**params))
    [name] = params
    [error] = raised.value.errors
    assert error.path == f"spec.params.{name}"
    assert message in error.message


def test_values_the_trainer_reads_pass():
    """As the trainer's contract.param reads them: numbers from strings, booleans from words."""
    parse(_fine_tune(learning_rate="2e-4", max_steps=3.0, merge_adapter="false", lora_r=8, my_own_key="x"))


def test_a_loader_and_a_notebook_build_keep_their_own_param_meanings():
    loader = _example("facebook-opt-125m/base-model.yaml")
    parse({**loader, "spec": {**loader["spec"], "params": {**loader["spec"]["params"], "seed": "any"}}})
    built = _fine_tune(learning_rate="fast")
    built["spec"].pop("image")
    built["spec"]["build"] = {"upload": {"md5Checksum": "0" * 32, "requestID": "r1"}}
    parse(built)


def test_empty_required_strings_say_required():
    manifest = _fine_tune()
    manifest["spec"]["model"] = {"name": ""}
    with pytest.raises(ResourceValidationError) as raised:
        parse(manifest)
    assert [(e.path, e.message) for e in raised.value.errors] == [("spec.model.name", "required")]


def test_a_gpu_type_with_no_gpus_is_explained():
    manifest = _fine_tune()
    manifest["spec"]["resources"] = {"gpu": {"type": "nvidia-l4", "count": 0}}
    with pytest.raises(ResourceValidationError) as raised:
        parse(manifest)
    [error] = raised.value.errors
    assert error.path == "spec.resources.gpu" and "spec.resources.gpu.count ≥ 1 or remove gpu.type" in error.message
    manifest["spec"]["resources"] = {"gpu": {"count": 0}}
    parse(manifest)
