"""The backend interface: CRUD, a stream of changes, workload logs, build-context uploads.

Every method is a coroutine (or an async iterator) that never blocks the caller's event loop.
Objects go in and out as manifests (plain dicts in the substratus.ai/v1 shape); callers
validate with `jupyter_substratus.api.parse` before they create.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from jupyter_substratus.api import KINDS_BY_PLURAL, FieldError
from jupyter_substratus.api.workloads import CANCEL_ANNOTATION

from .portforward import PortForward

Manifest = dict[str, Any]
RUN_TO_COMPLETION = tuple(plural for plural, cls in KINDS_BY_PLURAL.items() if cls.run_to_completion)
RERUN_DELETE_SECONDS = 60.0  # how long a rerun waits for the old object to be gone


class BackendError(Exception):
    """A failure a caller can act on; `status` is the HTTP status the REST API answers with."""

    status = 500

    def __init__(self, message: str, errors: list[FieldError] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message}
        if self.errors:
            body["errors"] = [{"path": e.path, "message": e.message} for e in self.errors]
        return body


class BadRequest(BackendError):
    status = 400


class NotFound(BackendError):
    status = 404


class Conflict(BackendError):
    status = 409


class Invalid(BackendError):
    """The backend (e.g. the API server's schema or CEL rules) refused the object."""

    status = 422


class Unavailable(BackendError):
    """The backend cannot be reached or is not configured."""

    status = 503


@dataclass(frozen=True)
class ChangeEvent:
    """A change of one resource, in the shape of a Kubernetes watch event."""

    type: str  # ADDED, MODIFIED, DELETED
    object: Manifest

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "object": self.object}


class ChangeStreamOverflow(Unavailable):
    """A reader fell too far behind: what it had not read is gone; it must list again."""


CHANGE_QUEUE_LIMIT = 1024  # events a reader may fall behind before it is dropped


class _DroppingQueue(asyncio.Queue):
    """A bounded queue whose put_nowait never raises: when full, what is queued is thrown away
    and the reader finds the overflow marker next (and nothing after it)."""

    OVERFLOWED = object()
    overflowed = False

    def put_nowait(self, item) -> None:
        if self.overflowed:
            return
        if self.full():
            while not self.empty():
                self.get_nowait()
            self.overflowed = True
            item = self.OVERFLOWED
        super().put_nowait(item)


class ChangeStream:
    """The changes from the moment it is opened, as an async iterator; `aclose()` ends it.

    It subscribes when opened, not at its first read, so a caller may read the current state
    after opening it and miss nothing that changes in between. A None put on its queue by the
    backend (on close) ends it. A reader more than `limit` events behind gets
    ChangeStreamOverflow instead of the events, so a reader that stops never grows memory.
    """

    def __init__(
        self,
        subscribers: set[asyncio.Queue],
        wanted: Callable[[ChangeEvent], bool] = lambda event: True,
        limit: int = CHANGE_QUEUE_LIMIT,
    ):
        self._subscribers = subscribers
        self._queue: asyncio.Queue[ChangeEvent | None] = _DroppingQueue(limit)
        self._wanted = wanted
        subscribers.add(self._queue)

    def __aiter__(self) -> ChangeStream:
        return self

    async def __anext__(self) -> ChangeEvent:
        while self._queue in self._subscribers:
            event = await self._queue.get()
            if event is None:
                break
            if event is _DroppingQueue.OVERFLOWED:
                await self.aclose()
                raise ChangeStreamOverflow(
                    f"more than {self._queue.maxsize} changes were not read in time: list again, then open a new stream"
                )
            if self._wanted(event):
                return event
        await self.aclose()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self._subscribers.discard(self._queue)


@dataclass
class UploadProgress:
    """Where an upload of a build context stands; `step` moves through the values below."""

    total: int
    sent: int = 0
    step: str = "waiting"  # waiting (for the signed URL), uploading, skipped, done, failed
    message: str = ""
    history: list[str] = field(default_factory=list)


ProgressCallback = Callable[[UploadProgress], None]


