"""The local backend: the four kinds as files under a state directory, run on this machine."""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir

from jupyter_substratus.api import KINDS, KINDS_BY_PLURAL, FieldError, ResourceValidationError, parse
from jupyter_substratus.api.fields import is_dns_label
from jupyter_substratus.reconcile import DEFAULT_STALLED_AFTER

from ..base import (
    RUN_TO_COMPLETION,
    Backend,
    BadRequest,
    ChangeEvent,
    ChangeStream,
    Conflict,
    Invalid,
    Manifest,
    NotFound,
    ProgressCallback,
    Unavailable,
    UploadProgress,
)
from ..endpoint import ServerEndpoint
from . import build
from .logs import follow_log
from .owner import StateDirLock
from .reconciler import Reconciler
from .store import Store, is_damaged, plural_of

IMMUTABLE_KINDS = tuple(kind for kind, cls in KINDS.items() if cls.immutable_spec)


def default_state_dir() -> Path:
    return Path(jupyter_data_dir()) / "substratus"


def default_images_dir() -> Path:
    """The built-in images' programs: inside the installed package (a wheel carries them as
    jupyter_substratus/images), else images/ of the source tree (an editable install)."""
    package = Path(__file__).resolve().parents[2]
    shipped = package / "images"
    return shipped if shipped.is_dir() else package.parent / "images"


