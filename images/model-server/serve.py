"""The model server's entry point: serve $CONTENT_DIR/model over HTTP on port 8080 (env PORT).

The port opens at once and GET / answers 503 while the weights load, 200 once they are loaded.
Anything that makes the model unservable (no completion marker, unreadable files, bad params,
weights that fail to load) ends the process with a one-line reason in the termination log.
"""

import logging
import os
import socket
import threading

import substratus_contract as contract
import uvicorn
from api import ServerState, create_app
from generation import Generator
from loading import check_model_dir, load, options

log = logging.getLogger("model-server")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    params = contract.params()
    max_new_tokens = contract.param(params, "max_new_tokens", int, 128)
    if max_new_tokens < 1:
        raise contract.ContractError(f"param max_new_tokens must be at least 1, not {max_new_tokens}")
    opts = options(params)  # GPU-only params on a CPU machine fail before the port opens
    model_dir = contract.model_dir()
    check_model_dir(model_dir)

    state = ServerState(model_id=contract.model_name(model_dir), max_new_tokens=max_new_tokens)
    sock = _listen(os.environ.get("PORT", "8080"))
    server = uvicorn.Server(uvicorn.Config(create_app(state), log_level="info", timeout_graceful_shutdown=5))
    failure: list[str] = []

    def load_in_background() -> None:
        try:
            model, tokenizer = load(model_dir, opts)
            state.generator = Generator(model, tokenizer)
            log.info("model %s loaded on %s; ready", state.model_id, model.device)
        except Exception as e:  # any loading failure is the reason this server cannot serve
            failure.append(f"cannot load the model from {model_dir}: {type(e).__name__}: {e}".replace("\n", " "))
        if failure:
            server.should_exit = True

    threading.Thread(target=load_in_background, name="load-model", daemon=True).start()
    server.run(sockets=[sock])
    if failure:
        contract.fail(failure[0])


def _listen(port: str) -> socket.socket:
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise contract.ContractError(f"PORT must be a port number, not {port!r}")
    sock = socket.socket(socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", int(port)))
    except OSError as e:
        raise contract.ContractError(f"cannot listen on port {port}: {e.strerror}") from e
    return sock


if __name__ == "__main__":
    contract.run(main)
