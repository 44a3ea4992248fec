"""LoRA adapters in the continuous batch, taking turns.

The batch runs one forward pass for every request in it, and peft applies one active adapter (or
none: the base) to that pass. So one adapter is active at a time: a request for it joins the
running batch at once, and those for the same adapter batch with each other. A request for
another adapter waits; from then on the active one admits no new request (it would starve the
others), finishes those it has, and the adapter that has waited longest takes its turn with all
its waiting requests. The switch happens only while the batch is empty.

The paged cache must not share prefix blocks across adapters (the same prompt has other keys and
values under another adapter): the engine for adapters is built with block sharing off.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator


class AdapterTurns:
    """Wraps a BatchedEngine over a peft model; `sampling.adapter` names the adapter (None: the base)."""

    def __init__(self, engine, peft_model):
        self._engine = engine
        self._model = peft_model
        self._running = 0  # requests of the active adapter admitted and not yet finished
        self._waiting: dict[str | None, list[asyncio.Future]] = {}  # in the order they began to wait
        self._switch(None)

    def stop(self) -> None:
        self._engine.stop()

    async def tokens(self, prompt_ids: list[int], sampling) -> AsyncIterator[list[int]]:
        await self._turn(sampling.adapter)
        try:
            async with contextlib.aclosing(self._engine.tokens(prompt_ids, sampling)) as tokens:
                async for ids in tokens:
                    yield ids
        finally:
            self._running -= 1
            self._admit()

    async def _turn(self, adapter: str | None) -> None:
        if not self._waiting and (adapter == self._active or self._running == 0):
            if adapter != self._active:
                self._switch(adapter)
            self._running += 1
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(adapter, []).append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():  # admitted just as the request was cancelled
                self._running -= 1
            else:
                waiters = self._waiting.get(adapter, [])
                if turn in waiters:
                    waiters.remove(turn)
                if not waiters:
                    self._waiting.pop(adapter, None)
            self._admit()
            raise

    def _admit(self) -> None:
        """Admit the waiting requests whose turn it is: the active adapter's at the head of the
        line at once, the next adapter's once the batch is empty."""
        while self._waiting:
            adapter = next(iter(self._waiting))
            if adapter != self._active:
                if self._running:
                    return
                self._switch(adapter)
            for turn in self._waiting.pop(adapter):
                if not turn.done():
                    turn.set_result(None)
                    self._running += 1

    def _switch(self, adapter: str | None) -> None:
        if adapter is None:
            self._model.base_model.disable_adapter_layers()
        else:
            self._model.base_model.enable_adapter_layers()
            self._model.set_adapter(adapter, inference_mode=True)
        self._active = adapter
