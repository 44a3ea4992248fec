"""Every CEL rule in crds/ compiles the way a real API server compiles it (cel-cpp, typed from the
structural schema), and the check refuses the rules a real server refused."""

import json

import pytest
from kubeemu import cel

from jupyter_substratus.api import KINDS
from jupyter_substratus.api.fields import SECRET_REFERENCE_PATTERN

from .test_crds import CRDS, schema_of

# What crds/ shipped before a real kube-apiserver refused it.
QUOTED_REGEX_RULE = f"self.all(k, !self[k].contains('${{{{') || self[k].matches('{SECRET_REFERENCE_PATTERN}'))"
UNTYPED_MAP_RULE = "self.all(k, type(self[k]) in [string, int, uint, double, bool])"


def _spec(**properties) -> dict:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": properties}}}


def _problems(schema: dict) -> str:
    with pytest.raises(cel.RuleError) as raised:
        cel.Validator(schema)
    return str(raised.value)


@pytest.mark.parametrize("kind", KINDS)
def test_every_rule_of_the_crd_compiles(kind):
    schema = schema_of(kind)
    assert cel.rules(schema), "no rules to check"
    cel.Validator(schema)


def test_a_quoted_regex_with_backslash_escapes_is_refused():
    env = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "x-kubernetes-validations": [{"rule": QUOTED_REGEX_RULE, "message": "m"}],
    }
    problems = _problems(_spec(env=env))
    assert "properties[spec].properties[env].x-kubernetes-validations[0].rule" in problems
    assert "compilation failed: ERROR: <input>:1:57: Syntax error: token recognition error at: ''^\\$'" in problems


def test_a_rule_on_a_map_of_preserve_unknown_values_is_refused():
    params = {
        "type": "object",
        "additionalProperties": {"x-kubernetes-preserve-unknown-fields": True},
        "x-kubernetes-validations": [{"rule": UNTYPED_MAP_RULE, "message": "m"}],
    }
    problems = _problems(_spec(params=params))
    assert (
        "properties[spec].properties[params].x-kubernetes-validations: Internal error: failed to construct type "
        "information for x-kubernetes-validations rules"
    ) in problems


def test_a_rule_above_cannot_name_an_untyped_field():
    schema = _spec(params={"x-kubernetes-preserve-unknown-fields": True}, image={"type": "string"})
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "has(self.image) || has(self.params)"}]
    assert "undefined field 'params'" in _problems(schema)


def test_a_rule_must_be_boolean():
    schema = _spec(image={"type": "string", "x-kubernetes-validations": [{"rule": "self.size()"}]})
    assert "must evaluate to a bool" in _problems(schema)


def test_the_emulator_refuses_a_crd_whose_rule_does_not_compile(kube_emulator):
    crd = json.loads(json.dumps(CRDS["Model"]))
    crd["metadata"]["name"] = "brokens.substratus.ai"
    crd["spec"]["names"] = {"kind": "Broken", "plural": "brokens", "singular": "broken", "listKind": "BrokenList"}
    env = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["env"]
    env["x-kubernetes-validations"][1]["rule"] = QUOTED_REGEX_RULE
    status, body = kube_emulator.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert status == 422, body
    assert body["message"].startswith(
        'CustomResourceDefinition.apiextensions.k8s.io "brokens.substratus.ai" is '
        "invalid: spec.versions[0].schema.openAPIV3Schema.properties[spec].properties"
        "[env].x-kubernetes-validations[1].rule: Invalid value: "
    )
    assert "token recognition error" in body["message"]
