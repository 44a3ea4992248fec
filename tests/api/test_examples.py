"""The examples and the seeds' YAML parse, and survive a round trip unchanged."""

import pytest
import yaml

from jupyter_substratus.api import API_VERSION, KINDS, Model, Server, parse

from .manifests import SEEDS, load_examples, seed_yaml_blocks

EXAMPLES = load_examples()


def test_examples_cover_what_users_start_from():
    names = set(EXAMPLES)
    for expected in [
        "facebook-opt-125m/base-model.yaml",
        "facebook-opt-125m/dataset.yaml",
        "facebook-opt-125m/finetuned-model.yaml",
        "facebook-opt-125m/server.yaml",
        "facebook-opt-125m/notebook.yaml",
        "falcon-7b-instruct/server.yaml",
        "llama2-7b/model.yaml",
        "notebook-from-directory/notebook.yaml",
    ]:
        assert expected in names


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_parses_and_round_trips(name):
    manifest = EXAMPLES[name]
    resource = parse(manifest)
    assert isinstance(resource, KINDS[manifest["kind"]])
    assert parse(resource.to_manifest()) == resource


def test_falcon_runs_on_four_l4s():
    server = parse(EXAMPLES["falcon-7b-instruct/server.yaml"])
    assert isinstance(server, Server)
    assert (server.spec.resources.gpu.type, server.spec.resources.gpu.count) == ("nvidia-l4", 4)


def test_llama_token_comes_from_a_secret():
    model = parse(EXAMPLES["llama2-7b/model.yaml"])
    assert model.spec.env == {"HF_TOKEN": "${{ secrets.huggingface.token }}"}


def test_finetune_example_names_base_model_and_dataset():
    model = parse(EXAMPLES["facebook-opt-125m/finetuned-model.yaml"])
    assert isinstance(model, Model) and model.spec.is_fine_tune
    assert (model.spec.model.name, model.spec.dataset.name) == ("facebook-opt-125m", "favorite-colors")


SEED_BLOCKS = [yaml.safe_load(block) for block in seed_yaml_blocks("003_b86a152b1ff71412.txt")]


def test_seed_003_has_the_final_api_examples():
    assert [block["kind"] for block in SEED_BLOCKS] == ["Model", "Server"]


@pytest.mark.parametrize("manifest", SEED_BLOCKS, ids=lambda m: f"{m['kind']}-{m['metadata']['name']}")
def test_seed_examples_are_accepted(manifest):
    assert manifest["apiVersion"] == API_VERSION
    assert parse(manifest).to_manifest()["spec"] == manifest["spec"]


def test_seed_001_shows_the_same_examples():
    """Seed 001 is the same page with its indentation lost; its YAML is seed 003's."""
    flat_001 = " ".join((SEEDS / "001_0a8274a91a1960df.txt").read_text().split())
    for block in seed_yaml_blocks("003_b86a152b1ff71412.txt"):
        assert " ".join(block.split()) in flat_001
