"""The built-in workload images (images/ in the repo), by the job each does.

The defaults of the magics, the front end's dialogs (served by GET /substratus/api/v1) and
generated Dockerfiles.
"""

REGISTRY = "substratusai"

DEFAULT_IMAGES: dict[str, str] = {
    "modelLoader": f"{REGISTRY}/model-loader-huggingface",
    "datasetLoader": f"{REGISTRY}/dataset-loader-http",
    "trainer": f"{REGISTRY}/model-trainer-huggingface",
    "server": f"{REGISTRY}/model-server",
    "notebook": f"{REGISTRY}/notebook-base",
}
