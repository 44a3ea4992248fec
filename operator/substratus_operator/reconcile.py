"""One level-triggered reconcile of one resource: read what exists, make what is missing, report.

Idempotent, so the work queue may run it for a resource's own events, its children's and its
dependencies', any number of times and after any restart. A coroutine on kopf's loop: the API
calls are asynchronous (kube.py), the object store's in a thread.
"""

import asyncio
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jupyter_substratus.api import (
    BUILT,
    UPLOADED,
    Dataset,
    Model,
    Notebook,
    Resource,
    ResourceValidationError,
    Server,
    parse,
    server_image,
)
from jupyter_substratus.api import workloads as w

from . import names, translate
from .config import Config
from .kube import Kube, left_over
from .storage import ObjectStore
from .workqueue import Cache

UPLOAD_URL_LIFETIME = timedelta(hours=1)


class InvalidSpec(Exception):
    pass


@dataclass
class Outcome:
    ready: bool = False
    awaiting_upload: bool = False


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reconciler:
    def __init__(self, kube: Kube, config: Config, uploads: ObjectStore | None, cache: Cache):
        self.kube = kube
        self.config = config
        self.uploads = uploads
        # The operator's watch cache: child Jobs are read from it, our writes are told to it.
        self.cache = cache

    # --- entry point ----------------------------------------------------------------------

    async def reconcile(self, body: dict) -> Outcome:
        meta = body["metadata"]
        namespace = meta["namespace"]
        manifest = {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body}
        manifest["metadata"] = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
        manifest["status"] = body.get("status") or {}
        try:
            resource = parse(manifest)
        except ResourceValidationError as error:
            await self._report(body, [w.invalid_verdict(body["kind"], str(error))])
            raise InvalidSpec(str(error)) from None

        # The image first: an upload or a build need not wait for the dependencies.
        verdicts: list[w.Verdict] = []
        extra: dict[str, Any] = {}
        image = resource.spec.image
        build = w.build_plan(resource)
        if build is not None:
            image = build.image(f"{self.config.registry}/{namespace}")
            done, outcome = await self._build(body, resource, build, image, verdicts, extra)
            if not done:
                await self._report(body, verdicts, extra=extra)
                return outcome
        elif isinstance(resource, Server):
            image = server_image(resource)

        found, failed = await self._dependencies(resource, namespace)
        waiting = failed or w.dependency_verdict(resource, found)
        if waiting is not None:
            await self._report(body, [*verdicts, waiting], image=image, extra=extra)
            return Outcome()

        if image is None:  # parse() holds an image or a build, or a Server's default
            raise InvalidSpec(f"{body['kind']} has neither an image nor a build")
        plan = w.plan(resource, w.Inputs(namespace, image, found))
        verdict, extra2 = await self._run(body, resource, plan)
        verdicts.append(verdict)
        ready = verdict.ok
        await self._report(body, verdicts, ready=ready, image=image, extra={**extra, **extra2})
        return Outcome(ready=ready)

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
                return found, w.Verdict(
                    w.main_condition(resource), "False", w.DEPENDENCY_FAILED, f"{kind} {name} has an invalid spec"
                )
        return found, None

    # --- image builds ---------------------------------------------------------------------

    async def _build(self, body, resource, build: w.BuildPlan, image: str, verdicts: list, extra: dict):
        """(built?, outcome when not): the upload handshake, then one kaniko Job per content."""
        namespace = body["metadata"]["namespace"]
        condition = w.main_condition(resource)
        context_url = None
        if build.upload_md5 is not None:
            uploaded = await self._upload(body, resource, build.upload_md5, extra)
            verdicts.append(uploaded)
            if not uploaded.ok:
                reason = uploaded.reason if uploaded.failed else w.AWAITING_UPLOAD
                verdicts.append(w.Verdict(condition, "False", reason, uploaded.message))
                return False, Outcome(awaiting_upload=not uploaded.failed)
            if self.uploads is None:
                raise RuntimeError("an upload was verified without an upload bucket")
            artifact = w.ArtifactRef(resource.kind, namespace, resource.name)
            context_url = self.uploads.url(translate.upload_key(self.config, artifact, build.upload_md5))

        job = await self.kube.get_or_create(translate.build_job(self.config, body, build, image, context_url))
        progress, message = await self._job_progress(job)
        built = w.build_verdict(
            built=progress is w.Progress.SUCCEEDED, failed=progress is w.Progress.FAILED, message=message
        )
        verdicts.append(built)
        if built.ok:
            return True, None
        reason = w.BUILD_FAILED if built.failed else w.BUILDING
        verdicts.append(w.Verdict(condition, "False", reason, built.message))
        return False, Outcome()

    async def _upload(self, body, resource: Resource, md5: str, extra: dict) -> w.Verdict:
        if self.uploads is None:
            return w.Verdict(
                UPLOADED,
                "False",
                w.UPLOAD_UNSUPPORTED,
                "this cluster has no upload bucket: set UPLOAD_URL in the operator's ConfigMap",
            )
        source = resource.spec.build.upload if resource.spec.build is not None else None
        if source is None:
            raise RuntimeError(f"{body['kind']} {resource.name} does not build from an upload")
        request_id = source.request_id
        current = (body.get("status") or {}).get("buildUpload") or {}
        if current.get("requestID") == request_id and current.get("storedMD5Checksum") == md5:
            extra["buildUpload"] = current
            return w.upload_verdict(expected_md5=md5, stored_md5=md5)
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
        return w.upload_verdict(expected_md5=md5, stored_md5=stored)

    # --- workloads ------------------------------------------------------------------------

    async def _run(self, body, resource: Resource, plan: w.Plan) -> tuple[w.Verdict, dict]:
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
            progress, message = await self._job_progress(job)
            return w.workload_verdict(resource, progress, message), {
                "artifacts": {"url": translate.artifact_url(self.config, artifact)}
            }
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
            return w.workload_verdict(resource, w.Progress.SUCCEEDED), url
        selector = deployment["spec"]["selector"]["matchLabels"]
        troubles = filter(None, map(_pod_trouble, await self.kube.list("Pod", namespace, selector)))
        return w.workload_verdict(resource, *next(troubles, (w.Progress.PENDING, ""))), url

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
            return w.workload_verdict(resource, w.Progress.SUSPENDED), {"url": None}
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
            return w.workload_verdict(resource, w.Progress.PENDING, "restarting with the new spec"), url
        if pod is None:
            pod = await self.kube.ensure(wanted)
        return w.workload_verdict(resource, *self._pod_progress(pod)), url

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

    async def _job_progress(self, job: dict) -> tuple[w.Progress, str]:
        conditions = {c["type"]: c for c in (job.get("status") or {}).get("conditions", []) if c["status"] == "True"}
        if "Complete" in conditions:
            return w.Progress.SUCCEEDED, ""
        if "Failed" in conditions:
            meta = job["metadata"]
            pods = await self.kube.list("Pod", meta["namespace"], {"job-name": meta["name"]})
            message = next(filter(None, map(_termination_message, pods)), "") or conditions["Failed"].get("message", "")
            return w.Progress.FAILED, f"Job {meta['name']} failed: {message}"
        return w.Progress.RUNNING, ""

    @staticmethod
    def _pod_progress(pod: dict) -> tuple[w.Progress, str]:
        status = pod.get("status") or {}
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
        return (w.Progress.SUCCEEDED, "") if ready else (_pod_trouble(pod) or (w.Progress.PENDING, ""))

    # --- status ---------------------------------------------------------------------------

    async def _report(
        self,
        body,
        verdicts: list[w.Verdict],
        *,
        ready: bool = False,
        image: str | None = None,
        extra: dict | None = None,
    ) -> None:
        old = body.get("status") or {}
        previous = {c["type"]: c for c in old.get("conditions", [])}
        generation = body["metadata"].get("generation")
        conditions = dict(previous)
        for verdict in verdicts:
            before = previous.get(verdict.type, {})
            changed = before.get("status") != verdict.status
            conditions[verdict.type] = {
                "type": verdict.type,
                "status": verdict.status,
                "reason": verdict.reason,
                "message": verdict.message[:32768],
                "lastTransitionTime": now() if changed else before.get("lastTransitionTime", now()),
                **({"observedGeneration": generation} if generation else {}),
            }
        if not any(v.type == BUILT for v in verdicts) and BUILT in conditions and body["spec"].get("image"):
            del conditions[BUILT]
        status = {"ready": ready, "conditions": list(conditions.values())}
        if image:
            status["image"] = image
        status.update(extra or {})
        comparable = {k: old.get(k) for k in status}
        if _without_times(comparable) == _without_times(status):
            return
        meta = body["metadata"]
        patched = await self.kube.patch(body["kind"], meta["namespace"], meta["name"], {"status": status}, "status")
        self.cache.wrote(patched)


