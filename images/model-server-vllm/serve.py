"""The vLLM model server's entry point: checks the mounted Model and the params (engine_args.py),
then runs `vllm serve` on $PORT (8080) of $HOST with the contract's routes (contract_routes.py).
vLLM's exit with an error ends the server with its last error line as the one-line reason.
"""

import json
import os
import signal
import subprocess
import sys
from collections import deque

import substratus_contract as contract
from engine_args import engine_args


def main() -> None:
    model_dir = contract.model_dir()
    contract.require_complete(model_dir)
    adapters = contract.adapter_dirs()
    for directory in adapters.values():
        contract.require_complete(directory)
    host, port = os.environ.get("HOST", "0.0.0.0"), os.environ.get("PORT", "8080")
    args = engine_args(contract.params(), model_dir, _gpu_count(), host, port, adapters)
    served = [args[args.index("--served-model-name") + 1], *adapters]
    if (model_dir / "adapter_config.json").is_file():  # the kept adapter goes by the Model's name: the default
        served.insert(0, contract.model_name(model_dir))
    env = {**os.environ, "SUBSTRATUS_SERVED_MODELS": json.dumps(served)}
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [os.path.dirname(os.path.abspath(__file__)), env.get("PYTHONPATH")])
    )
    command = ["vllm", "serve", *args, "--middleware", "contract_routes.ContractRoutes"]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True, errors="replace")
    signal.signal(signal.SIGTERM, lambda *_: process.terminate())
    errors: deque[str] = deque(maxlen=1)
    for line in process.stderr:
        sys.stderr.write(line)
        if "Error" in line or "error:" in line:
            errors.append(line.strip())
    code = process.wait()
    if code not in (0, -signal.SIGTERM):
        contract.fail(f"vLLM exited with {code}: {errors[0] if errors else 'see the log'}")


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


if __name__ == "__main__":
    contract.run(main)
