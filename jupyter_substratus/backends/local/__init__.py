"""The local backend: resources as files under a state directory, their workloads as processes.

- store: one directory per resource (manifest with status, content root, log, run record)
- owner: the lock that makes one process the owner of a state directory
- programs: built-in image -> the Python program its Dockerfile runs
- content: a plan's content directory (dependency links, params.json) and environment
- process: starting, waiting for, stopping and re-finding workload processes
- build: an exported build context kept and unpacked; the notebook it runs
- conditions: verdicts into status conditions
- reconciler: the operator's decisions (api/workloads.py) carried out here
- logs: a workload's log file, tailed and followed
- backend: the `Backend` interface over all of that

Restarts: the state directory outlives the Jupyter server; its workloads do not (they die with
the process that owns the backend). When a backend starts on it, a job whose process is gone
(or, where the kernel cannot kill children with their parent, orphaned: it is stopped) is Complete=False,
reason Interrupted, never ready unless its artifacts carry the completion marker; jobs that
were queued run; Servers and Notebooks start again. Re-running an interrupted or failed Model or
Dataset is delete and create (its spec is immutable, so a re-run is a new object with the same
spec; deleting removes its partial artifacts).

What needs a cluster (a condition says so): images other than the built-in ones, builds from
git, build contexts not FROM substratusai/model-trainer-huggingface with a TRAINER_NOTEBOOK,
spec.command, and secret references in env.
"""

from .backend import LocalBackend

__all__ = ["LocalBackend"]
