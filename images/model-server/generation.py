"""Token-by-token generation for the server, without blocking the event loop.

An engine produces token ids for many requests at once (batching.BatchedEngine: transformers'
continuous batching) or, for a model it cannot run, one at a time (sequential.SequentialEngine);
the event loop turns each request's ids into text incrementally, applies its stop strings, and
cancels its generation at the next token (client gone, stop string seen).
"""

import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Sampling:
    """What a request asks of one generation: temperature 0, or neither temperature nor top_p:
    greedy; a seed makes a sampled generation repeat."""

    max_new_tokens: int
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    adapter: str | None = None  # a LoRA adapter's name; None: the base model


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


class Overloaded(Exception):
    """Every slot is taken: the client should come back later (429 with Retry-After)."""


class Generator:
    """The loaded model and tokenizer, how prompts become streamed text, and the bound on how many
    requests are admitted at once (generating in the batch or waiting to join it)."""

    def __init__(self, model, tokenizer, max_concurrency: int, max_queue: int, adapters: list[str] = ()):
        self.model = model
        self.adapters = list(adapters)
        self.tokenizer = tokenizer
        self.context_length = getattr(model.config, "max_position_embeddings", None)
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        self._eos = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self._eos), None)
        self.max_admitted = max_concurrency + max_queue
        self._admitted = 0
        self.engine, self.batching_refused = _engine(model, tokenizer, self._eos, pad, max_concurrency, self.adapters)

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"]
        if not ids and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id]
        return ids

    def defaults(self, temperature: float | None, top_p: float | None) -> tuple[float | None, float | None]:
        """Neither given: the model's generation_config decides (greedy unless it samples)."""
        config = self.model.generation_config
        if temperature is None and top_p is None and config.do_sample:
            return config.temperature if config.temperature is not None else 1.0, config.top_p
        return temperature, top_p

    def open(self, prompt_ids: list[int], sampling: Sampling, usage: Usage) -> AsyncIterator[Piece]:
        """The pieces of text of one generation, as tokens arrive; the last piece carries the finish
        reason. Raises Overloaded when every slot is taken; the slot taken here is given back when
        the iteration ends or the iterator is dropped. Leaving the loop early (client gone) stops
        the generation at its next token."""
        if self._admitted >= self.max_admitted:
            raise Overloaded(f"all {self.max_admitted} request slots are taken")
        self._admitted += 1
        slot = _Slot(self)
        pieces = self._stream(prompt_ids, sampling, usage, slot)
        weakref.finalize(pieces, slot.release)  # an SSE response whose client left before it began
        return pieces

    async def _stream(self, prompt_ids: list[int], sampling: Sampling, usage: Usage, slot: "_Slot"):
        usage.prompt_tokens = len(prompt_ids)
        detok = _Detokenizer(self.tokenizer)
        stops = _StopMatcher(sampling.stop)
        tokens = self.engine.tokens(prompt_ids, sampling)
        try:
            async for ids in tokens:
                usage.completion_tokens += len(ids)
                text, stopped = stops.feed(detok.push(ids))
                if stopped:
                    yield Piece(text, "stop")
                    return
                if text:
                    yield Piece(text)
            finished_on_eos = bool(detok.ids) and detok.ids[-1] in self._eos
            yield Piece(stops.flush(), "stop" if finished_on_eos else "length")
        finally:
            slot.release()
            await tokens.aclose()


class _Slot:
    def __init__(self, generator: Generator):
        self._generator = generator
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._generator._admitted -= 1


def _engine(model, tokenizer, eos: set[int], pad: int | None, max_batch: int, adapters: list[str]):
    """(the batched engine, None), or (the sequential one, why not batched) for a model the
    library's continuous batching cannot run. With adapters, they take turns in the batch."""
    from batching import BatchedEngine

    try:
        context_length = getattr(model.config, "max_position_embeddings", None)
        engine = BatchedEngine(model, eos, pad, max_batch, context_length, share_prefixes=not adapters)
        probe_token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else next(iter(eos), 0)
        refused = engine.probe(probe_token)
    except Exception as e:  # the library refuses the model before generating
        refused = f"{type(e).__name__}: {e}"
    if refused is None:
        if adapters:
            from adapter_turns import AdapterTurns

            return AdapterTurns(engine, model), None
        return engine, None
    from sequential import SequentialEngine

    return SequentialEngine(model, pad, switch_adapters=bool(adapters)), refused
