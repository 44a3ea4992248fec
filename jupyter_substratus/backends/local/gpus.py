"""How many GPUs this machine has, for a resource that asks for some: the flow says so when it
runs on the CPU instead."""

import functools
import shutil
import subprocess


@functools.cache
def local_gpus() -> int:
    """The GPUs `nvidia-smi -L` lists; none without nvidia-smi (no NVIDIA driver)."""
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in listed.splitlines() if line.startswith("GPU "))
