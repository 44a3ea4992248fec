"""Where the resources live: one interface (`Backend`), one implementation per place.

- `kubernetes`: the custom resources on a cluster, reconciled by the operator.
- local (a later issue): the same resources run as processes on this machine.

Handlers, magics and the CLI talk to a `Backend` only; they never import a client library.
"""

from .base import (
    Backend,
    BackendError,
    BadRequest,
    ChangeEvent,
    Conflict,
    Invalid,
    NotFound,
    Unavailable,
    UploadProgress,
)

__all__ = [
    "Backend",
    "BackendError",
    "BadRequest",
    "ChangeEvent",
    "Conflict",
    "Invalid",
    "NotFound",
    "Unavailable",
    "UploadProgress",
    "make_backend",
]


def make_backend(kind: str = "kubernetes", **options) -> Backend:
    """The backend named `kind`, configured with `options` (see each implementation)."""
    if kind == "kubernetes":
        from .kubernetes import KubernetesBackend

        return KubernetesBackend(**options)
    raise Unavailable(f"unknown backend {kind!r}: the kubernetes backend is the only one so far")
