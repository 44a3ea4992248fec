"""A synchronous face on a backend, for code that is not a coroutine (magics, scripts).

The backend lives on an event loop in a daemon thread of its own, so calling it works the
same in a terminal IPython (no loop running) and in a kernel (whose loop is running in the
calling thread and must not be re-entered).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from jupyter_substratus.api import KINDS_BY_PLURAL
from jupyter_substratus.api.workloads import FAILURE_REASONS
from jupyter_substratus.backends import Backend, BackendError, choose_kind, make_backend


class WaitFailed(BackendError):
    status = 409


class Session:
    def __init__(self, backend: str = "auto", **options: Any):
        self.backend_kind = backend
        self.options = options
        self._backend: Backend | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def configure(self, backend: str | None = None, **options: Any) -> None:
        self.close()
        if backend:
            self.backend_kind = backend
        self.options.update({k: v for k, v in options.items() if v is not None})

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
                kind = choose_kind(self.backend_kind, self.options.get("kubeconfig"))
                options = self.options
                if kind == "local":  # the kubeconfig settings mean nothing there
                    options = {k: v for k, v in options.items() if k not in ("kubeconfig", "context")}
                self._backend = make_backend(kind, **options)
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
                    if verdict == "ready":
                        return obj
                    if verdict is not None:
                        raise WaitFailed(f"{kind} {name} failed: {verdict}")
                    while True:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            raise TimeoutError
                        event = await asyncio.wait_for(changes.__anext__(), left)
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
            raise WaitFailed(f"{kind} {name} is not ready after {timeout:.0f} s; it goes on in the background: "
                             f"%substratus get {plural} {name}") from None

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


def outcome(obj: dict) -> str | None:
    """"ready", a failure message, or None while it is still on its way."""
    status = obj.get("status") or {}
    if status.get("ready"):
        return "ready"
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason") in FAILURE_REASONS:
            return f"{condition.get('reason')}: {condition.get('message', '')}".strip()
    return None
