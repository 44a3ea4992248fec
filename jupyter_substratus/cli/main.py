"""`kubectl notebook [DIR]`: open a GPU notebook from a local directory, syncing both ways.

The steps (each a function below): the Notebook of DIR (notebook.yaml or flags), created or
resumed; DIR's build context uploaded through the operator's signed URL (skipped when that
content was built before); ready, the state shown as it changes; port 8888 forwarded, the
browser opened with the token from the Notebook's Secret; the directory synced both ways while
it is open; Ctrl-C: a last sync back, then the Notebook suspended (unless --keep-running).
With no cluster configured, the same on the local backend: a local Jupyter in DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jupyter_substratus.api import ResourceValidationError, parse
from jupyter_substratus.api.workloads import FAILURE_REASONS, NOTEBOOK_PORT
from jupyter_substratus.backends import Backend, BackendError, Conflict, NotFound, choose_kind, make_backend
from jupyter_substratus.export import BuildContext, Launch, launch, parse_gpu

from . import notebook as notebooks
from .sync import Contents, Sync, SyncError
from .terminal import Terminal

PROG = "kubectl-notebook"
CONFLICT_RETRIES = 5  # a replace that met the operator's status write is read again and retried
WAITS_FOR_NODE = "waits for a node"  # the operator's message for an unschedulable pod


class Failure(Exception):
    """Ends the command with this one line and exit status 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line, not the usage: `--help` shows that."""
        self.exit(2, f"{PROG}: error: {message} (--help for the usage)\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Open a GPU notebook from a local directory, with two-way sync.")
    p.add_argument("dir", nargs="?", default=".", help="the directory (default: the current one)")
    p.add_argument("--name", help="the Notebook's name (default: notebook.yaml's, else the directory's name)")
    p.add_argument("--gpu", type=_gpu, metavar="TYPE[:N]|N", help="e.g. nvidia-l4:1, or 1 for one GPU of any type")
    p.add_argument("--model", help="a Model to mount at /content/model")
    p.add_argument("--dataset", help="a Dataset to mount at /content/data")
    p.add_argument("--image", help="run this image instead of building one from the directory")
    p.add_argument("-n", "--namespace", help="default: the kubeconfig context's")
    p.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    p.add_argument("--context", help="the kubeconfig context")
    p.add_argument(
        "--backend",
        choices=("auto", "kubernetes", "local"),
        default="auto",
        help="auto: kubernetes where a cluster is configured, local otherwise",
    )
    p.add_argument("--port", type=int, default=0, help="the local port (default: a free one)")
    p.add_argument("--keep-running", action="store_true", help="on exit, leave the Notebook running")
    p.add_argument(
        "--suspend-after-idle",
        metavar="DURATION",
        help="suspend it after this long without activity, e.g. 30m (with --keep-running: while you are away)",
    )
    p.add_argument("--no-browser", action="store_true", help="print the URL, do not open a browser")
    p.add_argument("--show-token", action="store_true", help="print the URL with its token")
    p.add_argument("--no-sync", action="store_true", help="do not sync the directory")
    p.add_argument("--sync-interval", type=float, default=2.0, help="seconds between sync rounds (default 2)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for ready (default 1800)")
    p.add_argument(
        "--unschedulable-timeout",
        type=float,
        default=300.0,
        help="seconds a pod may wait for a node before giving up (default 300)",
    )
    return p


def _gpu(text: str) -> tuple[str | None, int]:
    try:
        return parse_gpu(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    terminal = Terminal()
    try:
        return asyncio.run(Opener(args, terminal).run())
    except (Failure, BackendError, ResourceValidationError, notebooks.UsageError, SyncError) as e:
        message = e.message if isinstance(e, BackendError) else "; ".join(str(e).split("\n"))
        terminal.say(f"{PROG}: error: {' '.join(message.split())}")
        return 1
    except KeyboardInterrupt:
        terminal.say(f"{PROG}: interrupted")
        return 130


class Opener:
    """One run of the command."""

    def __init__(self, args: argparse.Namespace, terminal: Terminal):
        self.args = args
        self.say = terminal.say
        self.terminal = terminal
        self.directory = Path(args.dir).expanduser().resolve()
        self.interrupted = asyncio.Event()
        self._backend: Backend | None = None
        self.name = ""

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("the backend is made at the start of run()")
        return self._backend

    async def run(self) -> int:
        if not self.directory.is_dir():
            raise Failure(f"{self.args.dir!r} is not a directory")
        manifest = notebooks.notebook_manifest(
            self.directory,
            name=self.args.name,
            gpu=self.args.gpu,
            model=self.args.model,
            dataset=self.args.dataset,
            image=self.args.image,
            suspend_after_idle=self.args.suspend_after_idle,
        )
        self.name = manifest["metadata"]["name"]
        kind = choose_kind(self.args.backend, self.args.kubeconfig)
        options = {"namespace": self.args.namespace}
        if kind == "kubernetes":
            options.update(kubeconfig=self.args.kubeconfig, context=self.args.context)
        self._backend = await asyncio.to_thread(make_backend, kind, **{k: v for k, v in options.items() if v})
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("run() must run inside an asyncio task")
        opened = False

        def on_interrupt() -> None:
            first = not self.interrupted.is_set()
            self.interrupted.set()
            if first and not opened:  # once: a second Ctrl-C must not break the suspend under way
                task.cancel()

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        try:
            try:
                if kind == "local":
                    manifest = notebooks.with_base_image(manifest)
                try:
                    await self.open(manifest)
                except Failure:
                    if not self.args.keep_running and await self._get() is not None:
                        await self.suspend()  # nothing left waiting for a node, or retrying, unseen
                    raise
                opened = True
                if kind == "local":
                    await self.serve_locally()
                else:
                    await self.serve_forwarded()
            except asyncio.CancelledError:
                if not self.interrupted.is_set():
                    raise
                task.uncancel()
                self.say("interrupted")
            if not self.args.keep_running:
                if await self._get() is not None:
                    await self.suspend()
            else:
                self.say(f"Notebook {self.name} keeps running (--keep-running)")
            return 0 if opened else 130
        finally:
            loop.remove_signal_handler(signal.SIGINT)
            await self.backend.close()

    # --- the Notebook ---------------------------------------------------------------------

    async def open(self, manifest: dict[str, Any]) -> None:
        """Create or resume the Notebook, upload its build context, wait until it is ready."""
        context = None
        if notebooks.builds_from_directory(manifest):
            manifest, context = notebooks.with_build(manifest, self.directory)
            if context.dockerfile_generated:
                self.say("no Dockerfile here: building from this one (not written to the directory):")
                dockerfile = notebooks.generated_dockerfile(self.directory)
                self.say("\n".join(f"  | {line}" for line in dockerfile.splitlines()))
        else:
            parse(manifest)
        existing = await self._get()
        if existing is None:
            self.say(f"creating Notebook {self.name}")
            launched = await launch(self.backend, context, manifest) if context else None
            if launched is None:
                await self.backend.create(manifest)
        else:
            launched = await self._resume(existing, manifest, context)
        if launched is not None:
            state = await launched.upload(self.terminal.upload, self.args.timeout)
            self.say("upload skipped: this content was built before" if state.step == "skipped" else "upload done")
        await self._wait_ready()

    async def _resume(
        self, existing: dict[str, Any], manifest: dict[str, Any], context: BuildContext | None
    ) -> Launch | None:
        """The Notebook there with the spec wanted now, running; its Launch when it builds."""
        spec = dict(manifest["spec"])
        before = existing.get("spec") or {}
        if context is not None and ((before.get("build") or {}).get("upload") or {}).get("md5Checksum") == context.md5:
            spec["build"] = before["build"]  # the same request: the operator's answer to it stands
        self.say(f"resuming Notebook {self.name}" if before.get("suspend") else f"opening Notebook {self.name}")
        current = existing
        if before.get("suspend") or spec != {k: v for k, v in before.items() if k != "suspend"}:
            current = await self._replace_spec(lambda before: spec)
        return Launch(self.backend, context, {**manifest, "spec": spec}, current) if context else None

    async def _get(self) -> dict[str, Any] | None:
        try:
            return await self.backend.get("notebooks", self.name)
        except NotFound:
            return None

    async def _wait_ready(self) -> dict[str, Any]:
        changes = await self.backend.changes()
        try:
            obj = await self.backend.get("notebooks", self.name)
            deadline = time.monotonic() + self.args.timeout
            unscheduled_since: float | None = None
            while True:
                line, failed, ready = _state_line(obj)
                self.terminal.state(f"Notebook {self.name}: {line}")
                if ready:
                    return obj
                if failed:
                    raise Failure(f"Notebook {self.name} failed: {line}")
                if WAITS_FOR_NODE in line:
                    unscheduled_since = unscheduled_since or time.monotonic()
                    if time.monotonic() - unscheduled_since > self.args.unschedulable_timeout:
                        raise Failure(
                            f"Notebook {self.name} cannot be scheduled: {line} "
                            f"(no node with the GPU and resources it asks for)"
                        )
                else:
                    unscheduled_since = None
                left = min(deadline - time.monotonic(), 5.0)
                if deadline - time.monotonic() <= 0:
                    raise Failure(f"Notebook {self.name} is not ready after {self.args.timeout:.0f} s: {line}")
                try:
                    # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow the Ctrl-C's
                    # cancel when an event arrives at the same moment.
                    async with asyncio.timeout(left):
                        event = await changes.__anext__()
                except TimeoutError:
                    continue
                o = event.object
                if o.get("kind") == "Notebook" and o["metadata"]["name"] == self.name:
                    if event.type == "DELETED":
                        raise Failure(f"Notebook {self.name} was deleted")
                    obj = o
        finally:
            await changes.aclose()

    async def _replace_spec(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
        """The Notebook with spec `change(spec there)`, read again when the operator wrote in between."""
        attempts = 0
        while True:
            obj = await self.backend.get("notebooks", self.name)
            try:
                return await self.backend.replace({**obj, "spec": change(obj.get("spec") or {})})
            except Conflict:
                attempts += 1
                if attempts >= CONFLICT_RETRIES:
                    raise
                await asyncio.sleep(0.2)

    async def suspend(self) -> None:
        await self._replace_spec(lambda spec: {**spec, "suspend": True})
        self.say(f"Notebook {self.name} suspended, its work kept; `kubectl notebook {self.args.dir}` resumes it")

    # --- open: on a cluster ---------------------------------------------------------------

    async def serve_forwarded(self) -> None:
        token = await self.backend.notebook_token(self.name)
        forward = await self.backend.port_forward("notebooks", self.name, NOTEBOOK_PORT, local_port=self.args.port)
        try:
            base = f"http://127.0.0.1:{forward.local_port}/"
            self._show(base, token)
            if self.args.no_sync:
                await self.interrupted.wait()
                return
            sync = Sync(self.directory, Contents(base, token), _state_file(self.directory, self.backend, self.name))
            await self._sync_until_interrupted(sync)
            self.say("last sync back")
            await self._sync_round(sync, final=True)
        finally:
            forward.close()

    async def _sync_until_interrupted(self, sync: Sync) -> None:
        while not self.interrupted.is_set():
            await self._sync_round(sync)
            try:
                await asyncio.wait_for(self.interrupted.wait(), self.args.sync_interval)
            except TimeoutError:
                pass

    async def _sync_round(self, sync: Sync, final: bool = False) -> None:
        try:
            report = await asyncio.to_thread(sync.once)
        except (SyncError, OSError) as e:
            if final:
                raise Failure(f"the last sync back failed, the Notebook is left running: {e}") from None
            self.terminal.state(f"sync: {e} (trying again)")
            return
        for line in report.lines():
            self.say(f"sync: {line}")

    def _show(self, base: str, token: str) -> None:
        url = f"{base}lab"
        with_token = f"{url}?token={token}"
        print(with_token if self.args.show_token else url, flush=True)
        self.say(f"Notebook {self.name} is open at {url} (Ctrl-C: sync back and suspend)")
        if not self.args.no_browser:
            webbrowser.open(with_token)

    # --- open: on this machine ------------------------------------------------------------

    async def serve_locally(self) -> None:
        """A local Jupyter in DIR (the Notebook's kernel gets the model and dataset paths)."""
        if (self.directory / "requirements.txt").is_file():
            self.say("local backend: requirements.txt is not installed for you (pip install -r requirements.txt)")
        token, port = secrets.token_urlsafe(24), self.args.port or _free_port()
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={self.directory}",
        ]
        if os.geteuid() == 0:  # as in a container: Jupyter refuses root without it
            command.append("--allow-root")
        log = tempfile.TemporaryFile()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}/"
            await asyncio.to_thread(_wait_for_jupyter, base, token, process, log)
            self.say(f"kernel 'Substratus: {self.name}' has the Notebook's model and dataset")
            self._show(base, token)
            await self.interrupted.wait()
        finally:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 15)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def _state_line(obj: dict[str, Any]) -> tuple[str, bool, bool]:
    """(what to show, failed?, ready?)."""
    status = obj.get("status") or {}
    if status.get("ready"):
        return "ready", False, True
    for condition in status.get("conditions") or []:
        if condition.get("status") == "False" and condition.get("reason") in FAILURE_REASONS:
            return f"{condition['reason']}: {condition.get('message', '')}", True, False
    waiting = [c for c in status.get("conditions") or [] if c.get("status") != "True"]
    if waiting:
        reason, message = waiting[-1].get("reason") or "Pending", waiting[-1].get("message") or ""
        return f"{reason}: {message}" if message else reason, False, False
    return "Pending", False, False


def _state_file(directory: Path, backend: Backend, name: str) -> Path:
    """Where the sync's base of this directory and Notebook is kept (outside the directory)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{directory}\0{backend.default_namespace}\0{name}".encode()).hexdigest()[:24]
    return cache / "substratus" / "notebook-sync" / f"{key}.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_jupyter(base: str, token: str, process: subprocess.Popen, log, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(f"{base}api/status", headers={"Authorization": f"token {token}"})
    while True:
        try:
            urllib.request.urlopen(request, timeout=2).close()
            return
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                last = next(
                    (line for line in reversed(log.read().decode(errors="replace").splitlines()) if line.strip()), ""
                )
                raise Failure(f"the local Jupyter exited ({process.returncode}) before it served: {last}") from None
            if time.monotonic() > deadline:
                raise Failure(f"the local Jupyter does not answer after {timeout:.0f} s") from None
            time.sleep(0.3)
