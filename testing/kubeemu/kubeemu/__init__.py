"""A Kubernetes API emulator for the tests (never shipped): kmock extended to serve kopf.

- emulator.py: `KubeEmulator`, the HTTP side (kmock handler subclass): routing, discovery, watch.
- store.py: objects, resourceVersions, events, finalizers, garbage collection.
- admission.py: metadata checks, built-in defaults, Job status rules; schema.py: CRD schema
  pruning, defaulting, validation; cel.py: the CRDs' CEL rules, compiled and evaluated with
  cel-cpp; builtin_schemas.py: the real OpenAPI schemas of built-in kinds.
- rbac.py: RBAC authorization of service accounts from the stored Roles and bindings.
- harness.py: `KubeCluster`, the emulator in its own thread on 127.0.0.1 with a kubeconfig,
  and in-process helpers for tests acting as controllers.
- faults.py: reproducible fault injection.
- fixtures.py: the pytest plugin (`kube_emulator`, `kube_namespace`, `kube_api_client`).

What it cannot show is listed in the README's testing section and in the docstrings of
store.py, schema.py, cel.py, rbac.py and builtin_schemas.py.
"""
