"""Token-by-token generation for the server, without blocking the event loop.

`model.generate` runs in its own thread (one at a time: the model is shared) and hands each
new token to the event loop through an asyncio queue; the event loop turns token ids into
text incrementally, applies stop strings, and can cancel the generation at the next token
(client gone, stop string seen).
"""

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer


@dataclass
class Sampling:
    """What a request asks of one generation. Neither temperature nor top_p given: the model's
    generation_config decides (greedy unless it says otherwise); temperature 0: greedy."""

    max_new_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)


@dataclass
class Piece:
    """Text produced since the previous piece; `finish_reason` is set on the last one."""

    text: str
    finish_reason: str | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


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


class _Detokenizer:
    """Incremental decoding: emits text only once it is stable (no half UTF-8 sequence, no
    leading-space ambiguity), decoding a short window instead of the whole output each token."""

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def push(self, ids: list[int]) -> str:
        self.ids.extend(ids)
        decode = self._tokenizer.decode
        before = decode(self.ids[self._prefix : self._read], skip_special_tokens=True)
        now = decode(self.ids[self._prefix :], skip_special_tokens=True)
        if len(now) > len(before) and not now.endswith("\ufffd"):
            self._prefix, self._read = self._read, len(self.ids)
            return now[len(before) :]
        return ""


class _StopMatcher:
    """Cuts the text at the first stop string, holding back any tail that could begin one."""

    def __init__(self, stops: list[str]):
        self._stops = [s for s in stops if s]
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """Returns (text safe to emit, whether a stop string was reached)."""
        self._pending += text
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        if hits:
            out, self._pending = self._pending[: min(hits)], ""
            return out, True
        keep = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._pending)), keep, -1):
                if self._pending.endswith(stop[:n]):
                    keep = n
                    break
        cut = len(self._pending) - keep
        out, self._pending = self._pending[:cut], self._pending[cut:]
        return out, False

    def flush(self) -> str:
        out, self._pending = self._pending, ""
        return out


class Generator:
    """The loaded model and tokenizer, and how to turn prompts into streamed text."""

    def __init__(self, model, tokenizer):
        self.model = model
        self.tokenizer = tokenizer
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self._eos), None)
        self._lock = threading.Lock()

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        if not ids and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id]
        return ids

    async def stream(self, prompt_ids: list[int], sampling: Sampling, usage: Usage) -> AsyncIterator[Piece]:
        """Yields pieces of text as tokens arrive; the last piece carries the finish reason.
        Leaving the loop early (client gone) stops the generation at its next token."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(prompt_ids, sampling, _QueueStreamer(loop, queue), cancel, loop, queue), daemon=True
        )
        usage.prompt_tokens = len(prompt_ids)
        detok = _Detokenizer(self.tokenizer)
        stops = _StopMatcher(sampling.stop)
        thread.start()
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    finished_on_eos = bool(detok.ids) and detok.ids[-1] in self._eos
                    reason = "stop" if finished_on_eos else "length"
                    yield Piece(stops.flush(), reason)
                    return
                usage.completion_tokens += len(item)
                text, stopped = stops.feed(detok.push(item))
                if stopped:
                    cancel.set()
                    yield Piece(text, "stop")
                    return
                if text:
                    yield Piece(text)
        finally:
            cancel.set()

    def _run(self, prompt_ids, sampling: Sampling, streamer, cancel, loop, queue) -> None:
        error = None
        try:
            with self._lock:
                if not cancel.is_set():
                    self.model.generate(**self._generate_kwargs(prompt_ids, sampling, streamer, cancel))
        except BaseException as e:  # handed to the request that asked; the server keeps serving
            error = e
        try:
            loop.call_soon_threadsafe(queue.put_nowait, _End(error))
        except RuntimeError:
            pass  # the event loop is gone (shutdown): nobody waits for this generation any more

    def _generate_kwargs(self, prompt_ids, sampling: Sampling, streamer, cancel) -> dict:
        device = self.model.device
        input_ids = torch.tensor([prompt_ids], device=device)
        kwargs = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": self._pad,
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Cancelled(cancel)]),
        }
        if sampling.temperature == 0:
            kwargs["do_sample"] = False
        elif sampling.temperature is not None or sampling.top_p is not None:
            kwargs["do_sample"] = True
            if sampling.temperature is not None:
                kwargs["temperature"] = sampling.temperature
            if sampling.top_p is not None:
                kwargs["top_p"] = sampling.top_p
        if sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        return kwargs
