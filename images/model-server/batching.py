"""Continuous batching: transformers' ContinuousBatchingManager runs every admitted request in one
batch on its own thread; a new request joins the running batch at its next step (its prompt is
prefilled beside the others' decoding), a finished or cancelled one leaves it and frees its
KV-cache blocks. Each request streams its own tokens back to the event loop.

Sampling is per request (sampling.RequestSampler); stop strings and cancellation are the caller's
(generation.Generator), which cancels a request here at its next step.
"""

import asyncio
import math
import uuid
from collections.abc import AsyncIterator

from sampling import request_sampler_list, sampling_kwargs
from transformers import ContinuousBatchingConfig, GenerationConfig
from transformers.generation.continuous_batching.cache import PagedAttentionCache

# The KV cache a request can count on when the server sizes the cache on CPU (the library sizes
# it from free GPU memory, but from total RAM on CPU, which is no budget on a shared machine).
CPU_TOKENS_PER_REQUEST = 2048


class GenerationFailed(RuntimeError):
    pass


def _length_never_read(self, layer_idx: int = 0) -> int:
    return 0


# OPT's decoder asks its cache for the tokens it holds before it looks at `position_ids` and the
# attention mask, and uses the answer only where those are missing; the batch always passes
# both (each request has its own positions), but the paged cache, holding many requests, has
# no such method, and the batch would refuse OPT.
if not hasattr(PagedAttentionCache, "get_seq_length"):
    PagedAttentionCache.get_seq_length = _length_never_read


class BatchedEngine:
    """Token ids in, token ids out, many requests at once."""

    def __init__(
        self,
        model,
        eos: set[int],
        pad: int | None,
        max_batch: int,
        context_length: int | None,
        share_prefixes: bool = True,
    ):
        """`share_prefixes=False` where one prompt's cached keys and values do not serve another
        request with the same prompt (LoRA adapters taking turns: adapter_turns.py)."""
        on_cpu = model.device.type == "cpu"
        config = ContinuousBatchingConfig(
            max_requests_per_batch=max_batch,
            use_async_batching=False,  # the sampler plans each step just before it runs (sampling.py)
            allow_block_sharing=share_prefixes,
            **(_cpu_cache(model, max_batch, context_length) if on_cpu else {"max_memory_percent": 0.8}),
        )
        generation = GenerationConfig(do_sample=False, eos_token_id=sorted(eos) or -1, pad_token_id=pad)
        self._manager = model.init_continuous_batching(generation_config=generation, continuous_batching_config=config)
        self._manager.logit_processor = request_sampler_list()
        self._eos = sorted(eos) or -1
        self._manager.start()

    def probe(self, token_id: int) -> str | None:
        """None when the batch generates for this model; else why not (a model class the library's
        paged cache does not serve yet), and the engine is stopped."""
        request_id = self._manager.add_request([token_id], max_new_tokens=1, eos_token_id=self._eos)
        result = self._manager.get_result(request_id, timeout=120)
        if result is not None and result.error is None:
            return None
        self.stop()
        return result.error if result is not None else "no answer within 120 s"

    def stop(self) -> None:
        self._manager.stop(block=True, timeout=5)

    async def tokens(self, prompt_ids: list[int], sampling) -> AsyncIterator[list[int]]:
        """Yields the new token ids of one request as the batch produces them; leaving early
        (client gone, stop string) cancels the request at the batch's next step."""
        queue: asyncio.Queue = asyncio.Queue()
        request_id = uuid.uuid4().hex
        self._manager.register_result_handler(request_id, queue.put_nowait)
        accepted = self._manager.add_request(
            prompt_ids,
            request_id=request_id,
            max_new_tokens=sampling.max_new_tokens,
            streaming=True,
            eos_token_id=self._eos,
            **sampling_kwargs(sampling.temperature, sampling.top_p, sampling.seed),
        )
        if accepted is None:
            self._forget(request_id)
            raise GenerationFailed("the batch is stopping and takes no new requests")
        seen, finished = 0, False
        try:
            while not finished:
                output = await queue.get()
                if output.error is not None:
                    finished = True
                    raise GenerationFailed(output.error)
                finished = output.is_finished()
                new = output.generated_tokens[seen:]
                seen = len(output.generated_tokens)
                if new:
                    yield new
        finally:
            if not finished:
                self._manager.cancel_request(request_id)
                self._forget(request_id)

    def _forget(self, request_id: str) -> None:
        # The library drops a finished request's handler itself, but not a cancelled one's.
        router = self._manager.output_router
        with router._lock:
            router.result_handlers.pop(request_id, None)


def _cpu_cache(model, max_batch: int, context_length: int | None) -> dict:
    page_size = 64
    tokens = max_batch * min(context_length or CPU_TOKENS_PER_REQUEST, CPU_TOKENS_PER_REQUEST)
    return {"page_size": page_size, "num_blocks": math.ceil(tokens / page_size) + 1, "max_batch_tokens": 512}
