"""The local backend: resources as files under a state directory, their workloads as processes.

- store: one directory per resource (manifest with status, content root, log, run record)
- programs: built-in image -> the Python program its Dockerfile runs
- content: a plan's content directory (dependency links, params.json) and environment
- process: starting, waiting for, stopping and re-finding workload processes
- build: an exported build context kept and unpacked; the notebook it runs
- conditions: verdicts into status conditions
- reconciler: the operator's decisions (api/workloads.py) carried out here
- logs: a workload's log file, tailed and followed
- backend: the `Backend` interface over all of that
"""

from .backend import LocalBackend

__all__ = ["LocalBackend"]
