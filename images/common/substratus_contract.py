"""The container contract, shared by every workload image (and nothing else in the project).

- the content root comes from $CONTENT_DIR (default /content): model/ and data/ are inputs
  (read-only), artifacts/ the output, params.json the parameters;
- params also arrive as PARAM_<UPPER_KEY> environment variables; params.json wins;
- a job ends by writing its outputs completely, then artifacts/.complete: a reader treats a
  directory without it as incomplete;
- a failure is a one-line reason in the file named by $TERMINATION_LOG (default
  /dev/termination-log, where Kubernetes reads it), on stderr, and a non-zero exit.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

COMPLETION_MARKER = ".complete"
MANIFEST = "manifest.json"
PROGRESS = "progress.jsonl"
PARAM_PREFIX = "PARAM_"
# Where a trainer that keeps a LoRA adapter (instead of merging it) puts the base model, so the
# Model's artifacts can be served on their own.
ADAPTER_BASE_DIR = "base"
# Where a Server's adapter Models are mounted, one dir per adapter name, beside model/ (their base).
ADAPTERS_DIR = "adapters"


class ContractError(Exception):
    """An expected failure: its message is the one-line reason the job ends with."""


def content_dir() -> Path:
    return Path(os.environ.get("CONTENT_DIR", "/content"))


def model_dir() -> Path:
    return content_dir() / "model"


def adapter_dirs() -> dict[str, Path]:
    """A Server's LoRA adapters by name: content_dir()/adapters/<name>/ (none when absent)."""
    root = content_dir() / ADAPTERS_DIR
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir()} if root.is_dir() else {}


def data_dir() -> Path:
    return content_dir() / "data"


def artifacts_dir() -> Path:
    path = content_dir() / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def params() -> dict[str, Any]:
    """PARAM_* variables (keys lower-cased, values JSON-decoded where they parse), overlaid by
    params.json, which keeps the original keys and types."""
    found: dict[str, Any] = {}
    for key, value in os.environ.items():
        if key.startswith(PARAM_PREFIX) and len(key) > len(PARAM_PREFIX):
            found[key[len(PARAM_PREFIX) :].lower()] = _decode(value)
    path = content_dir() / "params.json"
    if path.is_file():
        try:
            from_file = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            fail(f"{path} is not valid JSON: {error}")
        if not isinstance(from_file, dict):
            fail(f"{path} must hold a JSON object of params")
        found.update(from_file)
    return found


def _decode(value: str) -> Any:
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, (int, float, bool, str)) else value


def param(values: dict[str, Any], key: str, kind: type, default: Any = None) -> Any:
    """values[key] as `kind` (str, int, float, bool, list of str), or `default` when absent.
    A value of another type ends the job naming the param."""
    if key not in values or values[key] is None:
        return default
    value = values[key]
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
                return value.strip().lower() in ("true", "1", "yes")
            raise ValueError
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind is list:
            items = value if isinstance(value, list) else str(value).split(",")
            return [str(item).strip() for item in items if str(item).strip()]
        return str(value)
    except (TypeError, ValueError):
        fail(f"param {key} must be {_type_name(kind)}, not {value!r}")


def _type_name(kind: type) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", list: "a list or comma-separated string"}.get(
        kind, "a string"
    )


def fail(reason: str) -> NoReturn:
    """End the job: the reason (one line) to the termination log and stderr, exit code 1."""
    line = " ".join(str(reason).split())
    path = Path(os.environ.get("TERMINATION_LOG", "/dev/termination-log"))
    try:
        path.write_text(line + "\n")
    except OSError:
        pass  # not in a container, or not writable: stderr still says it
    print(f"error: {line}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(main) -> None:
    """Run a job's main(), turning a ContractError into a clean failure."""
    try:
        main()
    except ContractError as error:
        fail(str(error))


def storage_client():
    """A google-cloud-storage client: anonymous against $STORAGE_EMULATOR_HOST when it is set
    (fake-gcs-server in tests), else the pod's own credentials (workload identity on GKE)."""
    from google.cloud import storage

    endpoint = os.environ.get("STORAGE_EMULATOR_HOST")
    if not endpoint:
        return storage.Client()
    from google.auth.credentials import AnonymousCredentials

    return storage.Client(
        project="local", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )


def is_complete(directory: Path) -> bool:
    return (directory / COMPLETION_MARKER).is_file()


def require_complete(directory: Path) -> None:
    if not directory.is_dir():
        fail(f"{directory} does not exist: no input was mounted there")
    if not is_complete(directory):
        fail(f"{directory} is incomplete (no {COMPLETION_MARKER} marker): its job has not finished")


def write_manifest(directory: Path, **fields: Any) -> None:
    (directory / MANIFEST).write_text(json.dumps(fields, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def mark_complete(directory: Path) -> None:
    """Write the completion marker last, atomically: the files and their sizes and sha256."""
    files = {
        str(path.relative_to(directory)): {"size": path.stat().st_size, "sha256": sha256(path)}
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != COMPLETION_MARKER
    }
    marker = {"finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "files": files}
    temporary = directory / f"{COMPLETION_MARKER}.tmp"
    temporary.write_text(json.dumps(marker, indent=2) + "\n")
    temporary.replace(directory / COMPLETION_MARKER)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_name(directory: Path) -> str:
    """The name a model goes by: its manifest's source, else its directory's name."""
    return str(read_manifest(directory).get("source") or directory.resolve().name)


def base_model_dir(directory: Path) -> Path | None:
    """The base model beside a kept LoRA adapter, if the trainer stored one."""
    base = directory / ADAPTER_BASE_DIR
    return base if base.is_dir() else None


def progress(**fields: Any) -> None:
    """One progress line (JSON) to stdout and to artifacts/progress.jsonl."""
    line = json.dumps({"time": round(time.time(), 3), **fields})
    print(line, flush=True)
    with (artifacts_dir() / PROGRESS).open("a") as stream:
        stream.write(line + "\n")
