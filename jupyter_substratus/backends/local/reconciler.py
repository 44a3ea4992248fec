"""The local reconciler: the reconcile flow (jupyter_substratus/reconcile) carried out as processes.

Loaders and trainers run to completion, at most `max_jobs` at a time, in the order they became
runnable; Servers run the model-server program on a free local port until deleted or changed;
a Notebook is a Jupyter kernel spec whose kernels get the content directory. A resource is
reconciled whenever something is written to the store, and once a second. Each status written
is the flow's decision on what this adapter observed (`_observe`): the same conditions, reasons
and phases the operator reports for the same events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from jupyter_substratus.api import ResourceValidationError, parse, server_image, workloads
from jupyter_substratus.api.kinds import Dataset, Model, Notebook, Resource, Server
from jupyter_substratus.api.workloads import Plan, Role
from jupyter_substratus.reconcile import (
    DEFAULT_STALLED_AFTER,
    Action,
    Decision,
    Observed,
    Progress,
    Seen,
    decide,
    main_condition_of,
    settled,
)

from . import build, content
from .gpus import local_gpus
from .process import Recorded, Workload
from .programs import NeedsCluster, Program, image_name, program
from .store import Store, plural_of

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # namespace, plural, name
TICK_SECONDS = 1.0
READY_POLL_SECONDS = 0.5
PROGRESS_SECONDS = 1.0  # how often a running trainer's progress lines are read into trainerStatus
PROGRESS_TAIL_BYTES = 16384


def _key(obj: dict[str, Any]) -> Key:
    metadata = obj["metadata"]
    return metadata["namespace"], plural_of(obj["kind"]), metadata["name"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tail(path: Path) -> tuple[str, ...]:
    """The last lines of a file (its last PROGRESS_TAIL_BYTES), none when it does not exist."""
    try:
        with path.open("rb") as stream:
            stream.seek(0, 2)
            stream.seek(max(0, stream.tell() - PROGRESS_TAIL_BYTES))
            return tuple(stream.read().decode(errors="replace").splitlines())
    except OSError:
        return ()


class Reconciler:
    def __init__(
        self,
        store: Store,
        images_dir: Path,
        kernels_dir: Path,
        base_url: str,
        max_jobs: int,
        default_namespace: str,
        stalled_after: timedelta = DEFAULT_STALLED_AFTER,
    ):
        self.store = store
        self.default_namespace = default_namespace
        self.images_dir = images_dir
        self.kernels_dir = kernels_dir
        self.base_url = base_url.rstrip("/") + "/"
        self.max_jobs = max_jobs
        self.stalled_after = stalled_after
        self.slots = asyncio.Semaphore(max_jobs)
        self.tasks: dict[Key, asyncio.Task] = {}  # a queued or running job, or a running server
        self.workloads: dict[Key, Workload] = {}
        self.served_generation: dict[Key, int] = {}
        self.wake = asyncio.Event()
        self.loop_task: asyncio.Task | None = None
        self.closing = False
        store.listeners.append(lambda event, obj: self.wake.set())

    # --- lifetime -----------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self.loop_task = asyncio.create_task(self._loop())

    def recover(self) -> None:
        """After a restart: a job whose process is gone (or orphaned: it is stopped) never counts as
        complete unless its artifacts are; Servers are started again by the loop."""
        for obj in self.store.everything():
            try:
                self._recover(obj)
            except Exception:  # one broken resource must not stop the others
                log.exception("recovering %s %s failed", obj.get("kind"), obj["metadata"].get("name"))

    def _recover(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        recorded = Recorded.load(self.store.run_file(*key))
        if recorded is not None:
            recorded.kill()
            self.store.run_file(*key).unlink(missing_ok=True)
        main = main_condition_of(obj)
        if obj["kind"] in ("Model", "Dataset") and main and main["reason"] == workloads.RUNNING:
            self._finish_job(key, interrupted=True)
        elif obj["kind"] == "Server" and obj["status"].get("ready"):
            # Its process went with the old Jupyter server: not ready until started again.
            self._report(key, Seen(Progress.PENDING, "restarting"), url=None)

    async def close(self) -> None:
        self.closing = True
        if self.loop_task:
            self.loop_task.cancel()
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        if self.loop_task:
            await asyncio.gather(self.loop_task, return_exceptions=True)

    async def forget(self, obj: dict[str, Any]) -> None:
        """Stop whatever runs for a resource that is being deleted."""
        key = _key(obj)
        task = self.tasks.pop(key, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if obj["kind"] == "Notebook":
            self._remove_kernel(key)

    async def _loop(self) -> None:
        while not self.closing:
            try:
                async with asyncio.timeout(TICK_SECONDS):
                    await self.wake.wait()
            except TimeoutError:
                pass
            self.wake.clear()
            for obj in list(self.store.everything()):
                self.reconcile_safely(obj)

    def reconcile_safely(self, obj: dict[str, Any]) -> None:
        try:
            self.reconcile(obj)
        except Exception:  # one broken resource must not stop the others
            log.exception("reconciling %s %s failed", obj.get("kind"), obj["metadata"].get("name"))

    # --- observing, deciding, acting ----------------------------------------------------------

    def reconcile(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        cancelling = workloads.CANCEL_ANNOTATION in (obj["metadata"].get("annotations") or {})
        if key in self.tasks and not cancelling and not (obj["kind"] == "Server" and self._server_outdated(key, obj)):
            return
        main = main_condition_of(obj)
        # Settled, but a failed dependency may be run again: it looks at that one again.
        if settled(obj) and not (main and main["reason"] == workloads.DEPENDENCY_FAILED):
            return
        seen, chosen, extra_env = self._observe(obj)
        decision = decide(seen, self.stalled_after)
        if decision.action is Action.STOP:
            task = self.tasks.pop(key, None)
            if task is not None:
                task.cancel()  # it stops the process, then reports (the flow says Cancelled)
            return self._write(obj, decision)
        if decision.action is not Action.RUN or decision.plan is None:
            return self._write(obj, decision)
        plan = decision.plan
        try:
            if plan.role in (Role.LOADER, Role.TRAINER):
                assert chosen is not None, "only a Notebook runs no program"
                queued = f"queued: waiting for a free job slot ({self.max_jobs} at a time)"
                self._write(obj, decide(seen.seeing(Seen(Progress.PENDING, queued)), self.stalled_after))
                self.tasks[key] = asyncio.create_task(self._run_job(key, plan, chosen, extra_env))
            elif plan.role is Role.SERVER:
                assert chosen is not None, "only a Notebook runs no program"
                old = self.tasks.pop(key, None)
                if old is not None:
                    old.cancel()
                if obj["status"].get("ready") or old is not None:
                    # Not ready from the moment the restart begins, not once the old process is gone.
                    restarting = Seen(Progress.PENDING, f"restarting: generation {seen.generation} of the spec")
                    self._write(obj, decide(seen.seeing(restarting, url=None), self.stalled_after))
                self.served_generation[key] = obj["metadata"]["generation"]
                self.tasks[key] = asyncio.create_task(self._run_server(key, old, plan, chosen))
            else:
                workload, extra = self._notebook(key, plan)
                self._write(obj, decide(seen.seeing(workload, **extra), self.stalled_after))
        except NeedsCluster as e:
            self._write(obj, decide(replace(seen, invalid=str(e)), self.stalled_after))

    def _observe(self, obj: dict[str, Any]) -> tuple[Observed, Program | None, dict[str, str]]:
        """What the flow decides on, and the program to run with the env it needs here."""
        key = _key(obj)
        seen = Observed(obj["kind"], obj["metadata"].get("generation"), obj.get("status") or {}, namespace=key[0])
        try:
            resource = parse(obj)
        except ResourceValidationError as e:
            return replace(seen, invalid=str(e)), None, {}
        seen = replace(seen, resource=resource)
        try:
            seen, extra_env = self._observe_image(seen, resource, key)
            image = seen.built_image or (
                server_image(resource, vllm=False) if isinstance(resource, Server) else resource.spec.image
            )
            chosen = None
            if image is not None:
                if resource.spec.command:
                    raise NeedsCluster("spec.command replaces the image's program: that needs a cluster")
                if isinstance(resource, Notebook) and image_name(image) != "notebook-base":
                    raise NeedsCluster(f"image {image!r} is not substratusai/notebook-base: that needs a cluster")
                chosen = program(image, self.images_dir) if not isinstance(resource, Notebook) else None
        except NeedsCluster as e:
            return replace(seen, invalid=str(e)), None, {}
        found: dict[tuple[str, str], Resource | None] = {}
        for kind, name in workloads.dependencies(resource):
            dependency = self.store.read(key[0], plural_of(kind), name)
            try:
                found[(kind, name)] = parse(dependency) if dependency is not None else None
            except ResourceValidationError:
                seen = replace(seen, invalid_dependency=(kind, name))
        artifacts = self.store.artifacts_dir(*key)
        if isinstance(resource, (Model, Dataset)):
            seen = replace(seen, trainer_lines=_tail(artifacts / content.PROGRESS))
            if content.complete(artifacts):
                seen = seen.seeing(Seen(Progress.SUCCEEDED), artifacts={"url": artifacts.as_uri()})
            elif key in self.tasks:
                seen = seen.seeing(Seen(Progress.RUNNING))
        return replace(seen, found=found, gpus=local_gpus(), runs_vllm=False), chosen, extra_env

    def _observe_image(self, seen: Observed, resource: Resource, key: Key) -> tuple[Observed, dict[str, str]]:
        """An uploaded context's notebook runs here with its base image's program: no image build."""
        plan = workloads.build_plan(resource)
        if plan is None:
            return seen, {}
        if plan.git is not None:
            seen = replace(seen, build=Seen(Progress.FAILED, "building an image from git needs a cluster"))
            return replace(
                seen, invalid="spec.build.git builds an image: that needs a cluster (the kubernetes backend)"
            ), {}
        if not isinstance(resource, Model):
            raise NeedsCluster(f"spec.build.upload on a {seen.kind} builds an image: that needs a cluster")
        stored = (seen.status.get("buildUpload") or {}).get("storedMD5Checksum")
        seen = replace(seen, stored_md5=stored)
        if stored != plan.upload_md5:
            return seen, {}
        local = build.read(self.store.upload_dir(*key))
        built = Seen(
            Progress.SUCCEEDED, f"no image build here: the notebook {local.notebook.name} runs in this environment"
        )
        return replace(seen, build=built, built_image=local.image), {"TRAINER_NOTEBOOK": str(local.notebook)}

    def _write(self, obj: dict[str, Any], decision: Decision) -> None:
        if json.dumps(obj.get("status"), sort_keys=True) != json.dumps(decision.status, sort_keys=True):
            obj["status"] = decision.status
            self.store.write(obj)

    def _report(self, key: Key, workload: Seen, **extra: Any) -> None:
        """Observe again, with the workload as its task sees it, and write the flow's status."""
        obj = self.store.read(*key)
        if obj is None:
            return
        seen, _, _ = self._observe(obj)
        self._write(obj, decide(seen.seeing(workload, **extra), self.stalled_after))

    def _server_outdated(self, key: Key, obj: dict[str, Any]) -> bool:
        return self.served_generation.get(key) != obj["metadata"]["generation"]

    # --- jobs ---------------------------------------------------------------------------------

    def _artifacts_of(self, ref: workloads.ArtifactRef) -> Path:
        return self.store.artifacts_dir(ref.namespace, plural_of(ref.kind), ref.name)

    async def _run_job(self, key: Key, plan: Plan, chosen: Program, extra_env: dict[str, str]) -> None:
        workload = None
        try:
            async with self.slots:
                folder = self.store.content_dir(*key)
                content.prepare(plan, folder, self._artifacts_of)
                env = content.environment(plan, chosen, folder, extra_env)
                workload = await Workload.start(
                    chosen.entry, env, folder, self.store.log_file(*key), self.store.run_file(*key)
                )
                self.workloads[key] = workload
                running = Seen(Progress.RUNNING, f"running {chosen.name} (pid {workload.process.pid})")
                exited = asyncio.ensure_future(workload.wait())
                try:
                    while not exited.done():
                        self._report(key, running)  # the trainer's progress: trainerStatus
                        await asyncio.wait({exited}, timeout=PROGRESS_SECONDS)
                finally:
                    exited.cancel()
                code = exited.result()
            self.tasks.pop(key, None)
            self._finish_job(key, code=code)
        except asyncio.CancelledError:
            if workload is not None:
                await workload.stop()
                self._finish_job(key, interrupted=True)
            raise
        except NeedsCluster as e:
            self.tasks.pop(key, None)
            obj = self.store.read(*key)
            if obj is not None:
                seen, _, _ = self._observe(obj)
                self._write(obj, decide(replace(seen, invalid=str(e)), self.stalled_after))
        finally:
            self.workloads.pop(key, None)

    def _finish_job(self, key: Key, code: int | None = None, interrupted: bool = False) -> None:
        """A job's process ended (with `code`, or stopped with the Jupyter server or by a cancel)."""
        artifacts = self.store.artifacts_dir(*key)
        if content.complete(artifacts) and (interrupted or code == 0):
            return self._report(key, Seen(Progress.SUCCEEDED), artifacts={"url": artifacts.as_uri()})
        if interrupted:
            return self._report(key, Seen(Progress.INTERRUPTED))
        reason = content.failure_reason(self.store.content_dir(*key)) or (
            f"the program exited with code {code} without completing its artifacts; see the logs"
        )
        self._report(key, Seen(Progress.FAILED, reason))

    # --- servers ------------------------------------------------------------------------------

    def proxy_url(self, namespace: str, name: str, default_namespace: str) -> str:
        prefix = "" if namespace == default_namespace else f"namespaces/{namespace}/"
        return f"{self.base_url}substratus/api/v1/{prefix}servers/{name}/proxy/"

    def server_port(self, key: Key) -> int | None:
        workload = self.workloads.get(key)
        return workload.port if workload is not None else None

    async def _run_server(self, key: Key, previous: asyncio.Task | None, plan: Plan, chosen: Program) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        folder = self.store.content_dir(*key)
        workload = None
        try:
            content.prepare(plan, folder, self._artifacts_of)
            port = _free_port()
            env = content.environment(plan, chosen, folder, {"HOST": "127.0.0.1", "PORT": str(port)})
            self._report(key, Seen(Progress.PENDING, f"starting {chosen.name} on 127.0.0.1:{port}"))
            workload = await Workload.start(
                chosen.entry, env, folder, self.store.log_file(*key), self.store.run_file(*key)
            )
            workload.port = port
            self.workloads[key] = workload
            exited = asyncio.ensure_future(workload.wait())
            async with httpx.AsyncClient(timeout=2.0) as client:
                while not exited.done():
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.wait({exited}, timeout=READY_POLL_SECONDS)
            if not exited.done():
                self._report(key, Seen(Progress.SUCCEEDED), url=self.proxy_url(key[0], key[2], self.default_namespace))
            code = await exited
            reason = content.failure_reason(folder) or f"the server exited with code {code}; see the logs"
            self._report(key, Seen(Progress.FAILED, reason), url=None)
        except asyncio.CancelledError:
            if workload is not None:
                await workload.stop()
            raise
        except NeedsCluster as e:
            obj = self.store.read(*key)
            if obj is not None:
                seen, _, _ = self._observe(obj)
                self._write(obj, decide(replace(seen, invalid=str(e)), self.stalled_after))
        finally:
            if self.workloads.get(key) is workload:
                self.workloads.pop(key, None)

    # --- notebooks ----------------------------------------------------------------------------

    def _kernel_dir(self, key: Key) -> Path:
        return self.kernels_dir / f"substratus-{key[0]}-{key[2]}"

    def _remove_kernel(self, key: Key) -> None:
        folder = self._kernel_dir(key)
        for child in folder.glob("*"):
            child.unlink()
        if folder.is_dir():
            folder.rmdir()

    def _notebook(self, key: Key, plan: Plan) -> tuple[Seen, dict[str, Any]]:
        """A kernel spec 'Substratus: <name>': its kernels run here with CONTENT_DIR (model/ and data/
        linked) and the params; suspend removes it."""
        obj = self.store.read(*key)
        if obj is None:
            raise LookupError(f"the Notebook {key[0]}/{key[2]} is gone")
        resource = parse(obj)
        if not isinstance(resource, Notebook):
            raise TypeError(f"{key[0]}/{key[1]}/{key[2]} is a {obj['kind']}, not a Notebook")
        if resource.spec.suspend:
            self._remove_kernel(key)
            return Seen(Progress.SUSPENDED), {"url": None}
        env = {k: v for k, v in plan.env.items() if isinstance(v, str)}
        if len(env) != len(plan.env):
            raise NeedsCluster("secret references in env need a cluster")
        folder = self.store.content_dir(*key)
        content.prepare(plan, folder, self._artifacts_of)
        env.update(CONTENT_DIR=str(folder))
        spec = {
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": f"Substratus: {key[2]}",
            "language": "python",
            "env": env,
        }
        kernel = self._kernel_dir(key)
        kernel.mkdir(parents=True, exist_ok=True)
        (kernel / "kernel.json").write_text(json.dumps(spec, indent=1))
        message = f"open a notebook with the kernel 'Substratus: {key[2]}'"
        if resource.spec.suspend_after_idle:
            message += "; suspendAfterIdle applies on a cluster: here the kernels are this Lab's own"
        return Seen(Progress.SUCCEEDED, message), {"url": f"{self.base_url}lab"}
