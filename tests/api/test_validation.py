"""Every invalid manifest is rejected by the pydantic models with a message naming its field."""

import pytest

from jupyter_substratus.api import ResourceValidationError, parse

from .manifests import INVALID, Invalid


def test_there_are_enough_invalid_cases():
    assert len(INVALID) >= 25
    assert len({case.id for case in INVALID}) == len(INVALID)


@pytest.mark.parametrize("case", INVALID, ids=lambda case: case.id)
def test_invalid_manifest_is_rejected_naming_the_field(case: Invalid):
    with pytest.raises(ResourceValidationError) as raised:
        parse(case.manifest())
    paths = [error.path for error in raised.value.errors]
    assert case.path in paths, f"{case.path} not in {paths}: {raised.value}"
    assert all(error.message for error in raised.value.errors)
    assert case.path in str(raised.value)


@pytest.mark.parametrize(
    "manifest, path, message",
    [
        ("not a mapping", "", "mapping"),
        ({"apiVersion": "substratus.ai/v1", "kind": "Modle", "metadata": {"name": "x"}, "spec": {}}, "kind", "Model"),
        (
            {"apiVersion": "substratus.ai/v2", "kind": "Model", "metadata": {"name": "x"}, "spec": {}},
            "apiVersion",
            "substratus.ai/v1",
        ),
        (
            {
                "apiVersion": "substratus.ai/v1",
                "kind": "Model",
                "metadata": {"name": "My_Model"},
                "spec": {"image": "x"},
            },
            "metadata.name",
            "lowercase",
        ),
        ({"apiVersion": "substratus.ai/v1", "kind": "Model", "spec": {"image": "x"}}, "metadata", "missing"),
    ],
)
def test_envelope_errors_say_what_to_fix(manifest, path, message):
    with pytest.raises(ResourceValidationError) as raised:
        parse(manifest)
    [error] = [e for e in raised.value.errors if e.path == path]
    assert message in error.message


def test_messages_are_readable():
    case = next(c for c in INVALID if c.id == "unknown-gpu-type")
    with pytest.raises(ResourceValidationError) as raised:
        parse(case.manifest())
    assert "nvidia-l4" in str(raised.value)
    case = next(c for c in INVALID if c.id == "build-git-path-escapes")
    with pytest.raises(ResourceValidationError) as raised:
        parse(case.manifest())
    assert "relative path without '..'" in str(raised.value)
    case = next(c for c in INVALID if c.id == "params-nested-object")
    with pytest.raises(ResourceValidationError) as raised:
        parse(case.manifest())
    assert "must be a string, number or boolean, not an object" in str(raised.value)