# Waiting reasons of a container that will not get better by itself (the kubelet keeps trying,
# but the user has to change something): the Server or Notebook says so instead of "starting".
CRASHING = "CrashLoopBackOff"
CANNOT_PULL = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName")


def _served_port(plan: w.Plan) -> int:
    if plan.port is None:
        raise RuntimeError(f"the {plan.role.value} plan has no port to serve on")
    return plan.port


def _pod_trouble(pod: dict) -> tuple[w.Progress, str] | None:
    """Why a pod does not come up, when it says: failed, crash-looping, no image, no node."""
    status, name = pod.get("status") or {}, pod["metadata"]["name"]
    if status.get("phase") == "Failed":
        return w.Progress.FAILED, f"Pod {name} failed: {_termination_message(pod)}"
    for container in status.get("containerStatuses", []):
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") == CRASHING:
            last = _termination_message(pod) or waiting.get("message", "")
            return w.Progress.FAILED, f"Pod {name} keeps crashing ({container.get('restartCount', 0)} restarts): {last}"
        if waiting.get("reason") in CANNOT_PULL:
            return w.Progress.FAILED, f"Pod {name} cannot pull {container.get('image')}: {waiting.get('message', '')}"
    for condition in status.get("conditions", []):
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "Unschedulable":
            return w.Progress.PENDING, f"Pod {name} waits for a node: {condition.get('message', '')}"
    return None


def _termination_message(pod: dict) -> str:
    for container in (pod.get("status") or {}).get("containerStatuses", []):
        for state in (container.get("state") or {}, container.get("lastState") or {}):
            message = (state.get("terminated") or {}).get("message")
            if message:
                return message.strip()
    return ""


def _without_times(status: dict) -> dict:
    conditions = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": conditions}
