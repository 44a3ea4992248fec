"""Two-way sync of a local directory with a Jupyter server's files, through its contents API.

How it decides, per path, against the state of the last sync (the base: each file's content
hash here and its `last_modified` there):
- changed on one side only: that side's version is copied to the other (a deletion too);
- changed on both: equal content is fine; otherwise the local file stays, the server's version
  is written beside it as `NAME.conflict-<time>` (never overwritten, never synced), and the
  local file is sent; a deletion on one side loses to an edit on the other;
- new on both sides (first sync, or no base): as "changed on both".
Skipped both ways: what .dockerignore/.gitignore exclude (the export rules), hidden files,
editors' temp files, .ipynb_checkpoints, conflict copies, and at the top the container
contract's mounts (model/, data/, artifacts/, params.json) and the volume's lost+found/. A file
that vanishes while it is read (a temp file) is left for the next round.

The base is kept in a JSON file, so that a later run (a resumed Notebook) knows what changed.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_substratus.export.context import ALWAYS_EXCLUDED, IgnoreRules

TEMP_PATTERNS = (
    "*~",
    ".#*",
    "#*#",
    "*.swp",
    "*.swo",
    "*.swx",
    "*.tmp",
    "*.temp",
    "~$*",
    "*.part",
    "*.crdownload",
    "4913",
    "*.conflict-*",
)
# At the top of /content: the contract's mounts, and the volume's own lost+found.
RESERVED = frozenset({"model", "data", "artifacts", "params.json", "lost+found"})


class SyncError(Exception):
    """The Jupyter server refused a request (its message included)."""


@dataclass
class Report:
    pushed: list[str] = field(default_factory=list)
    pulled: list[str] = field(default_factory=list)
    deleted_there: list[str] = field(default_factory=list)
    deleted_here: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # the conflict copies written here

    def __bool__(self) -> bool:
        return any((self.pushed, self.pulled, self.deleted_there, self.deleted_here, self.conflicts))

    def lines(self) -> list[str]:
        out = [f"sent {p}" for p in self.pushed] + [f"received {p}" for p in self.pulled]
        out += [f"deleted there {p}" for p in self.deleted_there] + [f"deleted here {p}" for p in self.deleted_here]
        return out + [f"conflict: the Notebook's version kept as {p}" for p in self.conflicts]


def skipped_name(name: str) -> bool:
    return name.startswith(".") or name in ALWAYS_EXCLUDED or any(fnmatch.fnmatch(name, p) for p in TEMP_PATTERNS)


class Contents:
    """The Jupyter contents API at `base_url` (e.g. http://127.0.0.1:PORT/), with a token."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/") + "/api/contents/"
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, path: str, body: dict | None = None, query: str = "") -> dict | None:
        url = self.base_url + urllib.parse.quote(path) + (f"?{query}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                raise FileNotFoundError(path) from None
            message = e.read().decode(errors="replace")
            try:
                message = json.loads(message).get("message") or message
            except ValueError:
                pass
            raise SyncError(f"the Notebook's Jupyter answered {e.code} for {method} {path or '/'}: {message}") from None
        return json.loads(text) if text else None

    def _model(self, method: str, path: str, body: dict | None = None, query: str = "") -> dict:
        """A request answered with a contents model."""
        model = self._request(method, path, body, query)
        if model is None:
            raise SyncError(f"the Notebook's Jupyter answered no model for {method} {path or '/'}")
        return model

    def files(self, wanted_folder: Callable[[str], bool] = lambda path: True) -> dict[str, str]:
        """Every file (not directory) there: path -> last_modified, walking the wanted folders."""
        found: dict[str, str] = {}
        folders = [""]
        while folders:
            folder = folders.pop()
            try:
                listing = self._model("GET", folder, query="content=1")
            except FileNotFoundError:
                continue  # gone while we walked
            for entry in listing.get("content") or []:
                if entry["type"] == "directory":
                    if wanted_folder(entry["path"]):
                        folders.append(entry["path"])
                else:
                    found[entry["path"]] = entry["last_modified"]
        return found

    def read(self, path: str) -> bytes:
        model = self._model("GET", path, query="type=file&format=base64&content=1")
        return base64.b64decode(model["content"])

    def write(self, path: str, data: bytes) -> str:
        """Write a file (its folders made first); its new last_modified."""
        parent = path.rpartition("/")[0]
        if parent:
            self.make_folders(parent)
        model = self._model(
            "PUT", path, {"type": "file", "format": "base64", "content": base64.b64encode(data).decode()}
        )
        return model["last_modified"]

    def make_folders(self, folder: str) -> None:
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            try:
                self._request("GET", prefix, query="content=0")
            except FileNotFoundError:
                self._request("PUT", prefix, {"type": "directory"})

    def delete(self, path: str) -> None:
        try:
            self._request("DELETE", path)
        except FileNotFoundError:
            pass


@dataclass
class Base:
    sha256: str
    remote: str  # last_modified there


class Sync:
    """Syncs `directory` with `contents`; `state_file` keeps the base between runs."""

    def __init__(self, directory: str | os.PathLike, contents: Contents, state_file: str | os.PathLike):
        self.directory = Path(directory).resolve()
        self.contents = contents
        self.state_file = Path(state_file)
        self.base: dict[str, Base] = {}
        self._hashes: dict[str, tuple[int, int, str]] = {}  # path -> (mtime_ns, size, sha256)
        if self.state_file.is_file():
            saved = json.loads(self.state_file.read_text())
            self.base = {path: Base(**entry) for path, entry in saved.items()}

    @staticmethod
    def wanted(path: str, rules: IgnoreRules, folder: bool = False) -> bool:
        parts = path.split("/")
        if parts[0] in RESERVED or any(skipped_name(p) for p in parts):
            return False
        folders = ["/".join(parts[:i]) for i in range(1, len(parts) + folder)]
        return not any(rules.excludes_folder(f) for f in folders) and (folder or not rules.excludes_file(path))

    def _local_files(self, rules: IgnoreRules) -> dict[str, str]:
        found: dict[str, str] = {}
        for root, dirs, files in os.walk(self.directory):
            relative_root = Path(root).relative_to(self.directory).as_posix()
            prefix = "" if relative_root == "." else f"{relative_root}/"
            dirs[:] = [
                d for d in dirs if not (Path(root) / d).is_symlink() and self.wanted(f"{prefix}{d}", rules, True)
            ]
            for name in files:
                path = f"{prefix}{name}"
                if not self.wanted(path, rules):
                    continue
                try:
                    found[path] = self._hash(path)
                except (FileNotFoundError, IsADirectoryError, PermissionError):
                    continue  # vanished, or not a plain file: the next round sees it again
        return found

    def _hash(self, path: str) -> str:
        full = self.directory / path
        st = full.lstat()
        if not full.is_file() or full.is_symlink():
            raise IsADirectoryError(path)
        cached = self._hashes.get(path)
        if cached and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        digest = hashlib.sha256(full.read_bytes()).hexdigest()
        self._hashes[path] = (st.st_mtime_ns, st.st_size, digest)
        return digest

    def once(self) -> Report:
        """One round both ways."""
        rules = IgnoreRules(self.directory)
        local = self._local_files(rules)
        remote = self.contents.files(lambda folder: self.wanted(folder, rules, True))
        remote = {p: m for p, m in remote.items() if self.wanted(p, rules)}
        report = Report()
        for path in sorted(set(local) | set(remote) | set(self.base)):
            if path in self.base and not self.wanted(path, rules):
                del self.base[path]  # ignored since: left alone on both sides
                continue
            try:
                self._decide(path, local.get(path), remote.get(path), report)
            except FileNotFoundError:
                continue  # vanished while we copied it: the next round decides again
        self._save()
        return report

    def _decide(self, path: str, here: str | None, there: str | None, report: Report) -> None:
        base = self.base.get(path)
        changed_here = here != (base.sha256 if base else None)
        changed_there = there != (base.remote if base else None)
        if not changed_here and not changed_there:
            return
        if changed_here and not changed_there:
            if here is None:
                self.contents.delete(path)
                report.deleted_there.append(path)
                self.base.pop(path, None)
            else:
                self._push(path, report)
            return
        if changed_there and not changed_here:
            if there is None:
                (self.directory / path).unlink(missing_ok=True)
                report.deleted_here.append(path)
                self.base.pop(path, None)
            else:
                self._pull(path, there, report)
            return
        # Changed on both sides.
        if here is None and there is None:
            self.base.pop(path, None)
        elif there is None:
            self._push(path, report)
        elif here is None:
            self._pull(path, there, report)
        else:
            theirs = self.contents.read(path)
            if hashlib.sha256(theirs).hexdigest() != here:
                copy = f"{path}.conflict-{time.strftime('%Y%m%d-%H%M%S')}"
                (self.directory / copy).write_bytes(theirs)
                report.conflicts.append(copy)
                self._push(path, report)
            else:
                self.base[path] = Base(here, there)

    def _push(self, path: str, report: Report) -> None:
        data = (self.directory / path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        self.base[path] = Base(digest, self.contents.write(path, data))  # what was sent, if it moved since
        report.pushed.append(path)

    def _pull(self, path: str, there: str, report: Report) -> None:
        data = self.contents.read(path)
        target = self.directory / path
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.substratus-sync")  # hidden: never synced itself
        partial.write_bytes(data)
        partial.replace(target)
        self.base[path] = Base(hashlib.sha256(data).hexdigest(), there)
        report.pulled.append(path)

    def _save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        saved = {path: {"sha256": b.sha256, "remote": b.remote} for path, b in sorted(self.base.items())}
        partial = self.state_file.with_suffix(".partial")
        partial.write_text(json.dumps(saved, indent=1))
        partial.replace(self.state_file)