class Backend(abc.ABC):
    """One place resources live. `namespace=None` means the backend's default namespace."""

    default_namespace: str

    @abc.abstractmethod
    async def list(self, plural: str, namespace: str | None = None) -> list[Manifest]:
        """Every resource of the kind, sorted by name."""

    @abc.abstractmethod
    async def get(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        """One resource; NotFound when there is none."""

    @abc.abstractmethod
    async def create(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        """Create a validated manifest; Conflict when the name is taken."""

    @abc.abstractmethod
    async def replace(self, manifest: Manifest, namespace: str | None = None) -> Manifest:
        """Replace a resource's spec (and metadata labels/annotations); Conflict on a stale version."""

    @abc.abstractmethod
    async def delete(self, plural: str, name: str, namespace: str | None = None) -> None:
        """Delete a resource; NotFound when there is none."""

    @abc.abstractmethod
    async def changes(self, namespace: str | None = None) -> ChangeStream:
        """Every change of any of the four kinds in the namespace from now on, until the stream is closed."""

    @abc.abstractmethod
    def logs(
        self, plural: str, name: str, namespace: str | None = None, follow: bool = False, tail_lines: int | None = None
    ) -> AsyncIterator[str]:
        """The log lines of the resource's workload (NotFound when it has none yet)."""

    @abc.abstractmethod
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
        """Hand a build context (a tar.gz) to the resource named, whose spec.build.upload names
        `md5_hex` and `request_id`: wait for the signed URL in status.buildUpload, PUT the data
        there, unless status.buildUpload.storedMD5Checksum says the content is already stored."""

    async def rerun(self, plural: str, name: str, namespace: str | None = None) -> Manifest:
        """Run a failed or interrupted Model or Dataset again. Its spec is immutable, so it is
        deleted and, once gone, created again with the same name, labels, annotations and spec.
        A complete one is refused (its artifacts would be lost), and so are Servers and
        Notebooks (a change of their spec restarts them)."""
        if plural not in RUN_TO_COMPLETION:
            raise BadRequest(f"only Models and Datasets run again; a change of its spec restarts a {plural[:-1]}")
        obj = await self.get(plural, name, namespace)
        status = obj.get("status") or {}
        if status.get("ready"):
            raise Conflict(f"{obj['kind']} {name} is complete: delete it first to throw its artifacts away")
        if ((obj.get("spec") or {}).get("build") or {}).get("upload") and not (
            (status.get("buildUpload") or {}).get("storedMD5Checksum")
        ):
            # Created again, it would wait for an upload nobody sends: the context is the exporter's.
            raise Conflict(
                f"{obj['kind']} {name}'s build context was never stored: export the notebook again "
                "(delete this one first)"
            )
        metadata = {k: v for k, v in obj["metadata"].items() if k in ("name", "labels", "annotations")}
        annotations = dict(metadata.get("annotations") or {})
        if annotations.pop(CANCEL_ANNOTATION, None) is not None:  # a cancel of the last run is done with
            metadata["annotations"] = annotations
        manifest = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": metadata, "spec": obj["spec"]}
        await self.delete(plural, name, namespace)
        try:
            async with asyncio.timeout(RERUN_DELETE_SECONDS):
                while True:
                    await self.get(plural, name, namespace)
                    await asyncio.sleep(0.2)
        except NotFound:
            pass
        except TimeoutError:
            raise Conflict(f"{obj['kind']} {name} is still being deleted; create it again later") from None
        return await self.create(manifest, namespace)

    async def notebook_token(self, name: str, namespace: str | None = None) -> str:
        """The token of a Notebook's Jupyter (the operator keeps it in a Secret)."""
        raise Unavailable("a Notebook's token is kept on a cluster: this backend has none")

    async def port_forward(
        self, plural: str, name: str, port: int, namespace: str | None = None, local_port: int = 0
    ) -> PortForward:
        """127.0.0.1:`local_port` forwarded to `port` of the resource's pod, until its close()."""
        raise Unavailable("port-forwarding needs a cluster: this backend runs everything on this machine")

    async def close(self) -> None:  # noqa: B027 - optional
        """Release connections and background work."""
