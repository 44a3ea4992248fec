#!/usr/bin/env bash
# UI tests of jupyter-substratus: build the labextension if needed, install the test's npm
# dependencies, start a real `jupyter lab` (with the server extension) on a free port, run the
# Galata tests in Debian's chromium, and stop everything.
#
#   labextension/ui-tests/run.sh [playwright args...]
#
# PYTHON: the Python whose environment has jupyter-substratus (default: the repo's .venv).
# Screenshots land in labextension/ui-tests/test-results/screenshots/.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
LABEXT="$(dirname "$HERE")"
ROOT="$(dirname "$LABEXT")"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PYTHON")"
export PATH="$BIN:$PATH"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export HF_HUB_OFFLINE=1

if [ ! -x /usr/bin/chromium ] && [ -z "${CHROMIUM:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else
        echo "run.sh: Debian's chromium is missing: apt-get install -y chromium" >&2
        exit 1
    fi
fi

# The labextension: build it when it is missing or older than its sources.
BUILT="$ROOT/jupyter_substratus/labextension/static/style.js"
if [ ! -f "$BUILT" ] || [ -n "$(find "$LABEXT/src" "$LABEXT/style" "$LABEXT/schema" "$LABEXT/package.json" -newer "$BUILT" -print -quit)" ]; then
    (cd "$LABEXT" && jlpm install && jlpm build)
fi

(cd "$HERE" && jlpm install)

WORK="$(mktemp -d)"
LAB_PID=""
cleanup() {
    if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
        kill "$LAB_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$LAB_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mkdir -p "$WORK/labextensions" "$WORK/root"
ln -s "$ROOT/jupyter_substratus/labextension" "$WORK/labextensions/jupyter-substratus"
export SUBSTRATUS_LABEXTENSIONS_DIR="$WORK/labextensions"
export JUPYTERLAB_GALATA_ROOT_DIR="$WORK/root"
# A small dataset file the Dataset test loads over http.

printf '{"prompt": "Hello", "completion": " world"}\n{"prompt": "Good", "completion": " morning"}\n' \
    >"$WORK/root/train.jsonl"

PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
export SUBSTRATUS_UI_PORT="$PORT"
export TARGET_URL="http://127.0.0.1:$PORT"

# jupyter lab in-process with the Kubernetes API emulator (see lab_on_emulator.py).
export SUBSTRATUS_UI_WORK="$WORK"
(cd "$WORK/root" && exec "$PYTHON" "$HERE/lab_on_emulator.py" --config "$HERE/jupyter_server_test_config.py" \
    >"$HERE/jupyter-lab.log" 2>&1) &
LAB_PID=$!

for _ in $(seq 1 120); do
    if curl -sf "$TARGET_URL/lab" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$LAB_PID" 2>/dev/null; then
        echo "run.sh: jupyter lab exited; its log:" >&2
        cat "$HERE/jupyter-lab.log" >&2
        exit 1
    fi
    sleep 0.5
done
curl -sf "$TARGET_URL/lab" >/dev/null || { echo "run.sh: jupyter lab did not answer on $TARGET_URL" >&2; exit 1; }

cd "$HERE"
set +e
jlpm playwright test "$@"
STATUS=$?
set -e
echo "run.sh: jupyter lab log: $HERE/jupyter-lab.log; screenshots: $HERE/test-results/screenshots"
exit $STATUS