class LocalBackend(Backend):
    """Options: `state_dir` (default <jupyter data dir>/substratus), `namespace` ("default"),
    `max_jobs` (loaders and trainers at a time, 1), `images_dir` (the built-in images' programs),
    `kernels_dir` (where Notebooks' kernel specs go, <jupyter data dir>/kernels), `base_url` (the
    Jupyter server's, for the URLs in status), `stalled_after_seconds` (how long a missing dependency is
    waited for before the phase is Stalled, 60).

    It owns its state directory from construction to `close()`: a second LocalBackend on the
    same directory, in this process or another, raises StateDirOwned."""

    def __init__(
        self,
        state_dir: str | Path | None = None,
        namespace: str | None = None,
        max_jobs: int = 1,
        images_dir: str | Path | None = None,
        kernels_dir: str | Path | None = None,
        base_url: str = "/",
        stalled_after_seconds: float = DEFAULT_STALLED_AFTER.total_seconds(),
    ):
        if max_jobs < 1:
            raise Unavailable(f"max_jobs must be at least 1, not {max_jobs}")
        self.default_namespace = namespace or "default"
        if not is_dns_label(self.default_namespace):
            raise Unavailable(
                f"namespace {self.default_namespace!r} is not a DNS-1123 label (lowercase letters, digits and '-')"
            )
        self.store = Store(Path(state_dir) if state_dir else default_state_dir())
        self.owner = StateDirLock(self.store.root)
        self.owner.acquire()
        self.reconciler = Reconciler(
            self.store,
            Path(images_dir) if images_dir else default_images_dir(),
            Path(kernels_dir) if kernels_dir else Path(jupyter_data_dir()) / "kernels",
            base_url,
            max_jobs,
            self.default_namespace,
            timedelta(seconds=stalled_after_seconds),
        )
        self.subscribers: set[asyncio.Queue[ChangeEvent | None]] = set()
        self.store.listeners.append(self._publish)
        self.started = False

    # --- plumbing -----------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if not self.started:  # the reconciler needs the running loop: start on first use
            self.started = True
            self.reconciler.start()

    def _namespace(self, namespace: str | None) -> str:
        return namespace or self.default_namespace

    @staticmethod
    def _check_plural(plural: str) -> None:
        if plural not in KINDS_BY_PLURAL:
            raise NotFound(f"unknown kind {plural!r}: one of {', '.join(KINDS_BY_PLURAL)}")

    @staticmethod
    def _validated(manifest: Manifest) -> tuple[str, str]:
        kind = manifest.get("kind")
        if kind not in KINDS:
            raise BadRequest(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
        try:
            parse({k: v for k, v in manifest.items() if k != "status"})
        except ResourceValidationError as e:
            raise Invalid(f"{kind} is invalid: " + "; ".join(map(str, e.errors)), e.errors) from None
        return plural_of(kind), manifest["metadata"]["name"]

    def _publish(self, event: str, obj: Manifest) -> None:
        for queue in list(self.subscribers):
            queue.put_nowait(ChangeEvent(event, obj))

    # --- the interface ------------------------------------------------------------------------

    async def list(self, plural: str, namespace: str | None = None) -> list[Manifest]:
        self._check_plural(plural)
        self._ensure_started()
        return self.store.list(self._namespace(namespace), plural, damaged=True)

    async def get(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        self._check_plural(plural)
        self._ensure_started()
        obj = self.store.read(self._namespace(namespace), plural, name, damaged=True)
        if obj is None:
            raise NotFound(f"{KINDS_BY_PLURAL[plural].__name__} {name!r} not found")
        return obj

    async def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        plural, name = self._validated(manifest)
        self._ensure_started()
        ns = self._namespace(namespace or manifest["metadata"].get("namespace"))
        if self.store.read(ns, plural, name) is not None or self.store.directory(ns, plural, name).exists():
            raise Conflict(f"{manifest['kind']} {name!r} already exists")
        return self.store.create(copy.deepcopy(manifest), ns)

    async def replace(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        plural, name = self._validated(manifest)
        self._ensure_started()
        ns = self._namespace(namespace or manifest["metadata"].get("namespace"))
        current = await self.get(plural, name, ns)
        if is_damaged(current):
            raise Conflict(current["status"]["conditions"][0]["message"])
        wanted = manifest["metadata"].get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise Conflict(f"{name} was changed since resourceVersion {wanted}: read it again")
        if current["spec"] != manifest.get("spec"):
            if manifest["kind"] in IMMUTABLE_KINDS:
                raise Invalid(
                    f"the spec of a {manifest['kind']} is immutable: create a new {manifest['kind']} "
                    "with the changes instead",
                    [FieldError("spec", "is immutable: create a new object with the changes instead")],
                )
            current["metadata"]["generation"] += 1
        current["spec"] = copy.deepcopy(manifest.get("spec", {}))
        for key in ("labels", "annotations"):
            if key in manifest["metadata"]:
                current["metadata"][key] = copy.deepcopy(manifest["metadata"][key])
        self.store.write(current)
        # At once, not at the reconciler's next turn: a Server whose spec changed is not ready from now.
        self.reconciler.reconcile_safely(copy.deepcopy(current))
        return await self.get(plural, name, ns)

    async def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        obj = await self.get(plural, name, namespace)
        await self.reconciler.forget(obj)
        self.store.remove(obj)

    async def changes(self, namespace: str | None = None) -> ChangeStream:
        self._ensure_started()
        ns = self._namespace(namespace)
        return ChangeStream(self.subscribers, lambda event: event.object["metadata"]["namespace"] == ns)

    async def logs(
        self, plural: str, name: str, namespace: str | None = None, follow: bool = False, tail_lines: int | None = None
    ) -> AsyncIterator[str]:
        obj = await self.get(plural, name, namespace)
        key = (obj["metadata"]["namespace"], plural, name)
        path = self.store.log_file(*key)
        if not path.exists():
            raise NotFound(f"{obj['kind']} {name} has no workload running yet: no logs to show")
        async for line in follow_log(path, tail_lines, lambda: follow and key in self.reconciler.workloads):
            yield line

    async def upload(
        self,
        plural: str,
        name: str,
        data: bytes,
        md5_hex: str,
        request_id: str,
        namespace: str | None = None,
        progress: ProgressCallback | None = None,
        timeout: float = 300.0,
    ) -> UploadProgress:
        """Keep the build context under the resource's state directory: no signed URL, no image
        build; the trainer runs the notebook inside it with this environment."""
        obj = await self.get(plural, name, namespace)
        state = UploadProgress(total=len(data))

        def report(step: str, message: str) -> None:
            state.step, state.message = step, message
            state.history.append(step)
            if progress:
                progress(state)

        wanted = (obj["spec"].get("build") or {}).get("upload") or {}
        if wanted.get("requestID") != request_id or wanted.get("md5Checksum") != md5_hex:
            report("failed", "the upload does not match spec.build.upload")
            raise BadRequest(f"{name}'s spec.build.upload names another request or checksum")
        stored = (obj["status"].get("buildUpload") or {}).get("storedMD5Checksum")
        if stored == md5_hex:
            state.sent = state.total
            report("skipped", "this build context is stored already")
            return state
        report("uploading", "storing the build context")
        key = (obj["metadata"]["namespace"], plural, name)
        loop = asyncio.get_running_loop()
        try:
            stored = await loop.run_in_executor(None, build.store, data, md5_hex, self.store.upload_dir(*key))
        except build.ChecksumMismatch as e:
            report("failed", str(e))
            raise BadRequest(str(e)) from None
        state.sent = state.total
        obj = await self.get(plural, name, namespace)
        obj["status"]["buildUpload"] = {"requestID": request_id, "storedMD5Checksum": stored}
        self.store.write(obj)
        report("done", "the build context is stored")
        return state

    async def annotate(
        self, plural: str, name: str, annotations: dict[str, str], namespace: str | None = None
    ) -> Manifest:
        obj = await self.get(plural, name, namespace)
        obj["metadata"]["annotations"] = {**(obj["metadata"].get("annotations") or {}), **annotations}
        return self.store.write(obj)  # which wakes the reconciler

    async def rerun(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        """As every backend's, and an exported Model keeps its stored build context: a cluster keeps
        it in the bucket, here it lives in the resource's directory, which the delete removes."""
        if plural not in RUN_TO_COMPLETION:
            return await super().rerun(plural, name, namespace)  # refused, as on every backend
        obj = await self.get(plural, name, namespace)
        key = (obj["metadata"]["namespace"], plural, name)
        stored = obj["status"].get("buildUpload")
        upload = self.store.upload_dir(*key)
        if not stored or not upload.is_dir():
            return await super().rerun(plural, name, namespace)
        kept = self.store.root / key[0] / f".upload-{obj['metadata']['uid']}"
        shutil.copytree(upload, kept, copy_function=os.link)  # hard links: no copy of the data
        try:
            await super().rerun(plural, name, namespace)
            kept.rename(upload)
        finally:
            shutil.rmtree(kept, ignore_errors=True)
        again = await self.get(plural, name, namespace)
        again["status"]["buildUpload"] = stored
        return self.store.write(again)

    async def server_endpoint(self, name: str, namespace: str | None = None) -> ServerEndpoint:
        await self.get("servers", name, namespace)  # NotFound when there is no such Server
        port = self.reconciler.server_port((self._namespace(namespace), "servers", name))
        if port is None:
            raise Unavailable(f"Server {name} is not running here: see its status and logs")
        return ServerEndpoint(f"http://127.0.0.1:{port}")

    async def close(self) -> None:
        for queue in list(self.subscribers):
            queue.put_nowait(None)
        try:
            await self.reconciler.close()
        finally:
            self.owner.release()
