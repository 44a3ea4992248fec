"""Shared pytest set-up. Fixture modules live beside the tests that own them and are
registered here as plugins, so every test directory can use them."""

import os

# Before anything imports torch, transformers or huggingface_hub.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.kubeemu.fixtures", "tests.images.fixtures", "tests.fakegcs"]
