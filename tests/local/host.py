"""A process hosting the local backend, as a Jupyter server would, for the restart test:
`python -m tests.local.host STATE_DIR BASE_MODEL_DIR DATA_FILE` creates a Dataset, a base Model
and a long fine-tune, prints "TRAINING <pid>" once the trainer runs, then waits to be killed."""

import asyncio
import sys

from jupyter_substratus.backends.local import LocalBackend
from tests.local.conftest import manifest, reason, wait_for


async def main(state_dir: str, base_model: str, data: str) -> None:
    backend = LocalBackend(state_dir=state_dir)
    await backend.create(manifest("Dataset", "toy", image="substratusai/dataset-loader-http", params={"urls": data}))
    await backend.create(
        manifest("Model", "base", image="substratusai/model-loader-huggingface", params={"name": base_model})
    )
    await backend.create(
        manifest(
            "Model",
            "tuned",
            image="substratusai/model-trainer-huggingface",
            model={"name": "base"},
            dataset={"name": "toy"},
            params={"max_steps": 100000},
        )
    )
    await wait_for(backend, "models", "tuned", lambda o: reason(o, "Complete") == "Running", timeout=240)
    workload = backend.reconciler.workloads[("default", "models", "tuned")]
    print("TRAINING", workload.process.pid, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
