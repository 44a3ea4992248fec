from tests.local.conftest import scripted_images  # noqa: F401 - the local backend's scripted jobs
