#!/usr/bin/env bash
# UI tests of jupyter-substratus: build the labextension if needed, install the test's npm
# dependencies, start a real `jupyter lab` (with the server extension) on a free port, run the
# Galata tests in Debian's chromium, and stop everything.
#
#   labextension/ui-tests/run.sh [playwright args...]
#
# PYTHON: the Python whose environment has jupyter-substratus (default: the repo's .venv).
# SUBSTRATUS_UI_PARTS: which parts run, of "emulator local" (the default: both).
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
stop_lab() {
    if [ -n "$LAB_PID" ] && kill -0 "$LAB_PID" 2>/dev/null; then
        kill "$LAB_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$LAB_PID" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$LAB_PID" 2>/dev/null || true
    fi
    LAB_PID=""
}
cleanup() {
    stop_lab
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

mkdir -p "$WORK/labextensions"
ln -s "$ROOT/jupyter_substratus/labextension" "$WORK/labextensions/jupyter-substratus"
export SUBSTRATUS_LABEXTENSIONS_DIR="$WORK/labextensions"
export SUBSTRATUS_UI_WORK="$WORK"

# start_lab ROOT LOG COMMAND...: jupyter lab (COMMAND) with its root directory ROOT on a free
# port, its output in LOG; returns once it answers.
start_lab() {
    local root="$1" log="$2"
    shift 2
    export JUPYTERLAB_GALATA_ROOT_DIR="$root"
    SUBSTRATUS_UI_PORT="$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    export SUBSTRATUS_UI_PORT TARGET_URL="http://127.0.0.1:$SUBSTRATUS_UI_PORT"
    (cd "$root" && exec "$@" >"$log" 2>&1) &
    LAB_PID=$!
    for _ in $(seq 1 120); do
        if curl -sf "$TARGET_URL/lab" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$LAB_PID" 2>/dev/null; then
            echo "run.sh: jupyter lab exited; its log:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "run.sh: jupyter lab did not answer on $TARGET_URL" >&2
    exit 1
}

cd "$HERE"
STATUS=0
PARTS="${SUBSTRATUS_UI_PARTS:-emulator local}"

# 1. The sidebar and the details views against jupyter lab on the Kubernetes API emulator with
# the real operator (see lab_on_emulator.py), and a small dataset file the Dataset tests load over
# http.
if [[ " $PARTS " == *" emulator "* ]]; then
mkdir -p "$WORK/root"
printf '{"prompt": "Hello", "completion": " world"}\n{"prompt": "Good", "completion": " morning"}\n' \
    >"$WORK/root/train.jsonl"
start_lab "$WORK/root" "$HERE/jupyter-lab.log" \
    "$PYTHON" "$HERE/lab_on_emulator.py" --config "$HERE/jupyter_server_test_config.py"
export SUBSTRATUS_UI_LAB=emulator
jlpm playwright test tests/substratus.spec.ts tests/details.spec.ts tests/forms.spec.ts --pass-with-no-tests "$@" || STATUS=$?
stop_lab
fi

# 2. The README quickstart on the local backend, from a fresh state directory (inside the lab's
# root, so that the details' artifacts links open in the file browser): real loaders, trainer and
# model server run as processes of this machine. Then the details of what it made.
if [[ " $PARTS " == *" local "* ]]; then
mkdir -p "$WORK/local/root"
SUBSTRATUS_QUICKSTART="$("$PYTHON" "$HERE/local_quickstart_files.py" "$WORK/local/root" 2>/dev/null)"
export SUBSTRATUS_QUICKSTART
start_lab "$WORK/local/root" "$HERE/jupyter-lab-local.log" \
    "$BIN/jupyter" lab --config "$HERE/jupyter_server_test_config.py" \
    --SubstratusExtension.backend=local --SubstratusExtension.local_state_dir="$WORK/local/root/substratus-state"
export SUBSTRATUS_UI_LAB=local
jlpm playwright test tests/local-quickstart.spec.ts --pass-with-no-tests "$@" || STATUS=$?
jlpm playwright test tests/details.spec.ts --pass-with-no-tests "$@" || STATUS=$?
fi

echo "run.sh: jupyter lab logs: $HERE/jupyter-lab.log, $HERE/jupyter-lab-local.log;" \
    "screenshots: $HERE/test-results/screenshots"
exit $STATUS
