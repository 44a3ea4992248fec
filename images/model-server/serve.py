"""The model server's entry point: serve $CONTENT_DIR/model over HTTP on port 8080 (env PORT),
on every interface (env HOST: the local backend passes 127.0.0.1, so that only the Jupyter
server's proxy route reaches it).

params (params.json or PARAM_* env vars):
  max_new_tokens  new tokens for a request that does not say (default 128)
  dtype           auto, float32, float16 or bfloat16 (default float32 on CPU, auto on GPU)
  device          cpu, cuda or cuda:N (default cuda when there is a GPU; cuda spreads the model
                  over all GPUs)
  load_in_8bit / load_in_4bit   bitsandbytes quantization, GPU only
  max_concurrency requests generated together in one continuous batch (default 8)
  max_queue       requests waiting to join the batch (default 32); past both, 429 with Retry-After
  max_request_bytes  the largest request body (default 1 MiB); a bigger one answers 413
LoRA adapter Models mounted at $CONTENT_DIR/adapters/<name>/ are served on the one base in
model/, each its own `model` in the OpenAI API; the requests for one adapter batch
continuously, the adapters take turns (adapter_turns.py).
The port opens at once and GET / answers 503 while the weights load, 200 once they are loaded.
Anything that makes the model unservable (no completion marker, unreadable files, bad params,
weights that fail to load) ends the process with a one-line reason in the termination log.
"""

import logging
import os
import socket
import threading

import substratus_contract as contract
from checks import check_adapter_dirs, check_model_dir, read_options

log = logging.getLogger("model-server")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    opts = read_options(contract.params())
    model_dir = contract.model_dir()
    check_model_dir(model_dir)
    adapters = contract.adapter_dirs()
    check_adapter_dirs(adapters, model_dir)
    # Imported only now: torch and transformers take seconds, and a bad param or mount fails first.
    import uvicorn
    from api import ServerState, create_app
    from generation import Generator
    from loading import load, resolve_device

    device = resolve_device(opts)  # a GPU-only param on a CPU machine fails before the port opens
    state = ServerState(contract.model_name(model_dir), opts.max_new_tokens, opts.max_request_bytes)
    sock = _listen(os.environ.get("HOST", "0.0.0.0"), os.environ.get("PORT", "8080"))
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="info", timeout_graceful_shutdown=5))
    failure: list[str] = []

    def load_in_background() -> None:
        try:
            model, tokenizer = load(model_dir, opts, device, adapters)
            generator = Generator(model, tokenizer, opts.max_concurrency, opts.max_queue, list(adapters))
            if generator.batching_refused:
                log.warning(
                    "continuous batching cannot run this model, one request at a time: %s", generator.batching_refused
                )
            state.generator = generator
            log.info("model %s loaded on %s; ready", state.model_id, device)
        except Exception as e:  # any loading failure is the reason this server cannot serve
            failure.append(f"cannot load the model from {model_dir}: {type(e).__name__}: {e}")
            server.should_exit = True

    threading.Thread(target=load_in_background, name="load-model", daemon=True).start()
    server.run(sockets=[sock])
    if failure:
        contract.fail(failure[0])


def _listen(host: str, port: str) -> socket.socket:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise contract.ContractError(f"PORT must be a port number, not {port!r}")
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
    except OSError as e:
        raise contract.ContractError(f"cannot listen on port {port} of {host!r}: {e.strerror or e}") from e
    return sock


if __name__ == "__main__":
    contract.run(main)
