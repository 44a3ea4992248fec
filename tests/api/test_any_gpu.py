"""`gpu: {count: N}` without a type asks for N GPUs of any type, as in the original project's
examples (falcon-7b-instruct/server-4bit-any-gpu.yaml, llama2-13b-chat-gguf/server-gpu.yaml)."""

import kubernetes
import pytest
from kubeemu import cel

from jupyter_substratus.api import Server, parse
from jupyter_substratus.api import workloads as w

from .manifests import load_examples
from .test_crds import schema_of

ORIGINAL_EXAMPLES = ["falcon-7b-instruct/server-4bit-any-gpu.yaml", "llama2-13b-chat-gguf/server-gpu.yaml"]
EXAMPLES = load_examples()


@pytest.mark.parametrize("name", ORIGINAL_EXAMPLES)
def test_the_models_accept_a_gpu_of_any_type(name):
    server = parse(EXAMPLES[name])
    assert isinstance(server, Server)
    assert (server.spec.resources.gpu.type, server.spec.resources.gpu.count) == (None, 1)
    sizing = w.plan(server, w.Inputs("ns", "img")).sizing
    assert (sizing.gpu_type, sizing.gpu_count) == (None, 1)


@pytest.mark.parametrize("name", ORIGINAL_EXAMPLES)
def test_the_crd_accepts_a_gpu_of_any_type(name, kube_api_client, kube_namespace):
    custom = kubernetes.client.CustomObjectsApi(kube_api_client)
    created = custom.create_namespaced_custom_object(
        "substratus.ai", "v1", kube_namespace, "servers", EXAMPLES[name], field_validation="Strict"
    )
    assert created["spec"]["resources"] == {"gpu": {"count": 1}}
    assert cel.validator(schema_of("Server")).validate(EXAMPLES[name]) == []
