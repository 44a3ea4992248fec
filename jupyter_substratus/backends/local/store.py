"""Resources as files: one directory per resource under the state directory.

Layout: <state>/<namespace>/<plural>/<name>/
  resource.json   the manifest (metadata, spec, status), replaced atomically on every write
  content/        the workload's content root (params.json, model/ and data/ links, artifacts/)
  workload.log    the workload's stdout and stderr
  run.json        the process running the workload (pid, start time), while it runs
  upload/         an exported build context (context.tar.gz and its unpacked src/)
Every write goes through `Store.write`, which tells the subscribers (the change stream).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_substratus.api import KINDS

Manifest = dict[str, Any]
Listener = Callable[[str, Manifest], None]  # (ADDED | MODIFIED | DELETED, manifest)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def plural_of(kind: str) -> str:
    return KINDS[kind].names.plural


class Store:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.listeners: list[Listener] = []

    # --- where things are ---------------------------------------------------------------------

    def directory(self, namespace: str, plural: str, name: str) -> Path:
        return self.root / namespace / plural / name

    def content_dir(self, namespace: str, plural: str, name: str) -> Path:
        return self.directory(namespace, plural, name) / "content"

    def artifacts_dir(self, namespace: str, plural: str, name: str) -> Path:
        return self.content_dir(namespace, plural, name) / "artifacts"

    def log_file(self, namespace: str, plural: str, name: str) -> Path:
        return self.directory(namespace, plural, name) / "workload.log"

    def run_file(self, namespace: str, plural: str, name: str) -> Path:
        return self.directory(namespace, plural, name) / "run.json"

    def upload_dir(self, namespace: str, plural: str, name: str) -> Path:
        return self.directory(namespace, plural, name) / "upload"

    # --- reading ------------------------------------------------------------------------------

    def read(self, namespace: str, plural: str, name: str) -> Manifest | None:
        path = self.directory(namespace, plural, name) / "resource.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def list(self, namespace: str, plural: str) -> list[Manifest]:
        folder = self.root / namespace / plural
        if not folder.is_dir():
            return []
        found = (self.read(namespace, plural, entry.name) for entry in sorted(folder.iterdir()))
        return [obj for obj in found if obj is not None]

    def namespaces(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def everything(self) -> Iterator[Manifest]:
        for namespace in self.namespaces():
            for kind in KINDS:
                yield from self.list(namespace, plural_of(kind))

    # --- writing ------------------------------------------------------------------------------

    def create(self, manifest: Manifest, namespace: str) -> Manifest:
        metadata = manifest["metadata"]
        obj = {
            "apiVersion": manifest["apiVersion"],
            "kind": manifest["kind"],
            "metadata": {
                **metadata,
                "namespace": namespace,
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "resourceVersion": "1",
                "creationTimestamp": now(),
            },
            "spec": manifest.get("spec", {}),
            "status": {"ready": False, "conditions": []},
        }
        self.directory(namespace, plural_of(obj["kind"]), metadata["name"]).mkdir(parents=True)
        return self.write(obj, "ADDED")

    def write(self, obj: Manifest, event: str = "MODIFIED") -> Manifest:
        metadata = obj["metadata"]
        if event == "MODIFIED":
            metadata["resourceVersion"] = str(int(metadata.get("resourceVersion", "0")) + 1)
        folder = self.directory(metadata["namespace"], plural_of(obj["kind"]), metadata["name"])
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".resource-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        os.replace(temporary, folder / "resource.json")
        self._tell(event, obj)
        return obj

    def remove(self, obj: Manifest) -> None:
        metadata = obj["metadata"]
        shutil.rmtree(
            self.directory(metadata["namespace"], plural_of(obj["kind"]), metadata["name"]), ignore_errors=True
        )
        self._tell("DELETED", obj)

    def _tell(self, event: str, obj: Manifest) -> None:
        for listener in list(self.listeners):
            listener(event, json.loads(json.dumps(obj)))
