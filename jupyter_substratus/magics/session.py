"""A synchronous face on a backend, for code that is not a coroutine (magics, scripts).

The backend lives on an event loop in a daemon thread of its own, so calling it works the
same in a terminal IPython (no loop running) and in a kernel (whose loop is running in the
calling thread and must not be re-entered).

Which backend (`backend`):
- `jupyter`: the backend of the Jupyter server this kernel belongs to, through its REST API with
  the server's token; "auto" picks it in every kernel of a server with jupyter_substratus.
- `kubernetes`: a cluster, directly (auto: where a kubeconfig or in-cluster account exists).
- `local`: a local backend in this process, on its own state directory: only while no other
  process (a Jupyter server) owns that directory; its workloads end with this process.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from jupyter_substratus.api import KINDS_BY_PLURAL
from jupyter_substratus.api.status import SETTLED_PHASES, Phase
from jupyter_substratus.api.workloads import condition_type
from jupyter_substratus.backends import Backend, BackendError, choose_kind, make_backend
from jupyter_substratus.backends.endpoint import ServerEndpoint
from jupyter_substratus.backends.jupyter import JupyterServerBackend, NoJupyterServer
from jupyter_substratus.backends.local import LocalBackend
from jupyter_substratus.backends.local.owner import StateDirOwned


class WaitFailed(BackendError):
    status = 409


WAIT_POLL_SECONDS = 5.0  # a wait reads the resource again this often, whatever the change stream says


class Session:
    def __init__(self, backend: str = "auto", **options: Any):
        self.backend_kind = backend
        self.options = options
        self._backend: Backend | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def configure(self, backend: str | None = None, **options: Any) -> None:
        """Switch to another backend or its options; the new backend is made (and reached) now,
        and if that fails the session keeps the one it had."""
        kind = backend or self.backend_kind
        wanted = {**self.options, **{k: v for k, v in options.items() if v is not None}}
        previous = self._backend
        try:
            made = self.run_detached(lambda: _make(kind, wanted))
        except StateDirOwned as e:
            if not (isinstance(previous, LocalBackend) and previous.store.root == e.state_dir):
                raise
            # The directory is this session's own: hand it over. Should that fail, the old settings
            # stay and the next call makes their backend again.
            self._backend = None
            self.run_detached(previous.close)
            previous = None
            made = self.run_detached(lambda: _make(kind, wanted))
        self._backend, self.backend_kind, self.options = made, kind, wanted
        if previous is not None:
            self.run_detached(previous.close)

    def run_detached(self, coroutine_function: Callable[[], Any]) -> Any:
        """Run `coroutine_function()` on the session's loop (no backend made for it)."""
        return asyncio.run_coroutine_threadsafe(coroutine_function(), self._ensure_loop()).result()

    def server_endpoint(self, name: str) -> ServerEndpoint:
        """Where this process reaches the Server's model server, and with which credentials."""
        return self.run(lambda backend: backend.server_endpoint(name))

    @property
    def where(self) -> str:
        """Which backend this is, in words."""
        return self.run(lambda backend: _value(_where(backend)))

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name="substratus-session", daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    def run(self, coroutine_function: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run `coroutine_function(backend, *args)` on the session's loop and return its result."""
        loop = self._ensure_loop()

        async def call():
            if self._backend is None:
                self._backend = await _make(self.backend_kind, self.options)
            return await coroutine_function(self._backend, *args)

        future = asyncio.run_coroutine_threadsafe(call(), loop)
        try:
            return future.result(timeout)
        except KeyboardInterrupt:
            future.cancel()
            raise

    @property
    def namespace(self) -> str:
        return self.run(lambda backend: _value(backend.default_namespace))

    def list(self, plural: str) -> list[dict]:
        return self.run(lambda b: b.list(plural))

    def get(self, plural: str, name: str) -> dict:
        return self.run(lambda b: b.get(plural, name))

    def create(self, manifest: dict) -> dict:
        return self.run(lambda b: b.create(manifest))

    def delete(self, plural: str, name: str) -> None:
        return self.run(lambda b: b.delete(plural, name))

    def rerun(self, plural: str, name: str) -> dict:
        return self.run(lambda b: b.rerun(plural, name))

    def cancel(self, plural: str, name: str) -> dict:
        return self.run(lambda b: b.cancel(plural, name))

    def logs(self, plural: str, name: str, follow: bool, on_line: Callable[[str], None]) -> None:
        async def read(backend):
            async for line in backend.logs(plural, name, follow=follow):
                on_line(line)

        self.run(read)

    def upload(self, name: str, data: bytes, md5: str, request_id: str, on_progress, timeout: float):
        return self.run(lambda b: b.upload("models", name, data, md5, request_id, None, on_progress, timeout))

    def wait(self, plural: str, name: str, on_change: Callable[[dict], None], timeout: float) -> dict:
        """Until the resource is ready (returned) or failed (WaitFailed) or `timeout` passes."""
        kind = KINDS_BY_PLURAL[plural].__name__

        async def wait(backend):
            changes = await backend.changes()
            try:
                obj = await backend.get(plural, name)
                deadline = time.monotonic() + timeout
                while True:
                    on_change(obj)
                    verdict = outcome(obj)
                    if verdict in ("ready", "suspended"):
                        return obj
                    if verdict is not None:
                        raise WaitFailed(f"{kind} {name} failed: {verdict}")
                    while True:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError
                        try:
                            event = await asyncio.wait_for(changes.__anext__(), min(left, WAIT_POLL_SECONDS))
                        except TimeoutError:  # a change the stream missed is seen all the same
                            obj = await backend.get(plural, name)
                            break
                        o = event.object
                        if o.get("kind") == kind and o["metadata"]["name"] == name:
                            if event.type == "DELETED":
                                raise WaitFailed(f"{kind} {name} was deleted")
                            obj = o
                            break
            finally:
                await changes.aclose()

        try:
            return self.run(wait)
        except TimeoutError:
            raise WaitFailed(
                f"{kind} {name} is not ready after {timeout:.0f} s; it goes on in the background: "
                f"%substratus get {plural} {name}"
            ) from None

    def close(self) -> None:
        if self._loop is not None:
            if self._backend is not None:
                asyncio.run_coroutine_threadsafe(self._backend.close(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop.close()
        self._loop = self._thread = self._backend = None


async def _value(value):
    return value


async def _make(kind: str, options: dict[str, Any]) -> Backend:
    """The backend `kind` names (auto: this kernel's Jupyter server's, else choose_kind's)."""
    if kind in ("auto", "jupyter"):
        try:
            return await _in_thread(lambda: JupyterServerBackend(namespace=options.get("namespace")))
        except NoJupyterServer:
            if kind == "jupyter":
                raise
    kind = choose_kind(kind, options.get("kubeconfig"))
    meaningless = ("kubeconfig", "context") if kind == "local" else ("state_dir",)
    options = {k: v for k, v in options.items() if k not in meaningless}
    return await _in_thread(lambda: make_backend(kind, **options))


async def _in_thread(make: Callable[[], Backend]) -> Backend:
    return await asyncio.get_running_loop().run_in_executor(None, make)


def _where(backend: Backend) -> str:
    if isinstance(backend, JupyterServerBackend):
        return f"the Jupyter server's {backend.server_backend} backend (jupyter, at {backend.url})"
    if isinstance(backend, LocalBackend):
        return (
            f"a local backend of this process (local, on {backend.store.root}; it owns that directory, "
            "so no Jupyter server can use it meanwhile, and its workloads end with this process)"
        )
    return "the Kubernetes cluster (kubernetes)"


def outcome(obj: dict) -> str | None:
    """ "ready", "suspended", a failure message, or None while it is still on its way: what
    `status.phase` says (the reconcile flow writes it), nothing worked out here."""
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase not in SETTLED_PHASES:
        return None
    if phase == Phase.FAILED:
        main = condition_type(obj.get("kind", ""))
        failed: dict = next((c for c in status.get("conditions") or [] if c.get("type") == main), {})
        return f"{failed.get('reason', 'Failed')}: {failed.get('message', '')}".strip()
    return "ready" if phase == Phase.READY else "suspended"
