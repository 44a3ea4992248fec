"""The files the local-backend UI quickstart starts from, made with the test suite's own fixture
functions (tests/images/fixtures.py): a tiny Llama model directory, a JSONL dataset and the
notebook-from-directory example, under the lab's root directory. Prints their paths as JSON
for the Galata spec (tests/local-quickstart.spec.ts).

    python local_quickstart_files.py LAB_ROOT
"""

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.images.fixtures import (  # noqa: E402
    build_tiny_model,
    make_toy_tokenizer,
    smollm2_gguf,
    toy_records,
    write_jsonl,
)


def main(lab_root: Path) -> None:
    files = lab_root.parent / "quickstart-files"
    files.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "examples" / "notebook-from-directory", lab_root / "finetune")
    print(
        json.dumps(
            {
                "tinyModel": str(build_tiny_model("llama", files / "tiny-llama", make_toy_tokenizer())),
                "smollm2": str(smollm2_gguf()),
                "data": str(write_jsonl(files / "toy.jsonl", toy_records())),
                "notebook": "finetune/finetune.ipynb",
            }
        )
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
