"""The built-in images as local programs: which Python file runs for an image reference.

An image's program is the `.py` file its Dockerfile's ENTRYPOINT/CMD names, found in the image's
folder (images/<name>/), run with `sys.executable` and images/common (the container contract) on
PYTHONPATH. Any other image, whatever its tag, needs a cluster.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

BUILT_IN = (
    "model-loader-huggingface",
    "dataset-loader-http",
    "model-trainer-huggingface",
    "model-server",
    "notebook-base",
)
REPOSITORY = "substratusai"


class NeedsCluster(ValueError):
    """The workload cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Program:
    name: str
    entry: Path
    python_path: tuple[Path, ...]


def image_name(image: str) -> str | None:
    """'substratusai/model-server:v1' -> 'model-server'; None for an image that is not built in."""
    reference = image.split("@", 1)[0]
    repository, _, tag = reference.rpartition(":")
    if not repository or "/" in tag:
        repository = reference
    for prefix in ("docker.io/", "index.docker.io/"):
        repository = repository.removeprefix(prefix)
    owner, _, name = repository.rpartition("/")
    return name if owner == REPOSITORY and name in BUILT_IN else None


def _entry_file(dockerfile: Path) -> str | None:
    words: list[str] = []
    for line in dockerfile.read_text().splitlines():
        match = re.match(r"\s*(ENTRYPOINT|CMD)\s+(.*)$", line, re.IGNORECASE)
        if not match:
            continue
        text = match.group(2).strip()
        try:
            found = json.loads(text) if text.startswith("[") else shlex.split(text)
        except ValueError:
            continue
        words.extend(str(w) for w in found)
    return next((w for w in reversed(words) if w.endswith(".py")), None)


def program(image: str, images_dir: Path) -> Program:
    name = image_name(image)
    if name is None:
        raise NeedsCluster(
            f"image {image!r} is not one of the built-in images "
            f"({', '.join(f'{REPOSITORY}/{n}' for n in BUILT_IN)}): running it needs a cluster "
            "(the kubernetes backend)"
        )
    folder = images_dir / name
    dockerfile = folder / "Dockerfile"
    if not dockerfile.is_file():
        raise NeedsCluster(
            f"no program for {image!r} on this machine: {name}/Dockerfile is missing from "
            f"the images directory {images_dir}"
        )
    entry = _entry_file(dockerfile)
    if entry is None or not (folder / Path(entry).name).is_file():
        raise NeedsCluster(f"{name}/Dockerfile names no Python entry file in its folder (ENTRYPOINT/CMD: {entry!r})")
    return Program(name, folder / Path(entry).name, (folder, images_dir / "common"))
