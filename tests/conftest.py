"""Shared pytest set-up. Fixture modules live beside the tests that own them and are
registered here as plugins, so every test directory can use them."""

import os

# Before anything imports torch, transformers or huggingface_hub.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The emulator's fixtures (kube_emulator, kube_namespace, ...) come from the kubeemu package's own
# pytest plugin; the CRDs it registers are set by `kubeemu_crds` in pyproject.toml.
pytest_plugins = ["tests.images.fixtures", "tests.fakegcs"]
