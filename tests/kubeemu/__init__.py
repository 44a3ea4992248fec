"""A Kubernetes API emulator for the tests (never shipped): kmock extended to serve kopf.

- emulator.py: `KubeEmulator`, the HTTP side (kmock handler subclass): routing, discovery, watch.
- store.py: objects, resourceVersions, events, finalizers, garbage collection.
- admission.py: metadata checks, built-in defaults; schema.py: CRD schema pruning, defaulting,
  validation; builtin_schemas.py: the real OpenAPI schemas of built-in kinds.
- harness.py: `KubeCluster`, the emulator in its own thread on 127.0.0.1 with a kubeconfig,
  and in-process helpers for tests acting as controllers.
- faults.py: reproducible fault injection.
- fixtures.py: the pytest plugin (`kube_emulator`, `kube_namespace`, `kube_api_client`).

What it cannot show is listed in the README's testing section and in the docstrings of
store.py, schema.py and builtin_schemas.py.
"""
