"""From a build context to a resource built from it: the manifest, the create, the upload.

`prepare_export` is pure (context + manifest). `fine_tune` is the one fine-tune launch the REST
handler, the magic and the CLI share: it validates and packs (off the event loop), creates the
Model, and hands back a `Launch` whose `upload()` runs the handshake (in the foreground for the
magic, in the background through `ExportManager` for the REST API). `launch` does the create
for any kind with a build context (the CLI's Notebooks).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_substratus.api import API_VERSION, GPU_TYPES, KINDS, parse
from jupyter_substratus.backends.base import Backend, BackendError, ProgressCallback, Unavailable, UploadProgress

from .context import DEFAULT_MAX_BYTES, TRAINER_IMAGE, BuildContext, build_context


def parse_gpu(text: str) -> tuple[str | None, int]:
    """TYPE[:COUNT], or COUNT alone for GPUs of any type (as the magics' and the CLI's --gpu take it)
    -> (type or None, count); ValueError names the problem."""
    kind, sep, count = text.partition(":")
    if not sep and kind.isdigit():
        kind, count = "", kind
    elif kind not in GPU_TYPES:
        raise ValueError(f"GPU type {kind!r} is not one of {', '.join(GPU_TYPES)} (or give a count alone for any type)")
    try:
        number = int(count or "1")
    except ValueError:
        raise ValueError(f"GPU count {count!r} is not a whole number (write TYPE:COUNT)") from None
    if number < 1:
        raise ValueError(f"GPU count {number} must be at least 1")
    return kind or None, number


def gpu_resource(gpu: tuple[str | None, int]) -> dict[str, Any]:
    """spec.resources.gpu for what parse_gpu gave: no type means any GPU."""
    kind, count = gpu
    return {"count": count, **({"type": kind} if kind else {})}


def fine_tune_manifest(
    name: str,
    base_model: str,
    dataset: str | None = None,
    params: dict[str, Any] | None = None,
    gpu: tuple[str | None, int] | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """A Model that fine-tunes `base_model` on `dataset` (the image is filled in by an export)."""
    spec: dict[str, Any] = {"model": {"name": base_model}}
    if image:
        spec["image"] = image
    if dataset:
        spec["dataset"] = {"name": dataset}
    if params:
        spec["params"] = dict(params)
    if gpu:
        spec["resources"] = {"gpu": gpu_resource(gpu)}
    return {"apiVersion": API_VERSION, "kind": "Model", "metadata": {"name": name}, "spec": spec}


def prepare_export(
    directory: str | os.PathLike,
    notebook: str | os.PathLike,
    model: dict[str, Any],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    base_image: str = TRAINER_IMAGE,
) -> tuple[BuildContext, dict[str, Any]]:
    """The build context and the Model manifest that builds from it (validated; raises
    ExportError or ResourceValidationError)."""
    manifest = copy.deepcopy(model)
    if not isinstance(manifest, dict):
        parse(manifest)  # raises naming the problem
    manifest.setdefault("apiVersion", API_VERSION)
    manifest.setdefault("kind", "Model")
    spec = manifest.setdefault("spec", {}) if isinstance(manifest.get("spec", {}), dict) else {}
    spec.pop("image", None)
    context = build_context(directory, notebook, max_bytes=max_bytes, base_image=base_image)
    spec["build"] = {"upload": {"md5Checksum": context.md5, "requestID": uuid.uuid4().hex}}
    manifest["spec"] = spec
    parse(manifest)
    return context, manifest


@dataclass
class Launch:
    """A created resource that builds from `context`, waiting for its upload."""

    backend: Backend
    context: BuildContext
    manifest: dict[str, Any]  # as sent: its spec.build.upload names the context
    created: dict[str, Any]  # as the backend answered

    @property
    def name(self) -> str:
        return self.created["metadata"]["name"]

    @property
    def namespace(self) -> str:
        return self.created["metadata"].get("namespace") or self.backend.default_namespace

    async def upload(self, progress: ProgressCallback | None = None, timeout: float = 600.0) -> UploadProgress:
        """The upload handshake: wait for the signed URL, PUT the context (or skip it when stored)."""
        upload = self.manifest["spec"]["build"]["upload"]
        plural = KINDS[self.manifest["kind"]].names.plural
        return await self.backend.upload(
            plural,
            self.name,
            self.context.data,
            upload["md5Checksum"],
            upload["requestID"],
            self.namespace,
            progress,
            timeout,
        )


async def launch(
    backend: Backend, context: BuildContext, manifest: dict[str, Any], namespace: str | None = None
) -> Launch:
    """Create `manifest` (validated, whose spec.build.upload names `context`) for its upload."""
    return Launch(backend, context, manifest, await backend.create(manifest, namespace))


async def fine_tune(
    backend: Backend,
    directory: str | os.PathLike,
    notebook: str | os.PathLike,
    model: dict[str, Any],
    *,
    namespace: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    base_image: str = TRAINER_IMAGE,
    admit: Callable[[BuildContext], None] | None = None,
) -> Launch:
    """Fine-tune with `notebook` (inside `directory`): the Model manifest `model` gets the build
    of the directory's context and is created; raises ExportError or ResourceValidationError
    (nothing created) for what the caller has to change. `admit` may refuse the packed context
    (by raising) before anything is created."""
    context, manifest = await asyncio.to_thread(
        prepare_export, directory, notebook, model, max_bytes=max_bytes, base_image=base_image
    )
    if admit is not None:
        admit(context)
    return await launch(backend, context, manifest, namespace)


@dataclass
class Export:
    """One export: its Model, its context and where the upload stands."""

    namespace: str
    name: str
    context: BuildContext
    progress: UploadProgress
    error: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def let_go_of_the_bytes(self) -> None:
        """Sent or given up: the tar.gz is not needed any more; what describes it stays."""
        self.context = dataclasses.replace(self.context, data=b"")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "contentHash": self.context.sha256,
            "md5Checksum": self.context.md5,
            "files": list(self.context.files),
            "dockerfileGenerated": self.context.dockerfile_generated,
            "step": self.progress.step,
            "bytesSent": self.progress.sent,
            "bytesTotal": self.progress.total,
            "message": self.error or self.progress.message,
        }


class ExportManager:
    """Creates exported Models and uploads their contexts in the background.

    Memory stays bounded: a context's bytes are let go once its upload ends (done, skipped or
    failed); the contexts still uploading hold at most `max_pending_bytes` together (another
    export waits for them: 503); at most `max_kept` finished exports are remembered (the
    oldest go first), and deleting a Model forgets its export.
    """

    def __init__(
        self,
        backend: Backend,
        upload_timeout: float = 600.0,
        max_pending_bytes: int = 4 * DEFAULT_MAX_BYTES,
        max_kept: int = 100,
    ):
        self.backend = backend
        self.upload_timeout = upload_timeout
        self.max_pending_bytes = max_pending_bytes
        self.max_kept = max_kept
        self.exports: dict[tuple[str, str], Export] = {}

    @property
    def pending_bytes(self) -> int:
        return sum(len(export.context.data) for export in self.exports.values())

    def admit(self, context: BuildContext) -> None:
        """Refuse (Unavailable) a context that would take the bytes waiting to upload past the bound."""
        if self.pending_bytes + len(context.data) > self.max_pending_bytes:
            raise Unavailable(
                f"this export ({len(context.data) / 1e6:.1f} MB) and those still uploading "
                f"({self.pending_bytes / 1e6:.1f} MB) would hold more than "
                f"{self.max_pending_bytes / 1e6:.1f} MB: export again once they are done"
            )

    def start(self, launched: Launch) -> Export:
        """Run the upload of `launched` in the background, its progress kept for `get`."""
        self.forget(launched.namespace, launched.name)
        export = Export(
            launched.namespace, launched.name, launched.context, UploadProgress(total=len(launched.context.data))
        )
        self.exports[(export.namespace, export.name)] = export
        export.task = asyncio.create_task(self._upload(export, launched))
        export.task.add_done_callback(lambda _: export.let_go_of_the_bytes())  # even if cancelled before it ran
        self._trim()
        return export

    async def _upload(self, export: Export, launched: Launch) -> None:
        def on_progress(state: UploadProgress) -> None:
            export.progress = state

        try:
            await launched.upload(on_progress, self.upload_timeout)
        except BackendError as e:
            export.error = e.message
            export.progress.step = "failed"
        except Exception as e:  # noqa: BLE001 - reported through the export's state, never lost
            export.error = f"the upload failed: {e}"
            export.progress.step = "failed"

    def _trim(self) -> None:
        finished = [key for key, export in self.exports.items() if export.task is not None and export.task.done()]
        for key in finished[: max(0, len(finished) - self.max_kept)]:
            del self.exports[key]

    def get(self, namespace: str, name: str) -> Export | None:
        return self.exports.get((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        """The Model is gone: stop its upload, if it still runs, and let its context go."""
        export = self.exports.pop((namespace, name), None)
        if export is not None and export.task and not export.task.done():
            export.task.cancel()

    async def close(self) -> None:
        for export in self.exports.values():
            if export.task and not export.task.done():
                export.task.cancel()
