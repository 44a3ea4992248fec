"""Resources as files: one directory per resource under the state directory.

Layout: <state>/<namespace>/<plural>/<name>/
  resource.json   the manifest (metadata, spec, status), replaced atomically on every write
  content/        the workload's content root (params.json, model/ and data/ links, artifacts/)
  workload.log    the workload's stdout and stderr
  run.json        the process running the workload (pid, start time), while it runs
  upload/         an exported build context (context.tar.gz and its unpacked src/)
Every write goes through `Store.write`, which tells the subscribers (the change stream).

Every path part is a DNS-1123 label (a known plural for the kind), so nothing is read or written
outside the state directory. A resource.json that cannot be read as a manifest is left where it
is, untouched: the reconciler treats the resource as absent, the API shows a stand-in naming the
file (an InvalidResourceFile condition), and deleting the resource removes its directory.
"""

from __future__ import annotations

import builtins
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_substratus.api import API_VERSION, KINDS, KINDS_BY_PLURAL, FieldError
from jupyter_substratus.api.fields import is_dns_label
from jupyter_substratus.api.workloads import condition_type

from ..base import BadRequest, Conflict

Manifest = dict[str, Any]
Listener = Callable[[str, Manifest], None]  # (ADDED | MODIFIED | DELETED, manifest)
DAMAGED_REASON = "InvalidResourceFile"  # read as a failure by its shape in the front end


def is_damaged(obj: Manifest) -> bool:
    return any(c.get("reason") == DAMAGED_REASON for c in obj.get("status", {}).get("conditions", []))


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

    def kind_dir(self, namespace: str, plural: str) -> Path:
        if not is_dns_label(namespace):
            raise BadRequest(
                f"namespace {namespace!r} is not a DNS-1123 label (lowercase letters, digits and '-')",
                [FieldError("metadata.namespace", "must be a DNS-1123 label")],
            )
        if plural not in KINDS_BY_PLURAL:
            raise BadRequest(f"unknown kind {plural!r}: one of {', '.join(KINDS_BY_PLURAL)}")
        return self.root / namespace / plural

    def directory(self, namespace: str, plural: str, name: str) -> Path:
        if not is_dns_label(name):
            raise BadRequest(
                f"name {name!r} is not a DNS-1123 label (lowercase letters, digits and '-')",
                [FieldError("metadata.name", "must be a DNS-1123 label")],
            )
        return self.kind_dir(namespace, plural) / name

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

    def read(self, namespace: str, plural: str, name: str, damaged: bool = False) -> Manifest | None:
        """The manifest; None if there is none, or if its file is damaged, unless `damaged`: then a
        stand-in whose condition names the file and what is wrong with it."""
        path = self.directory(namespace, plural, name) / "resource.json"
        try:
            obj = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError) as e:
            problem: str | None = f"{type(e).__name__}: {e}"
        else:
            problem = _shape_problem(obj, namespace, plural, name)
        if problem is None:
            return obj
        return _stand_in(path, problem, namespace, plural, name) if damaged else None

    def list(self, namespace: str, plural: str, damaged: bool = False) -> builtins.list[Manifest]:
        folder = self.kind_dir(namespace, plural)
        if not folder.is_dir():
            return []
        found = (
            self.read(namespace, plural, entry.name, damaged)
            for entry in sorted(folder.iterdir())
            if is_dns_label(entry.name)
        )
        return [obj for obj in found if obj is not None]

    def namespaces(self) -> builtins.list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and is_dns_label(p.name))

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
        if is_damaged(obj):
            raise Conflict(f"{obj['kind']} {obj['metadata']['name']}'s resource file is damaged: delete it")
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


def _shape_problem(obj: Any, namespace: str, plural: str, name: str) -> str | None:
    """What keeps a parsed resource.json from being the manifest of this resource, if anything."""
    kind = KINDS_BY_PLURAL[plural].__name__
    if not isinstance(obj, dict):
        return "not a JSON object"
    if obj.get("kind") != kind:
        return f"kind is {obj.get('kind')!r}, not {kind}"
    metadata, spec, status = obj.get("metadata"), obj.get("spec"), obj.get("status")
    if not isinstance(metadata, dict) or metadata.get("name") != name or metadata.get("namespace") != namespace:
        return f"metadata does not name {namespace}/{name}"
    if not isinstance(metadata.get("generation"), int) or not str(metadata.get("resourceVersion", "")).isdigit():
        return "metadata.generation or metadata.resourceVersion is missing"
    if not isinstance(spec, dict) or not isinstance(status, dict):
        return "spec or status is not an object"
    conditions = status.get("conditions")
    if not isinstance(conditions, list) or not all(isinstance(c, dict) and "type" in c for c in conditions):
        return "status.conditions is not a list of conditions"
    return None


def _stand_in(path: Path, problem: str, namespace: str, plural: str, name: str) -> Manifest:
    kind = KINDS_BY_PLURAL[plural].__name__
    message = (
        f"the resource file {path} is damaged ({problem[:300]}): nothing runs for it; "
        "delete the resource, or repair the file"
    )
    condition = {
        "type": condition_type(kind),
        "status": "False",
        "reason": DAMAGED_REASON,
        "message": message,
        "lastTransitionTime": now(),
        "observedGeneration": 0,
    }
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": "0", "generation": 0},
        "spec": {},
        "status": {"ready": False, "conditions": [condition]},
    }
