"""Which image a Server runs when it names none: vLLM where it has a GPU, else the transformers server."""

import pytest

from jupyter_substratus.api import DEFAULT_IMAGES, GPU_SERVER_IMAGE, parse, server_image


def _server(**spec) -> object:
    spec = {"model": {"name": "m"}, **spec}
    return parse({"apiVersion": "substratus.ai/v1", "kind": "Server", "metadata": {"name": "s"}, "spec": spec})


@pytest.mark.parametrize(
    "resources, image",
    [
        (None, DEFAULT_IMAGES["server"]),
        ({"cpu": 4}, DEFAULT_IMAGES["server"]),
        ({"gpu": {"count": 0}}, DEFAULT_IMAGES["server"]),
        ({"gpu": {"type": "nvidia-l4"}}, GPU_SERVER_IMAGE),  # count defaults to 1
        ({"gpu": {"type": "nvidia-a100", "count": 2}}, GPU_SERVER_IMAGE),
    ],
)
def test_the_default_follows_the_gpu_count(resources, image):
    server = _server(**({"resources": resources} if resources else {}))
    assert server_image(server) == image


def test_a_backend_without_vllm_serves_a_gpu_server_with_the_transformers_server():
    assert server_image(_server(resources={"gpu": {"count": 1}}), vllm=False) == DEFAULT_IMAGES["server"]


def test_an_image_of_its_own_wins():
    assert server_image(_server(image="me/mine:1", resources={"gpu": {"count": 1}})) == "me/mine:1"
