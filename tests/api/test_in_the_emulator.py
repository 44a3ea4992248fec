"""The generated CRDs, registered in the Kubernetes API emulator, accept every example and
reject every invalid manifest that a schema can express, naming the field: 422 Invalid, or, for
an unknown field under strict field validation (kubectl's default), 400 as the real server does."""

import json

import kubernetes
import pytest

from jupyter_substratus.api import GROUP, KINDS, VERSION

from .manifests import INVALID, load_examples

EXAMPLES = load_examples()


@pytest.fixture
def custom(kube_api_client) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kube_api_client)


def _create(custom, namespace: str, manifest: dict, strict: bool = False):
    plural = KINDS[manifest["kind"]].names.plural
    return custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, manifest, field_validation="Strict" if strict else None
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_is_created(custom, kube_namespace, name):
    created = _create(custom, kube_namespace, EXAMPLES[name], strict=True)
    assert created["metadata"]["uid"]
    assert created["spec"] == {**created["spec"], **EXAMPLES[name]["spec"]}


@pytest.mark.parametrize("case", [c for c in INVALID if c.by_schema], ids=lambda c: c.id)
def test_invalid_manifest_is_rejected_naming_the_field(custom, kube_namespace, case):
    with pytest.raises(kubernetes.client.ApiException) as raised:
        _create(custom, kube_namespace, case.manifest(), strict=True)
    body = json.loads(raised.value.body)
    if case.id.startswith("unknown-") and case.id.endswith("-field"):
        assert raised.value.status == 400
        assert f'unknown field "{case.path}"' in body["message"]
        return
    assert raised.value.status == 422, raised.value.body
    fields = [cause.get("field", "") for cause in body["details"].get("causes", [])]
    # oneOf failures name the field in the message only, with a "<nil>" cause, as the real server.
    named = any(field.startswith(case.path) or case.path.startswith(field) for field in fields if field != "<nil>")
    assert named or f'"{case.path}"' in body["message"], f"{case.path} not among {fields}: {body['message']}"


def _refusal(call) -> tuple[int, dict]:
    with pytest.raises(kubernetes.client.ApiException) as raised:
        call()
    return raised.value.status, json.loads(raised.value.body)


def test_a_model_spec_change_is_refused_by_the_immutability_rule(custom, kube_namespace):
    created = _create(custom, kube_namespace, EXAMPLES["facebook-opt-125m/base-model.yaml"])
    name = created["metadata"]["name"]
    status, body = _refusal(
        lambda: custom.patch_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, "models", name, {"spec": {"params": {"name": "other"}}}
        )
    )
    assert status == 422
    assert body["message"] == (
        f'Model.substratus.ai "{name}" is invalid: spec: Invalid value: "object": '
        "spec is immutable: create a new object with the changes instead"
    )
    relabelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "models", name, {"metadata": {"labels": {"team": "nlp"}}}
    )
    assert relabelled["metadata"]["labels"] == {"team": "nlp"}


def test_a_server_spec_may_change(custom, kube_namespace):
    created = _create(custom, kube_namespace, EXAMPLES["facebook-opt-125m/server.yaml"])
    changed = custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, "servers", created["metadata"]["name"], {"spec": {"image": "other"}}
    )
    assert changed["spec"]["image"] == "other"


def test_image_and_build_together_are_refused_with_the_rule_message(custom, kube_namespace):
    manifest = {**EXAMPLES["facebook-opt-125m/dataset.yaml"]}
    manifest["spec"] = {**manifest["spec"], "build": {"git": {"url": "https://example.com/repo"}}}
    status, body = _refusal(lambda: _create(custom, kube_namespace, manifest))
    assert status == 422
    assert 'spec: Invalid value: "object": set exactly one of image, build.git, build.upload' in body["message"]


def test_a_server_may_name_no_image_but_not_an_image_and_a_build(custom, kube_namespace):
    manifest = json.loads(json.dumps(EXAMPLES["facebook-opt-125m/server.yaml"]))
    del manifest["spec"]["image"]
    assert "image" not in _create(custom, kube_namespace, manifest)["spec"]
    manifest["metadata"]["name"] = "both"
    manifest["spec"].update(image="x", build={"git": {"url": "https://example.com/repo"}})
    status, body = _refusal(lambda: _create(custom, kube_namespace, manifest))
    assert status == 422
    assert 'spec: Invalid value: "object": set at most one of image, build.git, build.upload' in body["message"]


@pytest.mark.parametrize("when", ["create", "update"])
def test_a_malformed_secret_reference_is_refused_with_the_rule_message(custom, kube_namespace, when):
    manifest = json.loads(json.dumps(EXAMPLES["facebook-opt-125m/server.yaml"]))
    bad = {"HF_TOKEN": "${{ secret.huggingface }}"}
    if when == "create":
        manifest["spec"]["env"] = bad
        status, body = _refusal(lambda: _create(custom, kube_namespace, manifest))
    else:
        name = _create(custom, kube_namespace, manifest)["metadata"]["name"]
        status, body = _refusal(
            lambda: custom.patch_namespaced_custom_object(
                GROUP, VERSION, kube_namespace, "servers", name, {"spec": {"env": bad}}
            )
        )
    assert status == 422
    # The API server names the map the rule is on, not the key.
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.env",
            "message": 'Invalid value: "object": a secret reference must read ${{ secrets.NAME.KEY }}',
        }
    ]


def test_null_params_are_pruned(custom, kube_namespace):
    manifest = json.loads(json.dumps(EXAMPLES["facebook-opt-125m/base-model.yaml"]))
    manifest["spec"]["params"]["seed"] = None
    created = _create(custom, kube_namespace, manifest)
    assert "seed" not in created["spec"]["params"]
