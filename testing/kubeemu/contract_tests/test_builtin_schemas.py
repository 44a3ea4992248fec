"""The compiled fast path of the built-in schemas says what jsonschema says, object for object.

Each object below is valid; every variant of it made by one change (a field removed, a field
added, a value replaced by one of another type) is put to both validators.
"""

import copy
from collections.abc import Iterator
from typing import Any

import fastjsonschema
import pytest
from kubeemu import builtin_schemas

CONTAINER = {
    "name": "loader",
    "image": "registry.example/loader:1",
    "command": ["python", "load.py"],
    "env": [
        {"name": "PARAM_EPOCHS", "value": "3"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
    ],
    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
    "volumeMounts": [
        {"name": "artifacts", "mountPath": "/content/artifacts"},
        {"name": "params", "mountPath": "/content/params.json", "subPath": "params.json", "readOnly": True},
    ],
    "resources": {"limits": {"cpu": "2", "memory": "10Gi", "nvidia.com/gpu": 1}},
    "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 5},
}
POD_SPEC = {
    "restartPolicy": "Never",
    "containers": [CONTAINER],
    "nodeSelector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "volumes": [
        {"name": "params", "configMap": {"name": "m-params"}},
        {
            "name": "artifacts",
            "csi": {"driver": "gcsfuse.csi.storage.gke.io", "volumeAttributes": {"bucketName": "b", "onlyDir": "m"}},
        },
    ],
}
METADATA = {
    "name": "m-loader",
    "namespace": "ml",
    "labels": {"substratus.ai/owner-name": "m"},
    "ownerReferences": [
        {
            "apiVersion": "substratus.ai/v1",
            "kind": "Model",
            "name": "m",
            "uid": "u-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ],
}
OBJECTS = {
    "Job": {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": METADATA,
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": {"a": "b"}}, "spec": POD_SPEC}},
        "status": {"conditions": [{"type": "Complete", "status": "True"}], "succeeded": 1},
    },
    "Deployment": {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": METADATA,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {**POD_SPEC, "restartPolicy": "Always"}},
        },
    },
    "Service": {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": METADATA,
        "spec": {"selector": {"a": "b"}, "ports": [{"port": 8080, "targetPort": "http"}]},
    },
    "Secret": {"apiVersion": "v1", "kind": "Secret", "metadata": METADATA, "stringData": {"token": "t"}},
}
OTHER_TYPES = ("text", 7, 2.5, True, None, [], {})


def variants(node: Any) -> Iterator[Any]:
    """Copies of `node`, each with one change somewhere inside it."""
    if isinstance(node, dict):
        yield {**node, "unexpectedField": "x"}
        for key, value in node.items():
            yield {k: v for k, v in node.items() if k != key}
            for changed in [*variants(value), *(other for other in OTHER_TYPES if type(other) is not type(value))]:
                yield {**node, key: changed}
    elif isinstance(node, list):
        for index, value in enumerate(node):
            for changed in [*variants(value), *(other for other in OTHER_TYPES if type(other) is not type(value))]:
                yield [*node[:index], changed, *node[index + 1 :]]


def fast_accepts(kind: str, obj: Any) -> bool:
    try:
        builtin_schemas.fast_validator(OBJECTS[kind]["apiVersion"], kind)(copy.deepcopy(obj))
    except fastjsonschema.JsonSchemaValueException:
        return False
    return True


def jsonschema_accepts(kind: str, obj: Any) -> bool:
    return not any(builtin_schemas.validator(OBJECTS[kind]["apiVersion"], kind).iter_errors(obj))


@pytest.mark.parametrize("kind", OBJECTS)
def test_the_compiled_schema_judges_like_jsonschema(kind):
    valid = OBJECTS[kind]
    assert fast_accepts(kind, valid) and jsonschema_accepts(kind, valid)
    cases = list(variants(valid))
    disagreements = [case for case in cases if fast_accepts(kind, case) != jsonschema_accepts(kind, case)]
    assert not disagreements, f"{len(disagreements)} of {len(cases)} disagree, e.g. {disagreements[0]}"
    assert sum(not jsonschema_accepts(kind, case) for case in cases) > len(cases) / 3  # the variants do test


def test_an_invalid_object_still_gets_every_error_with_its_path():
    job = copy.deepcopy(OBJECTS["Job"])
    job["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": "80"}]
    job["spec"]["template"]["spec"]["containers"].append({"image": "x"})
    found = builtin_schemas.check(job)
    assert found.undecodable and "containerPort" in found.undecodable[0]
    assert [e.field for e in found.invalid] == ["spec.template.spec.containers[1].name"]


def test_a_schema_keyword_without_a_translation_is_refused():
    with pytest.raises(ValueError, match="patternProperties"):
        builtin_schemas.draft7({"type": "object", "patternProperties": {"^a": {"type": "string"}}})
