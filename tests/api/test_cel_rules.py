"""The CEL rules in crds/ do what they say, evaluated by cel-cpp (cel-expr-python) as the emulator does."""

import copy

import pytest
from kubeemu import cel

from jupyter_substratus.api import ResourceValidationError, parse

from .manifests import FINETUNED_MODEL, INVALID, load_examples
from .test_crds import schema_of

EXAMPLES = load_examples()


def _violations(manifest: dict, old: dict | None = None) -> list[tuple[str, str]]:
    return [(e.field, e.detail) for e in cel.validator(schema_of(manifest["kind"])).validate(manifest, old)]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_valid_examples_break_no_rule(name):
    manifest = EXAMPLES[name]
    assert _violations(manifest) == []
    assert _violations(manifest, old=manifest) == []  # an update that changes nothing


@pytest.mark.parametrize("case", [c for c in INVALID if c.by_crd and not c.by_schema], ids=lambda c: c.id)
def test_what_the_schema_cannot_express_a_rule_rejects(case):
    assert _violations(case.manifest()) != []


@pytest.mark.parametrize("case", [c for c in INVALID if not c.by_crd], ids=lambda c: c.id)
def test_what_no_rule_can_check_the_models_refuse_naming_the_field(case):
    """params' values and keys: a real server cannot type them for CEL (tests/api/test_cel_check.py)."""
    assert _violations(case.manifest()) == []
    with pytest.raises(ResourceValidationError) as raised:
        parse(case.manifest())
    assert case.path in str(raised.value)


@pytest.mark.parametrize("example", [FINETUNED_MODEL, "facebook-opt-125m/dataset.yaml"])
def test_model_and_dataset_specs_are_immutable(example):
    old = EXAMPLES[example]
    new = copy.deepcopy(old)
    new["spec"]["params"]["extra"] = "changed"
    assert ("spec", "spec is immutable: create a new object with the changes instead") in _violations(new, old)
    relabelled = copy.deepcopy(old)
    relabelled["metadata"]["labels"] = {"team": "nlp"}
    assert _violations(relabelled, old) == []


@pytest.mark.parametrize("example", ["facebook-opt-125m/server.yaml", "facebook-opt-125m/notebook.yaml"])
def test_servers_and_notebooks_may_change(example):
    old = EXAMPLES[example]
    new = copy.deepcopy(old)
    new["spec"]["resources"] = {"gpu": {"type": "nvidia-a100", "count": 2}}
    assert _violations(new, old) == []


@pytest.mark.parametrize(
    "spec, broken",
    [
        ({"image": "x"}, False),
        ({"build": {"git": {"url": "https://example.com/repo"}}}, False),
        ({"build": {"upload": {"md5Checksum": "0" * 32, "requestID": "r"}}}, False),
        ({"image": "x", "build": {"git": {"url": "https://example.com/repo"}}}, True),
        ({}, True),
    ],
)
def test_exactly_one_of_image_and_build(spec, broken):
    manifest = {"apiVersion": "substratus.ai/v1", "kind": "Dataset", "metadata": {"name": "d"}, "spec": spec}
    messages = [message for _, message in _violations(manifest)]
    assert ("set exactly one of image, build.git, build.upload" in messages) == broken


@pytest.mark.parametrize(
    "spec, broken",
    [
        ({}, False),  # the default model server for its hardware
        ({"image": "x"}, False),
        ({"build": {"git": {"url": "https://example.com/repo"}}}, False),
        ({"image": "x", "build": {"git": {"url": "https://example.com/repo"}}}, True),
    ],
)
def test_a_server_has_at_most_one_of_image_and_build(spec, broken):
    spec = {**spec, "model": {"name": "m"}}
    manifest = {"apiVersion": "substratus.ai/v1", "kind": "Server", "metadata": {"name": "s"}, "spec": spec}
    messages = [message for _, message in _violations(manifest)]
    assert messages == (["set at most one of image, build.git, build.upload"] if broken else [])
    if broken:
        with pytest.raises(ResourceValidationError, match="set at most one of image"):
            parse(manifest)
    else:
        parse(manifest)


@pytest.mark.parametrize(
    "value, broken",
    [
        ("plain value", False),
        ("${{ secrets.huggingface.token }}", False),
        ("${{secrets.hf-token.HF_TOKEN}}", False),
        ("${{ secrets.huggingface }}", True),
        ("prefix ${{ secrets.a.b }}", True),
    ],
)
def test_secret_reference_rule(value, broken):
    manifest = copy.deepcopy(EXAMPLES["llama2-7b/model.yaml"])
    manifest["spec"]["env"] = {"HF_TOKEN": value}
    assert bool(_violations(manifest)) == broken
