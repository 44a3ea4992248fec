#!/usr/bin/env bash
# A plain `pip install .` into a fresh virtualenv is the whole install: afterwards
# `jupyter labextension list` and `jupyter server extension list` must both report
# jupyter-substratus as enabled and OK, without the operator's dependencies; `pip install ./operator`
# then adds the operator.
#
# The check installs from a copy of the tracked files (what a fresh clone holds), so the
# wheel's build hook really builds the labextension from source; the working tree is not
# touched. PYTHON picks the interpreter (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

start=$(date +%s)
mkdir "$WORK/src"
(cd "$ROOT" && git ls-files -z --cached | xargs -0 cp --parents -t "$WORK/src")
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade pip 2>&1 | { grep -v "^WARNING: Location '" || true; }
# The build hook needs node (jlpm, jupyter-builder come from the build requirements).
# (grep drops the "Location ... is ignored" noise of this machine's pip index settings)
PATH="$WORK/venv/bin:$PATH" "$WORK/venv/bin/pip" install --quiet "$WORK/src" 2>&1 |
    { grep -v "^WARNING: Location '" || true; }
[ "${PIPESTATUS[0]}" = 0 ]
installed=$(date +%s)

cd "$WORK"  # not the source tree: check the installed package only
labext=$("$WORK/venv/bin/jupyter" labextension list 2>&1)
serverext=$("$WORK/venv/bin/jupyter" server extension list 2>&1)
echo "$labext"
echo "$serverext"

status=0
if ! grep -Eq 'jupyter-substratus v[0-9.]+ .*enabled.*OK' <<<"$labext"; then
    echo "check-install: FAIL: jupyter labextension list does not report jupyter-substratus enabled OK" >&2
    status=1
fi
if ! grep -Eq 'jupyter_substratus.*enabled' <<<"$serverext" || ! grep -Eq 'jupyter_substratus.*OK' <<<"$serverext"; then
    echo "check-install: FAIL: jupyter server extension list does not report jupyter_substratus enabled OK" >&2
    status=1
fi
# The local backend runs the workload images' programs from inside the installed package.
if ! ls "$WORK"/venv/lib/python3*/site-packages/jupyter_substratus/images/model-server/Dockerfile >/dev/null 2>&1; then
    echo "check-install: FAIL: the wheel does not carry images/ (the local backend's programs)" >&2
    status=1
fi
# The operator is a distribution of its own: its dependencies stay out of the user's Jupyter, and
# it installs beside the extension, whose API it imports.
if "$WORK/venv/bin/python" -c "import kopf" 2>/dev/null; then
    echo "check-install: FAIL: pip install . brought the operator's kopf into the user's Jupyter" >&2
    status=1
fi
"$WORK/venv/bin/pip" install --quiet "$WORK/src/operator" 2>&1 | { grep -v "^WARNING: Location '" || true; }
if ! "$WORK/venv/bin/python" -c "import substratus_operator.handlers"; then
    echo "check-install: FAIL: the operator (pip install ./operator) does not import" >&2
    status=1
fi
end=$(date +%s)
echo "check-install: pip install took $((installed - start)) s, whole check $((end - start)) s"
[ $status = 0 ] && echo "check-install: OK"
exit $status
