"""README.md's magics section runs as written: its code blocks, one cell each, in a kernel of a
real Jupyter server (local backend), with only the Hugging Face id and the dataset's URL replaced
by a tiny local model and a local file (SUBSTITUTES)."""

from __future__ import annotations

import re

import pytest

from tests.images.fixtures import NOTEBOOK_NOISE, ROOT, toy_records, write_jsonl
from tests.magics.jupyter_kernel import notebook, output_text, run_in_kernel

pytestmark = pytest.mark.slow


def readme_magics_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n### Magics\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^```python\n(.*?)^```$", section, flags=re.DOTALL | re.MULTILINE)


def test_the_readme_magics_run_as_written(jupyter_server, tmp_path, tiny_model_dirs):
    substitutes = {
        "facebook/opt-125m": str(tiny_model_dirs["opt"]),
        "https://example.com/colors.jsonl": str(write_jsonl(tmp_path / "colors.jsonl", toy_records())),
    }
    cells = readme_magics_blocks()
    assert len(cells) == 3, cells
    for text, substitute in substitutes.items():
        assert sum(text in cell for cell in cells) == 1, f"the README's magics no longer use {text}"
        cells = [cell.replace(text, substitute) for cell in cells]

    nb = run_in_kernel(jupyter_server, notebook(*cells))

    texts = [output_text(cell) for cell in nb.cells]
    *before, last = texts
    assert not [text for text in before if "substratus:" in text], texts  # no error, no warning
    assert "opt-colors" in texts[1], texts[1]  # its state as the fine-tune was launched
    assert "Server opt-colors is serving at" in last, last
    assert "epoch 3: loss" in last, last  # the training notebook's prints, from `logs --follow`
    assert not [noise for noise in NOTEBOOK_NOISE if noise in last], last
    # No cluster here: switching to it fails with what to fix, and the session keeps its backend.
    assert "no Kubernetes configuration" in last, last
    models = jupyter_server.client.get("substratus/api/v1/models").json()["items"]
    assert {m["metadata"]["name"]: m["status"].get("ready") for m in models} == {"opt": True, "opt-colors": True}
