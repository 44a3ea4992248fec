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
