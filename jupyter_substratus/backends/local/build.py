"""An exported build context run locally: the uploaded tar.gz, checked and unpacked, and the
trainer notebook its Dockerfile names. No image is built: the notebook runs in this environment.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .programs import NeedsCluster, image_name

ARCHIVE = "context.tar.gz"
SOURCE = "src"
CONTAINER_SOURCE = "/content/src"  # where the generated Dockerfile copies the context


class ChecksumMismatch(ValueError):
    pass


@dataclass(frozen=True)
class LocalBuild:
    image: str  # the Dockerfile's FROM: the image whose program runs
    notebook: Path  # the notebook to run, inside the unpacked context


def store(data: bytes, expected_md5: str, folder: Path) -> str:
    """Keep the archive and unpack it into folder/src; the archive's MD5 (hex)."""
    md5 = hashlib.md5(data).hexdigest()
    if md5 != expected_md5:
        raise ChecksumMismatch(f"the build context's MD5 is {md5}, spec.build.upload.md5Checksum is {expected_md5}")
    if folder.exists():
        shutil.rmtree(folder)
    (folder / SOURCE).mkdir(parents=True)
    (folder / ARCHIVE).write_bytes(data)
    with tarfile.open(folder / ARCHIVE, "r:gz") as archive:
        archive.extractall(folder / SOURCE, filter="data")
    return md5


def read(folder: Path) -> LocalBuild:
    """What the unpacked context's Dockerfile asks for, where this machine can do it."""
    source = folder / SOURCE
    dockerfile = source / "Dockerfile"
    if not dockerfile.is_file():
        raise NeedsCluster("the build context has no Dockerfile")
    text = dockerfile.read_text()
    base = re.search(r"^\s*FROM\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    if base is None or image_name(base.group(1)) != "model-trainer-huggingface":
        raise NeedsCluster(
            f"the Dockerfile builds FROM {base.group(1) if base else 'nothing'!r}: only contexts on "
            "substratusai/model-trainer-huggingface run locally; other builds need a cluster"
        )
    notebook = re.search(r"^\s*ENV\s+TRAINER_NOTEBOOK[=\s]+(.+?)\s*$", text, re.MULTILINE)
    if notebook is None:
        raise NeedsCluster("the Dockerfile sets no TRAINER_NOTEBOOK: only exported notebooks run locally")
    value = notebook.group(1)
    path = json.loads(value) if value.startswith('"') else value
    relative = Path(path).relative_to(CONTAINER_SOURCE) if path.startswith(CONTAINER_SOURCE + "/") else Path(path)
    target = (source / relative).resolve()
    if not target.is_relative_to(source.resolve()) or not target.is_file():
        raise NeedsCluster(f"TRAINER_NOTEBOOK {path!r} is not a file of the build context")
    return LocalBuild(base.group(1), target)
