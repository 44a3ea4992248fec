"""crds/ is generated from the models, and says what the API promises."""

from pathlib import Path

import pytest
import yaml
from kubeemu import cel

from jupyter_substratus.api import GPU_TYPES, KINDS
from jupyter_substratus.api.crdgen import differences, main

from .manifests import ROOT

CRDS = {
    kind: yaml.safe_load((ROOT / "crds" / f"substratus.ai_{cls.names.plural}.yaml").read_text())
    for kind, cls in KINDS.items()
}


def schema_of(kind: str) -> dict:
    return CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_checked_in_crds_match_the_generator():
    assert differences(ROOT / "crds") == [], "crds/ is stale: run `substratus-crds`"


def test_check_mode_notices_a_stale_file(tmp_path: Path):
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--out", str(tmp_path), "--check"]) == 0
    (tmp_path / "substratus.ai_models.yaml").write_text("stale")
    assert main(["--out", str(tmp_path), "--check"]) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_discoverable_and_readable(kind):
    spec = CRDS[kind]["spec"]
    assert spec["names"]["categories"] == ["ai"]
    assert spec["names"]["shortNames"]
    [version] = spec["versions"]
    assert version["subresources"] == {"status": {}}
    columns = [column["name"] for column in version["additionalPrinterColumns"]]
    assert columns[0] == "Ready" and columns[-1] == "Age"


def test_short_names_are_unique_and_include_nb_and_data():
    short_names = [name for crd in CRDS.values() for name in crd["spec"]["names"]["shortNames"]]
    assert len(short_names) == len(set(short_names))
    assert {"nb", "data"} <= set(short_names)


@pytest.mark.parametrize("kind", KINDS)
def test_gpu_type_is_an_enum(kind):
    gpu = schema_of(kind)["properties"]["spec"]["properties"]["resources"]["properties"]["gpu"]
    assert tuple(gpu["properties"]["type"]["enum"]) == GPU_TYPES
    assert gpu["properties"]["count"]["minimum"] == 0


def _no_open_objects(schema: dict, path: str = "") -> list[str]:
    """Paths of objects that would accept any field (a typo would pass)."""
    found = []
    if schema.get("type") == "object" and "properties" not in schema and "additionalProperties" not in schema:
        if path not in ("metadata",) and not schema.get("x-kubernetes-preserve-unknown-fields"):
            found.append(path)
    for name, child in schema.get("properties", {}).items():
        found += _no_open_objects(child, f"{path}.{name}".lstrip("."))
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural_and_closed(kind):
    schema = schema_of(kind)
    assert _no_open_objects(schema) == []
    text = yaml.safe_dump(schema)
    assert "$ref" not in text and "anyOf" not in text and "additionalProperties: false" not in text


@pytest.mark.parametrize(
    "kind, immutable", [("Model", True), ("Dataset", True), ("Server", False), ("Notebook", False)]
)
def test_spec_immutability_rule(kind, immutable):
    assert ("self == oldSelf" in cel.rules(schema_of(kind)["properties"]["spec"])) == immutable


@pytest.mark.parametrize(
    "kind, rule",
    [
        (kind, "!has(self.image) || !has(self.build)" if kind == "Server" else "has(self.image) != has(self.build)")
        for kind in KINDS
    ],
)
def test_the_image_source_rule_present(kind, rule):
    """A Server may name no image (it gets the default server for its hardware); the others need one."""
    assert rule in cel.rules(schema_of(kind)["properties"]["spec"])


def test_the_emulator_serves_the_crds_of_kubeemu_crds(kube_emulator):
    status, body = kube_emulator.request("GET", "/apis/substratus.ai/v1")
    assert status == 200, body
    assert {"models", "datasets", "servers", "notebooks"} <= {r["name"] for r in body["resources"]}
