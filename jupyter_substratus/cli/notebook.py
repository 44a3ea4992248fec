"""Which Notebook a directory opens: its notebook.yaml, else one made from the flags.

The image: the spec's own (`image` or `build.git`), else `--image`, else built from the
directory (`export.notebook_context`: its Dockerfile, or one generated from the notebook base
image with its requirements.txt). The local backend builds nothing: it runs the base image's
program here.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import yaml

from jupyter_substratus.api import API_VERSION, parse
from jupyter_substratus.export import (
    NOTEBOOK_IMAGE,
    BuildContext,
    ExportError,
    gpu_resource,
    notebook_context,
    notebook_dockerfile,
)

MANIFEST_FILE = "notebook.yaml"


class UsageError(Exception):
    """What the user has to change; printed as one line."""


def default_name(directory: Path) -> str:
    """A Notebook name from the directory's name (lower case, dashes, at most 63 characters)."""
    name = re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")[:63].strip("-")
    return name or "notebook"


def notebook_manifest(
    directory: Path,
    *,
    name: str | None = None,
    gpu: tuple[str | None, int] | None = None,
    model: str | None = None,
    dataset: str | None = None,
    image: str | None = None,
    suspend_after_idle: str | None = None,
) -> dict[str, Any]:
    """The Notebook of `directory` (not validated yet): notebook.yaml there, the flags over it."""
    path = directory / MANIFEST_FILE
    if path.is_file():
        try:
            manifest = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise UsageError(f"{MANIFEST_FILE} is not YAML: {str(e).splitlines()[0]}") from None
        if not isinstance(manifest, dict) or manifest.get("kind") != "Notebook":
            raise UsageError(f"{MANIFEST_FILE} must hold one Notebook (kind: Notebook)")
    else:
        manifest = {"apiVersion": API_VERSION, "kind": "Notebook", "metadata": {}, "spec": {}}
    metadata = manifest.setdefault("metadata", {})
    spec = manifest.setdefault("spec", {})
    if not isinstance(metadata, dict) or not isinstance(spec, dict):
        raise UsageError(f"{MANIFEST_FILE}: metadata and spec must be mappings")
    metadata["name"] = name or metadata.get("name") or default_name(directory)
    if gpu:
        spec.setdefault("resources", {})["gpu"] = gpu_resource(gpu)
    if model:
        spec["model"] = {"name": model}
    if dataset:
        spec["dataset"] = {"name": dataset}
    if image:
        spec.pop("build", None)
        spec["image"] = image
    if suspend_after_idle:
        spec["suspendAfterIdle"] = suspend_after_idle
    spec.pop("suspend", None)  # opening it means running it
    return manifest


def builds_from_directory(manifest: dict[str, Any]) -> bool:
    spec = manifest["spec"]
    return not spec.get("image") and not (spec.get("build") or {}).get("git")


def generated_dockerfile(directory: Path) -> str:
    """The Dockerfile `with_build` generates for a directory without one."""
    return notebook_dockerfile(NOTEBOOK_IMAGE, (directory / "requirements.txt").is_file())


def with_build(manifest: dict[str, Any], directory: Path) -> tuple[dict[str, Any], BuildContext]:
    """The manifest built from the directory's context (validated), and that context."""
    try:
        context = notebook_context(directory, NOTEBOOK_IMAGE)
    except ExportError as e:
        raise UsageError(str(e)) from None
    spec = {**manifest["spec"], "build": {"upload": {"md5Checksum": context.md5, "requestID": uuid.uuid4().hex}}}
    built = {**manifest, "spec": spec}
    parse(built)
    return built, context


def with_base_image(manifest: dict[str, Any]) -> dict[str, Any]:
    """For the local backend: the base image where the directory would be built from."""
    if not builds_from_directory(manifest):
        return manifest
    return {**manifest, "spec": {**manifest["spec"], "image": NOTEBOOK_IMAGE}}
