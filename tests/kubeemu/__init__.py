"""A Kubernetes API emulator for the tests (never shipped): kmock extended to serve kopf.

- emulator.py: `KubeEmulator`, the HTTP side (kmock handler subclass): routing, discovery, watch.
- store.py: objects, resourceVersions, events, finalizers, garbage collection.
- admission.py, schema.py: metadata checks, built-in defaults, CRD schema pruning/validation.
- harness.py: `KubeCluster`, the emulator in its own thread on 127.0.0.1 with a kubeconfig,
  and in-process helpers for tests acting as controllers.
- faults.py: reproducible fault injection.
- fixtures.py: the pytest plugin (`kube_emulator`, `kube_namespace`, `kube_api_client`).

What it cannot show is listed in the README's testing section and in store.py/schema.py.
"""
