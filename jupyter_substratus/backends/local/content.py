"""A plan's container contract on this machine: the content directory and the environment.

The content root is a directory per resource: model/ and data/ are symlinks to the
dependencies' artifact directories, artifacts/ is the resource's own, params.json the params.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from jupyter_substratus.api import workloads
from jupyter_substratus.api.workloads import ArtifactRef, Plan, SecretRef

from .programs import NeedsCluster, Program

TERMINATION_LOG = "termination-log"
PROGRESS = "progress.jsonl"  # in artifacts/: the trainer's progress lines (images/common's contract)
# What a workload takes from this process's environment: what finding programs, files, the
# locale and the machine's threads and devices need, and nothing that could carry a secret
# (JUPYTER_TOKEN, HF_TOKEN, cloud keys) or pose as a param (PARAM_*). The rest comes from the
# container contract and the spec, as in a container.
INHERITED_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "TZ", "LANG", "LANGUAGE", "TMPDIR", "TEMP", "TMP",
    "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TOKENIZERS_PARALLELISM", "CUDA_VISIBLE_DEVICES",
    "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE",
)  # fmt: skip
INHERITED_ENV_PREFIXES = ("LC_", "XDG_")
COMPLETION_MARKER = ".complete"  # the container contract: artifacts/.complete once they are whole


def prepare(plan: Plan, content: Path, artifacts_of: Callable[[ArtifactRef], Path]) -> None:
    """Lay out `content` for `plan`; artifacts/ already written by an earlier run is kept."""
    content.mkdir(parents=True, exist_ok=True)
    adapters = content / Path(workloads.ADAPTERS_DIR).relative_to(workloads.CONTENT_DIR)
    if adapters.is_dir():  # a Server's adapters are what its spec names now, not what it named before
        shutil.rmtree(adapters)
    for mount in plan.mounts:
        target = content / Path(mount.path).relative_to(workloads.CONTENT_DIR)
        source = artifacts_of(mount.artifact)
        if mount.read_only:
            if target.is_symlink() or target.exists():
                target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source, target_is_directory=True)
        else:
            source.mkdir(parents=True, exist_ok=True)
    (content / Path(workloads.PARAMS_FILE).name).write_text(plan.params_json)
    (content / TERMINATION_LOG).unlink(missing_ok=True)


def environment(plan: Plan, program: Program, content: Path, extra: dict[str, str]) -> dict[str, str]:
    """INHERITED_ENV from this process's environment, then the contract's variables, then the plan's env."""
    env = {k: v for k, v in os.environ.items() if k in INHERITED_ENV or k.startswith(INHERITED_ENV_PREFIXES)}
    python_path = [str(p) for p in program.python_path] + [p for p in [env.get("PYTHONPATH")] if p]
    env.update(
        {
            "CONTENT_DIR": str(content),
            "TERMINATION_LOG": str(content / TERMINATION_LOG),
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    for key, value in plan.env.items():
        if isinstance(value, SecretRef):
            raise NeedsCluster(
                f"env {key} references the secret {value.name}/{value.key}: secrets need a cluster; "
                "set the value directly for a local run"
            )
        env[key] = value
    return env


def failure_reason(content: Path) -> str:
    try:
        return (content / TERMINATION_LOG).read_text().strip()
    except OSError:
        return ""


def complete(artifacts: Path) -> bool:
    return (artifacts / COMPLETION_MARKER).exists()
