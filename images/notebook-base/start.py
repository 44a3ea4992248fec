"""Start Jupyter Lab for a Notebook: 0.0.0.0:8888 (env PORT overrides), root dir $CONTENT_DIR
(default /content), and the token from NOTEBOOK_TOKEN. Without a token it refuses to start:
there is never a default token.
"""

import os
import sys
from pathlib import Path

import substratus_contract as contract


def lab_command(content_dir: Path, port: int, as_root: bool) -> list[str]:
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ip=0.0.0.0",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
        f"--ServerApp.root_dir={content_dir}",
    ]  # fmt: skip
    return command + ["--allow-root"] if as_root else command


def main() -> None:
    token = os.environ.get("NOTEBOOK_TOKEN", "").strip()
    if not token:
        contract.fail("NOTEBOOK_TOKEN is not set: refusing to start Jupyter without a token")
    content_dir = contract.content_dir()
    if not content_dir.is_dir():
        contract.fail(f"content directory {content_dir} does not exist")
    port = os.environ.get("PORT", "8888")
    if not port.isdigit():
        contract.fail(f"PORT must be a port number, not {port!r}")
    # The token goes by environment (JUPYTER_TOKEN), not argv, so `ps` does not show it.
    env = {**os.environ, "JUPYTER_TOKEN": token}
    os.chdir(content_dir)
    command = lab_command(content_dir, int(port), os.geteuid() == 0)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    contract.run(main)
