"""One level-triggered reconcile of one resource: read what exists, make what is missing, report.

Idempotent, so the work queue may run it for a resource's own events, its children's and its
dependencies', any number of times and after any restart. A coroutine on kopf's loop: the API
calls are asynchronous (kube.py), the object store's in a thread.
"""

import asyncio
import base64
import json
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from kubernetes.client import ApiException

from jupyter_substratus.api import (
    Dataset,
    Model,
    Notebook,
    Resource,
    ResourceValidationError,
    Server,
    parse,
)
from jupyter_substratus.api import workloads as w
from jupyter_substratus.reconcile import Action, Observed, Progress, Seen, decide, idle, same_but_times

from . import names, translate
from .config import Config
from .kube import Kube, left_over, merge_patch
from .storage import ObjectStore
from .workqueue import Cache

UPLOAD_URL_LIFETIME = timedelta(hours=1)
ACTIVITY_TIMEOUT = 5.0  # seconds for a Notebook's Jupyter server to say how idle it is


class InvalidSpec(Exception):
    pass


@dataclass
class Outcome:
    ready: bool = False
    awaiting_upload: bool = False
    recheck_after: timedelta | None = None


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


TRAINER_LOG_LINES = 20  # the trainer's log tail read for its progress, while its Job runs


class Reconciler:
    """The operator's adapter of the reconcile flow: it observes a resource's children in the
    cluster, acts as the flow decides, and writes the status the flow made."""

    def __init__(self, kube: Kube, config: Config, uploads: ObjectStore | None, cache: Cache):
        self.kube = kube
        self.config = config
        self.uploads = uploads
        # The operator's watch cache: child Jobs are read from it, our writes are told to it.
        self.cache = cache

    # --- entry point ----------------------------------------------------------------------

    async def reconcile(self, body: dict) -> Outcome:
        meta = body["metadata"]
        manifest = {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body}
        manifest["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
        manifest["status"] = body.get("status") or {}
        blank = Observed(body["kind"], meta.get("generation"), body.get("status") or {}, namespace=meta["namespace"])
        try:
            resource = parse(manifest)
        except ResourceValidationError as error:
            await self._report(body, decide(replace(blank, invalid=str(error))).status)
            raise InvalidSpec(str(error)) from None

        seen, context_url = await self._observe(body, resource, replace(blank, resource=resource))
        decision = decide(seen, self.config.stalled_after)
        if decision.action is Action.BUILD and decision.build is not None:
            job = await self.kube.get_or_create(
                translate.build_job(self.config, body, decision.build, seen.built_image or "", context_url)
            )
            decision = decide(replace(seen, build=await self._job_progress(job)), self.config.stalled_after)
        elif decision.action is Action.RUN and decision.plan is not None:
            workload, extra = await self._run(body, resource, decision.plan)
            seen = seen.seeing(workload, **extra)
            watched = isinstance(resource, Notebook) and resource.spec.idle_limit is not None
            if watched and workload.progress is Progress.SUCCEEDED:
                activity, unread = await self._notebook_activity(body, _served_port(decision.plan))
                seen = replace(seen, activity=activity, activity_unread=unread)
            decision = decide(seen, self.config.stalled_after)
            if decision.action is Action.SUSPEND:
                await self.kube.patch(body["kind"], meta["namespace"], meta["name"], {"spec": {"suspend": True}})
        elif decision.action is Action.STOP:
            await self.kube.delete("Job", meta["namespace"], names.child_name(meta["name"], w.role(resource).value))
        await self._report(body, decision.status)
        return Outcome(decision.ready, decision.awaiting_upload, decision.recheck_after)

    async def _observe(self, body: dict, resource: Resource, seen: Observed) -> tuple[Observed, str | None]:
        """The upload and the image build, the dependencies, the Job and its trainer's progress;
        and where an uploaded build context is, for the build Job."""
        namespace = seen.namespace
        extra: dict[str, Any] = {}
        context_url = None
        build = w.build_plan(resource)
        if build is not None:
            image = build.image(f"{self.config.registry}/{namespace}")
            seen = replace(seen, built_image=image, uploads=self.uploads is not None)
            if build.upload_md5 is not None and self.uploads is not None:
                stored = await self._upload(body, resource, build.upload_md5, extra)
                seen = replace(seen, stored_md5=stored)
                if stored != build.upload_md5:
                    return replace(seen, extra=extra), None
                artifact = w.ArtifactRef(resource.kind, namespace, resource.name)
                context_url = self.uploads.url(translate.upload_key(self.config, artifact, build.upload_md5))
            if build.upload_md5 is None or self.uploads is not None:
                job = await self.kube.get("Job", namespace, names.build_job_name(build.tag))
                if job is not None:
                    seen = replace(seen, build=await self._job_progress(job))
        found, invalid = await self._dependencies(resource, namespace)
        seen = replace(seen, found=found, invalid_dependency=invalid, extra=extra)
        if isinstance(resource, (Model, Dataset)):
            job = self.cache.get("Job", namespace, names.child_name(resource.name, w.role(resource).value))
            if job is not None and not left_over(job, {"metadata": {"ownerReferences": [names.owner_reference(body)]}}):
                workload = await self._job_progress(job)
                lines = await self._trainer_lines(job) if w.role(resource) is w.Role.TRAINER else ()
                seen = replace(seen, workload=workload, trainer_lines=lines)
        return seen, context_url

    # --- dependencies ---------------------------------------------------------------------

    async def _dependencies(self, resource: Resource, namespace: str):
        found: dict[tuple[str, str], Resource | None] = {}
        for kind, name in w.dependencies(resource):
            body = await self.kube.get(kind, namespace, name)
            if body is None:
                found[(kind, name)] = None
                continue
            try:
                found[(kind, name)] = parse(body)
            except ResourceValidationError:
                return found, (kind, name)
        return found, None

    # --- image builds ---------------------------------------------------------------------

    async def _upload(self, body, resource: Resource, md5: str, extra: dict) -> str | None:
        """The stored context's MD5, if any; status.buildUpload (a fresh signed URL) in `extra`."""
        source = resource.spec.build.upload if resource.spec.build is not None else None
        if source is None or self.uploads is None:
            raise RuntimeError(f"{body['kind']} {resource.name} does not build from an upload")
        request_id = source.request_id
        current = (body.get("status") or {}).get("buildUpload") or {}
        if current.get("requestID") == request_id and current.get("storedMD5Checksum") == md5:
            extra["buildUpload"] = current
            return md5
        artifact = w.ArtifactRef(body["kind"], body["metadata"]["namespace"], resource.name)
        key = translate.upload_key(self.config, artifact, md5)
        stored = await asyncio.to_thread(self.uploads.md5, key)
        fresh = current.get("requestID") == request_id and current.get("expiration", "") > now()
        upload = (
            dict(current)
            if fresh
            else {
                "requestID": request_id,
                "signedURL": await asyncio.to_thread(self.uploads.signed_put_url, key, UPLOAD_URL_LIFETIME),
                "expiration": (datetime.now(UTC) + UPLOAD_URL_LIFETIME).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        if stored is not None:
            upload["storedMD5Checksum"] = stored
        extra["buildUpload"] = upload
        return stored

    # --- workloads ------------------------------------------------------------------------

    async def _run(self, body, resource: Resource, plan: w.Plan) -> tuple[Seen, dict]:
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        if not self.config.gke and plan.mounts:
            await self.kube.get_or_create(translate.artifacts_claim(self.config, namespace))
        if isinstance(resource, (Model, Dataset)):
            artifact = w.ArtifactRef(resource.kind, namespace, name)
            job_name = names.child_name(name, plan.role.value)
            wanted = translate.job(self.config, job_name, body, plan)
            job = self.cache.get("Job", namespace, job_name)
            if job is None or left_over(job, wanted):
                # No GET first: a create answered 409 finds the one there (kube.ensure).
                job = await self.kube.ensure(wanted)
                self.cache.wrote(job)
            return await self._job_progress(job), {"artifacts": {"url": translate.artifact_url(self.config, artifact)}}
        if isinstance(resource, Server):
            return await self._server(body, resource, plan)
        if isinstance(resource, Notebook):
            return await self._notebook(body, resource, plan)
        raise TypeError(f"no workload for kind {body['kind']}")

    async def _server(self, body, resource: Server, plan: w.Plan):
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        child = names.child_name(name, "server")
        port = _served_port(plan)
        await self.kube.get_or_create(translate.service(child, body, plan.role.value, port))
        deployment = await self._ensure_current(translate.deployment(self.config, child, body, plan), "spec")
        status = deployment.get("status") or {}
        rolled = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 1)
        serving = rolled and status.get("readyReplicas", 0) >= 1 and status.get("updatedReplicas", 0) >= 1
        url = {"url": self._url(child, namespace, port)}
        if serving:
            return Seen(Progress.SUCCEEDED), url
        selector = deployment["spec"]["selector"]["matchLabels"]
        troubles = filter(None, map(_pod_trouble, await self.kube.list("Pod", namespace, selector)))
        return next(troubles, Seen(Progress.PENDING)), url

    async def _notebook(self, body, resource: Notebook, plan: w.Plan):
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        child = names.child_name(name, "notebook")
        secret = names.child_name(name, "notebook-token")
        if await self.kube.get("Secret", namespace, secret) is None:
            await self.kube.ensure(translate.token_secret(secret, body, secrets.token_urlsafe(24)))
        await self.kube.get_or_create(translate.workspace_claim(child, body, plan.sizing.disk_gb))
        port = _served_port(plan)
        await self.kube.get_or_create(translate.service(child, body, plan.role.value, port))
        url = {"url": self._url(child, namespace, port)}
        pod = await self.kube.get("Pod", namespace, child)
        if resource.spec.suspend:
            if pod is not None:
                await self.kube.delete("Pod", namespace, child)
            return Seen(Progress.SUSPENDED), {"url": None}
        wanted = translate.notebook_pod(self.config, child, body, plan, child, secret)
        annotations = wanted["metadata"]["annotations"]
        annotations[names.SPEC_HASH] = names.spec_hash({"spec": wanted["spec"], "annotations": annotations})
        if (
            pod is not None
            and pod["metadata"].get("annotations", {}).get(names.SPEC_HASH)
            != wanted["metadata"]["annotations"][names.SPEC_HASH]
        ):
            # A pod's spec is immutable: replace it; its deletion event brings us back to create.
            if not pod["metadata"].get("deletionTimestamp"):
                await self.kube.delete("Pod", namespace, child)
            return Seen(Progress.PENDING, "restarting with the new spec"), url
        if pod is None:
            pod = await self.kube.ensure(wanted)
        return self._pod_progress(pod), url

    async def _ensure_current(self, wanted: dict, field: str) -> dict:
        """Create-or-adopt, then bring `field` up to date when the resource's spec moved on."""
        digest = names.spec_hash(wanted[field])
        wanted["metadata"].setdefault("annotations", {})[names.SPEC_HASH] = digest
        meta = wanted["metadata"]
        existing = await self.kube.get_or_create(wanted)
        if existing["metadata"].get("annotations", {}).get(names.SPEC_HASH) == digest:
            return existing
        await self.kube.patch(
            wanted["kind"], meta["namespace"], meta["name"], {"metadata": {"annotations": {names.SPEC_HASH: digest}}}
        )
        return await self.kube.replace_field(wanted["kind"], meta["namespace"], meta["name"], field, wanted[field])

    @staticmethod
    def _url(service: str, namespace: str, port: int) -> str:
        return f"http://{service}.{namespace}.svc.cluster.local:{port}"

    # --- reading children -----------------------------------------------------------------

    async def _job_progress(self, job: dict) -> Seen:
        conditions = {c["type"]: c for c in (job.get("status") or {}).get("conditions", []) if c["status"] == "True"}
        if "Complete" in conditions:
            return Seen(Progress.SUCCEEDED)
        if "Failed" in conditions:
            meta = job["metadata"]
            pods = await self.kube.list("Pod", meta["namespace"], {"job-name": meta["name"]})
            # What the program said (its termination message), as the local backend reports it.
            said = next(filter(None, map(_termination_message, pods)), "")
            return Seen(
                Progress.FAILED, said or f"Job {meta['name']} failed: {conditions['Failed'].get('message', '')}"
            )
        return Seen(Progress.RUNNING)

    async def _trainer_lines(self, job: dict) -> tuple[str, ...]:
        """The tail of the running trainer's log: its progress lines (none once the Job ended)."""
        if any(c.get("status") == "True" for c in (job.get("status") or {}).get("conditions", [])):
            return ()
        meta = job["metadata"]
        pods = await self.kube.list("Pod", meta["namespace"], {"job-name": meta["name"]})
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
        if not running:
            return ()
        newest = max(running, key=lambda p: p["metadata"].get("creationTimestamp", ""))
        return tuple(
            (await self.kube.log(meta["namespace"], newest["metadata"]["name"], TRAINER_LOG_LINES)).splitlines()
        )

    async def _notebook_activity(self, body: dict, port: int) -> tuple[idle.Activity | None, str]:
        """What the Notebook's Jupyter server says of its activity, asked through the API
        server's service proxy with the token of the Secret the operator made (the API server
        keeps an Authorization header for itself); else None and why."""
        namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
        secret = await self.kube.get("Secret", namespace, names.child_name(name, "notebook-token"))
        token = ((secret or {}).get("data") or {}).get("token")
        if not token:
            return None, "its token Secret has no token"
        service, query = names.child_name(name, "notebook"), {"token": base64.b64decode(token).decode()}
        try:
            async with asyncio.timeout(ACTIVITY_TIMEOUT):
                status = await self.kube.proxy_get(namespace, service, port, idle.STATUS_PATH, query)
                kernels = await self.kube.proxy_get(
                    namespace, service, port, idle.KERNELS_PATH, {**query, **idle.KERNELS_QUERY}
                )
        except ApiException as e:
            return None, _api_message(e)
        except TimeoutError:
            return None, f"its Jupyter server did not answer in {ACTIVITY_TIMEOUT:g} s"
        except (aiohttp.ClientError, ValueError) as e:
            return None, str(e) or type(e).__name__
        activity = idle.activity_of(status, kernels)
        if activity is None:
            return None, f"its answers to {idle.STATUS_PATH} and {idle.KERNELS_PATH} are not a Jupyter server's"
        return activity, ""

    @staticmethod
    def _pod_progress(pod: dict) -> Seen:
        status = pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return Seen(Progress.SUCCEEDED) if ready else (_pod_trouble(pod) or Seen(Progress.PENDING))

    # --- status ---------------------------------------------------------------------------

    async def _report(self, body, status: dict) -> None:
        if same_but_times(body.get("status") or {}, status):
            return
        meta = body["metadata"]
        # A merge patch keeps what it does not name: a field the flow dropped is sent as null.
        patch = {"status": merge_patch(body.get("status") or {}, status)}
        patched = await self.kube.patch(body["kind"], meta["namespace"], meta["name"], patch, "status")
        self.cache.wrote(patched)


# Waiting reasons of a container that will not get better by itself (the kubelet keeps trying,
# but the user has to change something): the Server or Notebook says so instead of "starting".
CRASHING = "CrashLoopBackOff"
CANNOT_PULL = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")


def _served_port(plan: w.Plan) -> int:
    if plan.port is None:
        raise RuntimeError(f"the {plan.role.value} plan has no port to serve on")
    return plan.port


def _pod_trouble(pod: dict) -> Seen | None:
    """Why a pod does not come up, when it says: failed, crash-looping, no image, no node."""
    status, name = pod.get("status") or {}, pod["metadata"]["name"]
    if status.get("phase") == "Failed":
        return Seen(Progress.FAILED, f"Pod {name} failed: {_termination_message(pod)}")
    for container in status.get("containerStatuses", []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == CRASHING:
            last = _termination_message(pod) or waiting.get("message", "")
            restarts = container.get("restartCount", 0)
            return Seen(Progress.FAILED, f"Pod {name} keeps crashing ({restarts} restarts): {last}")
        if waiting.get("reason") in CANNOT_PULL:
            return Seen(
                Progress.FAILED, f"Pod {name} cannot pull {container.get('image')}: {waiting.get('message', '')}"
            )
    for condition in status.get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return Seen(Progress.PENDING, f"Pod {name} waits for a node: {condition.get('message', '')}")
    return None


def _api_message(error: ApiException) -> str:
    """The API server's own message (a Status object's), else the HTTP status and reason."""
    try:
        message = json.loads(error.body or "{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return message or f"{error.status} {error.reason}"


def _termination_message(pod: dict) -> str:
    for container in (pod.get("status") or {}).get("containerStatuses", []):
        for state in (container.get("state") or {}, container.get("lastState") or {}):
            message = (state.get("terminated") or {}).get("message")
            if message:
                return message.strip()
    return ""
