"""On CPU, the model's float32 linear layers run oneDNN's matmul on weights packed once at load
time, instead of torch's default (MKL) matmul on the weights as they are.

Why: a small model's decode step on CPU is its linear layers. With MKL, a step for 8 requests
costs about twice a step for one (its kernel for a few rows is slow), so a batch of 8 gives only
about 4x the tokens of one request; oneDNN on packed weights runs 8 rows in about the time of one
(the step stays bound by reading the weights), which is what makes continuous batching pay on a
CPU. The math is the same float32 matmul (results differ from MKL's by rounding, about 1e-6
relative). A layer's own weight is freed once packed; an output layer tied to the input
embeddings keeps the shared weight for the embeddings, so its packed copy is extra memory
(113 MB for SmolLM2-135M). Without oneDNN in the torch build, the layers are left as they are.
"""

import torch
from torch import nn


def available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


class PackedLinear(nn.Module):
    """nn.Linear for inference, its weight in oneDNN's layout for batches of about `rows` rows."""

    def __init__(self, linear: nn.Linear, rows: int):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        # A plain attribute, not a buffer: a oneDNN tensor has no storage for state_dict or .to().
        self._packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), rows)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), self._packed, self.bias, "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


def pack_linears(model: nn.Module, rows: int) -> int:
    """Replaces every float32 nn.Linear of a CPU model in place; returns how many."""
    if not available():
        return 0
    targets = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if type(child) is nn.Linear and child.weight.dtype == torch.float32 and child.weight.device.type == "cpu"
    ]
    for parent, name, child in targets:
        setattr(parent, name, PackedLinear(child, rows))
    return len(targets)
