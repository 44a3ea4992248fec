"""Where the resources live: one interface (`Backend`), one implementation per place.

- `kubernetes`: the custom resources on a cluster, reconciled by the operator.
- `local`: the same resources run as processes on this machine (files under a state directory).
- `auto`: kubernetes where a cluster is configured, local otherwise (`choose_kind`).
- `jupyter` (jupyter.py): a Jupyter server's backend through its REST API, for its kernels
  (the magics' Session picks it; the server itself never does).

Handlers, magics and the CLI talk to a `Backend` only; they never import a client library.
"""

from .base import (
    Backend,
    BackendError,
    BadRequest,
    ChangeEvent,
    ChangeStreamOverflow,
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
    "ChangeStreamOverflow",
    "Conflict",
    "Invalid",
    "NotFound",
    "Unavailable",
    "UploadProgress",
    "choose_kind",
    "make_backend",
]


def choose_kind(kind: str = "auto", kubeconfig: str | None = None) -> str:
    """`kind`, with "auto" resolved: kubernetes inside a cluster or where a kubeconfig exists
    (`kubeconfig`, $KUBECONFIG, ~/.kube/config), local otherwise."""
    import os
    from pathlib import Path

    if kind != "auto":
        return kind
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    candidates = [kubeconfig] if kubeconfig else os.environ.get("KUBECONFIG", "").split(os.pathsep)
    candidates.append(str(Path("~/.kube/config").expanduser()))
    return "kubernetes" if any(c and Path(c).is_file() for c in candidates) else "local"


def make_backend(kind: str = "kubernetes", **options) -> Backend:
    """The backend named `kind`, configured with `options` (see each implementation)."""
    if kind == "kubernetes":
        from .kubernetes import KubernetesBackend

        return KubernetesBackend(**options)
    if kind == "local":
        from .local import LocalBackend

        return LocalBackend(**options)
    raise Unavailable(f"unknown backend {kind!r}: kubernetes, local or auto")
