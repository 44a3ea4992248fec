"""What the operator knows and what it has to do: a cache of the watched objects and a work queue.

The shape of a controller-runtime controller, on kopf's watches:

- kopf's watch events only update the `Cache` and put keys (kind, namespace, name) in the
  `WorkQueue`; they write nothing themselves (no progress or diff-base annotations);
- a few workers take keys from the queue and reconcile the cached body. A key is in the queue
  at most once, and never with two workers at once: a burst of events for one resource costs
  one reconcile, and an event during its reconcile one more afterwards;
- a failed reconcile comes back after a growing delay; one periodic resync puts every resource
  not yet settled back in the queue (the safety net for a wake-up lost to an API error).

Level-triggered throughout: a reconcile reads the state, never the event, so a restart only has
to queue what kopf's initial listing shows.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

# Seconds before a failed reconcile is tried again, by the number of failures in a row.
BACKOFFS = (0.5, 1, 2, 5, 10, 30)

K = TypeVar("K", bound=Hashable)  # a queued key


def _version(obj: dict) -> int:
    try:
        return int(obj["metadata"]["resourceVersion"])
    except (KeyError, TypeError, ValueError):
        return -1


class Cache:
    """The latest body of each object, from the watch or from the API's answer to our own write.

    Our writes are known before their watch events arrive: a reconcile that follows right
    after sees what it wrote (no second create, no second status patch), and the echo of our
    own write does not queue another reconcile.
    """

    def __init__(self):
        self.objects: dict[tuple, dict] = {}
        self.written: dict[tuple, str] = {}  # key -> resourceVersion of our last write

    @staticmethod
    def key(obj: dict) -> tuple:
        meta = obj["metadata"]
        return obj["kind"], meta.get("namespace"), meta["name"]

    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        return self.objects.get((kind, namespace, name))

    def seen(self, obj: dict, deleted: bool = False) -> bool:
        """A watch event's object; whether it is news (not the echo of our own last write)."""
        key = self.key(obj)
        if deleted:
            self.objects.pop(key, None)
            self.written.pop(key, None)
            return True
        current = self.objects.get(key)
        if current is None or _version(obj) >= _version(current) or _version(obj) < 0:
            self.objects[key] = obj
        return self.written.get(key) != obj["metadata"].get("resourceVersion")

    def wrote(self, obj: dict) -> None:
        """The API's answer to our own create or patch."""
        key = self.key(obj)
        current = self.objects.get(key)
        if current is None or _version(obj) >= _version(current):
            self.objects[key] = obj
        self.written[key] = obj["metadata"].get("resourceVersion")

    def of_kinds(self, kinds) -> list[dict]:
        return [obj for (kind, _, _), obj in list(self.objects.items()) if kind in kinds]


class WorkQueue(Generic[K]):
    """Keys to reconcile, each queued at most once and handled by one worker at a time."""

    def __init__(self):
        self._queue: asyncio.Queue[K] = asyncio.Queue()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._dirty: set[K] = set()
        self._later: dict[K, asyncio.TimerHandle] = {}
        self.failures: dict[K, int] = {}

    def add(self, key: K) -> None:
        later = self._later.pop(key, None)
        if later is not None:
            later.cancel()
        if key in self._active:
            self._dirty.add(key)  # again once the running reconcile is done
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: K, delay: float) -> None:
        if key in self._later or key in self._queued:
            return
        self._later[key] = asyncio.get_running_loop().call_later(delay, self._due, key)

    def _due(self, key: K) -> None:
        self._later.pop(key, None)
        self.add(key)

    def retry(self, key: K) -> float:
        """After a failure: again after a delay that grows with the failures in a row."""
        failures = self.failures[key] = self.failures.get(key, 0) + 1
        delay = BACKOFFS[min(failures, len(BACKOFFS)) - 1]
        self.add_after(key, delay)
        return delay

    def succeeded(self, key: K) -> None:
        self.failures.pop(key, None)

    async def get(self) -> K:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: K) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def close(self) -> None:
        for later in self._later.values():
            later.cancel()
        self._later.clear()


async def run_workers(queue: WorkQueue[K], count: int, handle: Callable[[K], Awaitable[None]]) -> None:
    """`count` workers taking keys from `queue` until cancelled."""

    async def worker() -> None:
        while True:
            key = await queue.get()
            try:
                await handle(key)
            finally:
                queue.done(key)

    tasks = [asyncio.create_task(worker(), name=f"reconcile-worker-{n}") for n in range(count)]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
