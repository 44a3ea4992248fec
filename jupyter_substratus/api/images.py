"""The built-in workload images (images/ in the repo), by the job each does.

The defaults of the magics, the front end's dialogs (served by GET /substratus/api/v1) and
generated Dockerfiles.
"""

from .kinds import Server

REGISTRY = "substratusai"

DEFAULT_IMAGES: dict[str, str] = {
    "modelLoader": f"{REGISTRY}/model-loader-huggingface",
    "datasetLoader": f"{REGISTRY}/dataset-loader-http",
    "trainer": f"{REGISTRY}/model-trainer-huggingface",
    "server": f"{REGISTRY}/model-server",
    "notebook": f"{REGISTRY}/notebook-base",
}
GPU_SERVER_IMAGE = f"{REGISTRY}/model-server-vllm"


def server_image(server: Server, *, vllm: bool = True) -> str:
    """The image a Server not built from source runs: its own, else vLLM where it has a GPU, else
    the transformers server (continuous batching on CPU).

    `vllm=False` for a backend that cannot run the vLLM image: the local one runs images/ as
    programs on this machine, where the transformers server serves a GPU too.
    """
    if server.spec.image is not None:
        return server.spec.image
    gpu = server.spec.resources.gpu if server.spec.resources else None
    if vllm and gpu is not None and gpu.count >= 1:
        return GPU_SERVER_IMAGE
    return DEFAULT_IMAGES["server"]
