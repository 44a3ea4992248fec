"""The local reconciler: the operator's decisions (api/workloads.py) carried out as processes.

Loaders and trainers run to completion, at most `max_jobs` at a time, in the order they became
runnable; Servers run the model-server program on a free local port until deleted or changed;
a Notebook is a Jupyter kernel spec whose kernels get the content directory. A resource is
reconciled whenever something is written to the store, and once a second.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import httpx

from jupyter_substratus.api import parse, server_image, workloads
from jupyter_substratus.api.kinds import Dataset, Model, Notebook, Resource, Server
from jupyter_substratus.api.workloads import Inputs, Plan, Progress, Role, Verdict

from . import build, content
from .conditions import condition, set_verdict
from .process import Recorded, Workload
from .programs import NeedsCluster, Program, image_name, program
from .store import Store, plural_of

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # namespace, plural, name
TICK_SECONDS = 1.0
READY_POLL_SECONDS = 0.5
INTERRUPTED_MESSAGE = (
    "the Jupyter server stopped while this ran; its partial output is not used. "
    "Run it again: Run again in the sidebar, %substratus rerun, or POST .../rerun"
)


def _key(obj: dict[str, Any]) -> Key:
    metadata = obj["metadata"]
    return metadata["namespace"], plural_of(obj["kind"]), metadata["name"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Reconciler:
    def __init__(
        self, store: Store, images_dir: Path, kernels_dir: Path, base_url: str, max_jobs: int, default_namespace: str
    ):
        self.store = store
        self.default_namespace = default_namespace
        self.images_dir = images_dir
        self.kernels_dir = kernels_dir
        self.base_url = base_url.rstrip("/") + "/"
        self.max_jobs = max_jobs
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
        main = condition(obj, workloads.condition_type(obj["kind"]))
        if obj["kind"] in ("Model", "Dataset") and main and main["reason"] == workloads.RUNNING:
            self._finish_job(obj, interrupted=True)
        elif obj["kind"] == "Server" and obj["status"].get("ready"):
            # Its process went with the old Jupyter server: not ready until started again.
            set_verdict(obj, workloads.workload_verdict(parse(obj), Progress.PENDING, "restarting"))
            obj["status"].update(ready=False, url=None)
            self.store.write(obj)

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

    # --- decisions ----------------------------------------------------------------------------

    def _write_if_changed(self, obj: dict[str, Any], before: str) -> None:
        if json.dumps(obj.get("status"), sort_keys=True) != before:
            self.store.write(obj)

    def reconcile(self, obj: dict[str, Any]) -> None:
        key = _key(obj)
        if key in self.tasks and not (obj["kind"] == "Server" and self._server_outdated(key, obj)):
            return
        before = json.dumps(obj.get("status"), sort_keys=True)
        resource = parse(obj)
        main = condition(obj, workloads.main_condition(resource))
        generation = obj["metadata"]["generation"]
        settled = (
            main is not None
            and main.get("observedGeneration") == generation
            and main["reason"] in workloads.FAILURE_REASONS
            # a failed dependency may be run again: look at it again
            and main["reason"] != workloads.DEPENDENCY_FAILED
        )
        if settled or (isinstance(resource, (Model, Dataset)) and obj["status"].get("ready")):
            return
        try:
            image, extra_env = self._image(obj, resource)
            if image is None:
                return self._write_if_changed(obj, before)
            if resource.spec.command:
                raise NeedsCluster("spec.command replaces the image's program: that needs a cluster")
            if isinstance(resource, Notebook) and image_name(image) != "notebook-base":
                raise NeedsCluster(f"image {image!r} is not substratusai/notebook-base: that needs a cluster")
            chosen = program(image, self.images_dir) if not isinstance(resource, Notebook) else None
        except NeedsCluster as e:
            set_verdict(obj, workloads.invalid_verdict(obj["kind"], str(e)))
            obj["status"]["ready"] = False
            return self._write_if_changed(obj, before)
        found = {dep: self._find(obj["metadata"]["namespace"], *dep) for dep in workloads.dependencies(resource)}
        waiting = workloads.dependency_verdict(resource, found)
        if waiting is not None:
            set_verdict(obj, waiting)
            obj["status"]["ready"] = False
            return self._write_if_changed(obj, before)
        obj["status"]["image"] = image
        plan = workloads.plan(resource, Inputs(obj["metadata"]["namespace"], image, found))
        if plan.role in (Role.LOADER, Role.TRAINER):
            assert chosen is not None, "only a Notebook runs no program"
            if content.complete(self.store.artifacts_dir(*key)):
                return self._finish_job(obj, code=0)
            set_verdict(
                obj,
                workloads.workload_verdict(
                    resource, Progress.PENDING, f"queued: waiting for a free job slot ({self.max_jobs} at a time)"
                ),
            )
            self._write_if_changed(obj, before)
            self.tasks[key] = asyncio.create_task(self._run_job(key, plan, chosen, extra_env))
        elif plan.role is Role.SERVER:
            assert chosen is not None, "only a Notebook runs no program"
            old = self.tasks.pop(key, None)
            if old is not None:
                old.cancel()
            if obj["status"].get("ready") or old is not None:
                # Not ready from the moment the restart begins, not once the old process is gone.
                message = f"restarting: generation {generation} of the spec"
                set_verdict(obj, workloads.workload_verdict(resource, Progress.PENDING, message))
                obj["status"].update(ready=False, url=None)
            self._write_if_changed(obj, before)  # status.image too
            self.served_generation[key] = generation
            self.tasks[key] = asyncio.create_task(self._run_server(key, old, plan, chosen))
        else:
            self._write_if_changed(obj, before)
            self._notebook(key, plan)

    def _server_outdated(self, key: Key, obj: dict[str, Any]) -> bool:
        return self.served_generation.get(key) != obj["metadata"]["generation"]

    def _find(self, namespace: str, kind: str, name: str) -> Resource | None:
        obj = self.store.read(namespace, plural_of(kind), name)
        return parse(obj) if obj is not None else None

    def _image(self, obj: dict[str, Any], resource: Resource) -> tuple[str | None, dict[str, str]]:
        """The image to run and the env it needs here; None while the build context is awaited."""
        plan = workloads.build_plan(resource)
        if plan is None:
            image = server_image(resource, vllm=False) if isinstance(resource, Server) else resource.spec.image
            return image, {}
        if plan.git is not None:
            set_verdict(
                obj,
                workloads.build_verdict(built=False, failed=True, message="building an image from git needs a cluster"),
            )
            raise NeedsCluster("spec.build.git builds an image: that needs a cluster (the kubernetes backend)")
        if not isinstance(resource, Model):
            raise NeedsCluster(f"spec.build.upload on a {obj['kind']} builds an image: that needs a cluster")
        assert plan.upload_md5 is not None, "a build plan without git is an upload"
        stored = (obj["status"].get("buildUpload") or {}).get("storedMD5Checksum")
        uploaded = workloads.upload_verdict(expected_md5=plan.upload_md5, stored_md5=stored)
        set_verdict(obj, uploaded)
        if not uploaded.ok:
            main = Verdict(workloads.main_condition(resource), "False", uploaded.reason, uploaded.message)
            set_verdict(obj, main)
            return None, {}
        local = build.read(self.store.upload_dir(*_key(obj)))
        set_verdict(
            obj,
            Verdict(
                workloads.BUILT,
                "True",
                workloads.SUCCEEDED,
                f"no image build here: the notebook {local.notebook.name} runs in this environment",
            ),
        )
        return local.image, {"TRAINER_NOTEBOOK": str(local.notebook)}

    # --- jobs ---------------------------------------------------------------------------------

    def _artifacts_of(self, ref: workloads.ArtifactRef) -> Path:
        return self.store.artifacts_dir(ref.namespace, plural_of(ref.kind), ref.name)

    def _update(self, key: Key, change) -> dict[str, Any] | None:
        obj = self.store.read(*key)
        if obj is None:
            return None
        before = json.dumps(obj.get("status"), sort_keys=True)
        change(obj, parse(obj))
        self._write_if_changed(obj, before)
        return obj

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
                message = f"running {chosen.name} (pid {workload.process.pid})"
                self._update(
                    key, lambda obj, r: set_verdict(obj, workloads.workload_verdict(r, Progress.RUNNING, message))
                )
                code = await workload.wait()
            self.tasks.pop(key, None)
            obj = self.store.read(*key)
            if obj is not None:
                self._finish_job(obj, code=code)
        except asyncio.CancelledError:
            if workload is not None:
                await workload.stop()
                obj = self.store.read(*key)
                if obj is not None:
                    self._finish_job(obj, interrupted=True)
            raise
        except NeedsCluster as e:
            self.tasks.pop(key, None)
            message = str(e)
            self._update(key, lambda obj, r: set_verdict(obj, workloads.invalid_verdict(obj["kind"], message)))
        finally:
            self.workloads.pop(key, None)

    def _finish_job(self, obj: dict[str, Any], code: int | None = None, interrupted: bool = False) -> None:
        key = _key(obj)
        before = json.dumps(obj.get("status"), sort_keys=True)
        resource = parse(obj)
        artifacts = self.store.artifacts_dir(*key)
        done = not interrupted and code == 0 and content.complete(artifacts)
        if interrupted and not content.complete(artifacts):
            set_verdict(obj, Verdict(workloads.COMPLETE, "False", workloads.INTERRUPTED, INTERRUPTED_MESSAGE))
        elif done or (interrupted and content.complete(artifacts)):
            set_verdict(obj, workloads.workload_verdict(resource, Progress.SUCCEEDED))
            obj["status"]["artifacts"] = {"url": artifacts.as_uri()}
            done = True
        else:
            reason = content.failure_reason(self.store.content_dir(*key)) or (
                f"the program exited with code {code} without completing its artifacts; see the logs"
            )
            set_verdict(obj, workloads.workload_verdict(resource, Progress.FAILED, reason))
        obj["status"]["ready"] = done
        self._write_if_changed(obj, before)

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
            self._update(
                key,
                lambda obj, r: set_verdict(
                    obj, workloads.workload_verdict(r, Progress.PENDING, f"starting {chosen.name} on 127.0.0.1:{port}")
                ),
            )
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

                def serving(obj, resource):
                    set_verdict(obj, workloads.workload_verdict(resource, Progress.SUCCEEDED))
                    obj["status"].update(ready=True, url=self.proxy_url(key[0], key[2], self.default_namespace))

                self._update(key, serving)
            code = await exited
            reason = content.failure_reason(folder) or f"the server exited with code {code}; see the logs"

            def failed(obj, resource):
                set_verdict(obj, workloads.workload_verdict(resource, Progress.FAILED, reason))
                obj["status"].update(ready=False, url=None)

            self._update(key, failed)
        except asyncio.CancelledError:
            if workload is not None:
                await workload.stop()
            raise
        except NeedsCluster as e:
            message = str(e)
            self._update(key, lambda obj, r: set_verdict(obj, workloads.invalid_verdict(obj["kind"], message)))
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

    def _notebook(self, key: Key, plan: Plan) -> None:
        """A kernel spec 'Substratus: <name>': its kernels run here with CONTENT_DIR (model/ and data/
        linked) and the params; suspend removes it."""
        obj = self.store.read(*key)
        if obj is None:
            raise LookupError(f"the Notebook {key[0]}/{key[2]} is gone")
        resource = parse(obj)
        if not isinstance(resource, Notebook):
            raise TypeError(f"{key[0]}/{key[1]}/{key[2]} is a {obj['kind']}, not a Notebook")
        before = json.dumps(obj.get("status"), sort_keys=True)
        if resource.spec.suspend:
            self._remove_kernel(key)
            set_verdict(obj, workloads.workload_verdict(resource, Progress.SUSPENDED))
            obj["status"].update(ready=False, url=None)
            return self._write_if_changed(obj, before)
        folder = self.store.content_dir(*key)
        content.prepare(plan, folder, self._artifacts_of)
        env = {k: v for k, v in plan.env.items() if isinstance(v, str)}
        if len(env) != len(plan.env):
            set_verdict(obj, workloads.invalid_verdict("Notebook", "secret references in env need a cluster"))
            return self._write_if_changed(obj, before)
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
        set_verdict(
            obj,
            Verdict(
                workloads.SERVING, "True", workloads.RUNNING, f"open a notebook with the kernel 'Substratus: {key[2]}'"
            ),
        )
        obj["status"].update(ready=True, url=f"{self.base_url}lab")
        self._write_if_changed(obj, before)
