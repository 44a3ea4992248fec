"""Per-request sampling inside transformers' continuous batching.

The library's batch runs one sampler for all its requests (`do_sample` is the manager's, not the
request's) and draws every random number from one shared generator, so a request could neither be
greedy beside a sampled one nor repeat with its own `seed` while others share its batch. This
processor plugs into the library's per-request processor interface and samples each row itself
with the Gumbel-max trick: the manager then only takes the argmax. A greedy row is left as it is
(argmax: exact greedy); a sampled row gets temperature, top_p and Gumbel noise, drawn from a
generator seeded by (seed, position) when the request has a seed, so its tokens repeat whatever
else runs beside it.
"""

import torch
from transformers import LogitsProcessorList
from transformers.generation.continuous_batching.cb_logits_processors import (
    ContinuousBatchingLogitsProcessor,
    ContinuousBatchingLogitsProcessorList,
)

# Below this a temperature divides logits into inf and the probabilities into NaN; requests are
# refused below it (0 means greedy).
MIN_TEMPERATURE = 1e-3


def sampling_kwargs(temperature: float | None, top_p: float | None, seed: int | None) -> dict:
    """What add_request carries for this sampler; no kwargs at all means greedy."""
    if temperature == 0 or (temperature is None and top_p is None):
        return {}
    kwargs = {"temperature": float(temperature if temperature is not None else 1.0)}
    if top_p is not None and top_p < 1:
        kwargs["top_p"] = float(top_p)
    if seed is not None:
        kwargs["seed"] = int(seed)
    return kwargs


class RequestSampler(ContinuousBatchingLogitsProcessor):
    supported_kwargs = {"temperature": float, "top_p": float, "seed": int}
    ignored_kwargs = ()

    def __init__(self):
        self._rows: list[tuple[int, float, float, int | None, int]] = []  # the step being computed

    def fill_defaults(self, int32_tensor: torch.Tensor) -> None:
        int32_tensor.fill_(0)

    def prepare_tensor_args(self, requests_with_new_token) -> torch.Tensor:
        """Called on the generation thread just before the step it prepares (synchronous batching):
        the rows' sampling plan is kept here; the tensor the library asks for carries nothing."""
        self._rows = []
        for row, request in enumerate(requests_with_new_token):
            kwargs = request.state.logit_processor_kwargs
            if "temperature" in kwargs:
                # position_offset: the position being predicted, unchanged when the library re-queues a request
                position = request.state.position_offset + request.query_length
                self._rows.append((row, kwargs["temperature"], kwargs.get("top_p", 1.0), kwargs.get("seed"), position))
        return torch.zeros(len(requests_with_new_token), dtype=torch.int32)

    def __call__(self, scores: torch.Tensor, tensor_arg: torch.Tensor) -> torch.Tensor:
        for row, temperature, top_p, seed, position in self._rows:
            logits = scores[row] / temperature
            if top_p < 1:
                logits = _nucleus(logits, top_p)
            generator = None
            if seed is not None:
                generator = torch.Generator(device=logits.device).manual_seed(hash((seed, position)) & (2**63 - 1))
            uniform = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(min=1e-20)
            scores[row] = logits - torch.log(-torch.log(uniform))
        return scores


def _nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    ordered, order = torch.sort(logits)
    outside = ordered.softmax(-1).cumsum(-1) <= 1 - top_p
    outside[-1] = False  # the likeliest token always stays
    return logits.masked_fill(outside.scatter(0, order, outside), float("-inf"))


def request_sampler_list() -> ContinuousBatchingLogitsProcessorList:
    processors = ContinuousBatchingLogitsProcessorList(LogitsProcessorList([RequestSampler()]))
    processors.tensors_required = 1  # the library counts only the processors it converts itself
    return processors
