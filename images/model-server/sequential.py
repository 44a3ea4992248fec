"""The fallback for a model that continuous batching cannot run (a class the library's paged cache
does not serve yet, an unmerged adapter on a quantized base; with LoRA adapters, switched per
request with peft): `model.generate` in its own thread,
one request at a time, each new token handed to the event loop through an asyncio queue; leaving
the iteration stops the generation at its next token.
"""

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer


class _End:
    """Queue sentinel: generation finished (error is set when it failed)."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class _QueueStreamer(BaseStreamer):
    """Receives tokens from `generate` in its thread and posts them to the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue):
        self._loop = loop
        self._queue = queue
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate first hands over the prompt itself
            self._prompt_seen = True
            return
        self._loop.call_soon_threadsafe(self._queue.put_nowait, value.reshape(-1).tolist())

    def end(self) -> None:
        pass  # the thread posts _End itself, with the error if any


class _Cancelled(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self._event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self._event.is_set(), dtype=torch.bool, device=input_ids.device)


class SequentialEngine:
    def __init__(self, model, pad: int | None, switch_adapters: bool = False):
        self._model = model
        self._pad = pad
        self._switch_adapters = switch_adapters
        self._lock = threading.Lock()

    def stop(self) -> None:
        pass

    async def tokens(self, prompt_ids: list[int], sampling) -> AsyncIterator[list[int]]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        streamer = _QueueStreamer(loop, queue)
        thread = threading.Thread(target=self._run, args=(prompt_ids, sampling, streamer, cancel, queue), daemon=True)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            cancel.set()

    def _run(self, prompt_ids, sampling, streamer: _QueueStreamer, cancel: threading.Event, queue) -> None:
        error = None
        try:
            with self._lock:
                if not cancel.is_set():
                    with self._adapter(sampling.adapter):
                        self._model.generate(**self._generate_kwargs(prompt_ids, sampling, streamer, cancel))
        except BaseException as e:  # handed to the request that asked; the server keeps serving
            error = e
        try:
            streamer._loop.call_soon_threadsafe(queue.put_nowait, _End(error))
        except RuntimeError:
            pass  # the event loop is gone (shutdown): nobody waits for this generation any more

    def _adapter(self, name: str | None):
        """The adapter a request names, or the base alone (when this engine switches adapters)."""
        if not self._switch_adapters:
            return contextlib.nullcontext()
        if name is None:
            return self._model.disable_adapter()
        self._model.set_adapter(name)
        return contextlib.nullcontext()

    def _generate_kwargs(self, prompt_ids, sampling, streamer, cancel) -> dict:
        input_ids = torch.tensor([prompt_ids], device=self._model.device)
        kwargs = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self._pad,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
        }
        if sampling.temperature == 0 or (sampling.temperature is None and sampling.top_p is None):
            kwargs["do_sample"] = False
        else:
            kwargs["do_sample"] = True
            kwargs["temperature"] = sampling.temperature if sampling.temperature is not None else 1.0
            kwargs["top_p"] = sampling.top_p if sampling.top_p is not None else 1.0
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        return kwargs
