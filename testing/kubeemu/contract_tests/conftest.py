"""A small CRD of the emulator's own, so its contract does not depend on the project's CRDs."""

import copy
from typing import Any

import kubernetes
import pytest

GROUP, VERSION, PLURAL = "kubeemu.test", "v1", "widgets"

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["spec"],
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "oneOf": [{"required": ["image"]}, {"required": ["build"]}],
            "properties": {
                "image": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
                "build": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
                "size": {"type": "string", "enum": ["small", "large"], "default": "small"},
                "replicas": {"type": "integer", "minimum": 0, "maximum": 5},
                "port": {"x-kubernetes-int-or-string": True},
                "note": {"type": "string", "nullable": True, "maxLength": 10},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.image) || self.image != 'forbidden'",
                    "message": "the image must not be 'forbidden'",
                }
            ],
        },
        "status": {
            "type": "object",
            "properties": {
                "ready": {"type": "boolean"},
                "phase": {"type": "string"},
                "conditions": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["type"],
                    "items": {
                        "type": "object",
                        "required": ["type", "status"],
                        "properties": {"type": {"type": "string"}, "status": {"type": "string"}},
                    },
                },
            },
        },
    },
}

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{PLURAL}.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {
            "kind": "Widget",
            "listKind": "WidgetList",
            "plural": PLURAL,
            "singular": "widget",
            "shortNames": ["wd"],
            "categories": ["all", "kubeemu"],
        },
        "versions": [
            {
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": WIDGET_SCHEMA},
            }
        ],
    },
}


def widget(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec or {"image": "busybox"},
    }


@pytest.fixture(scope="session")
def widget_crd(kube_emulator) -> dict[str, Any]:
    """The Widget CRD, registered over HTTP like `kubectl apply` would."""
    with kubernetes.config.new_client_from_config(config_file=str(kube_emulator.kubeconfig)) as client:
        api = kubernetes.client.ApiextensionsV1Api(client)
        api.create_custom_resource_definition(copy.deepcopy(WIDGET_CRD))
    return WIDGET_CRD


@pytest.fixture
def core(kube_api_client) -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(kube_api_client)


@pytest.fixture
def custom(kube_api_client, widget_crd) -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kube_api_client)
