"""Plans (jupyter_substratus.api.workloads) as Kubernetes objects: Jobs, kaniko build Jobs,
Deployments, Services, Pods, Secrets and PVCs. Pure functions: nothing here talks to the API
server.

A pod's /content/params.json is its own annotation `substratus.ai/params`, projected by a
downwardAPI volume: no ConfigMap per resource, and new params are a new pod template (a Server
rolls, a Notebook restarts), where a ConfigMap mounted by subPath would never be seen again."""

import base64
from typing import Any
from urllib.parse import urlparse

from jupyter_substratus.api.workloads import (
    ARTIFACTS_DIR,
    CONTENT_DIR,
    NOTEBOOK_TOKEN_ENV,
    PARAMS_FILE,
    ArtifactRef,
    BuildPlan,
    Plan,
    SecretRef,
)

from . import names
from .config import Config

# GKE's accelerator label values for the API's GPU types.
GKE_ACCELERATORS = {
    "nvidia-t4": "nvidia-tesla-t4",
    "nvidia-l4": "nvidia-l4",
    "nvidia-a100": "nvidia-tesla-a100",
    "nvidia-h100": "nvidia-h100-80gb",
}
GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
TERMINATION = {"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "FallbackToLogsOnError"}


def metadata(name: str, namespace: str, owner: dict, role: str, extra_labels: dict | None = None) -> dict:
    return {
        "name": name,
        "namespace": namespace,
        "labels": {**names.labels(owner["kind"], owner["metadata"]["name"], role), **(extra_labels or {})},
        "ownerReferences": [names.owner_reference(owner)],
    }


def artifact_url(config: Config, artifact: ArtifactRef) -> str:
    if config.gke:
        return f"{config.artifacts_bucket_url.rstrip('/')}/{artifact.path(config.cluster_name)}"
    return f"pvc://{artifact.namespace}/{names.ARTIFACTS_PVC}/{artifact.path(config.cluster_name)}"


def upload_key(config: Config, artifact: ArtifactRef, md5: str) -> str:
    return f"{artifact.path(config.cluster_name)}/uploads/{md5}.tar.gz"


# --- pods ---------------------------------------------------------------------------------


def _env(plan: Plan) -> list[dict]:
    result: list[dict[str, Any]] = [{"name": "CONTENT_DIR", "value": CONTENT_DIR}]
    for key, value in plan.env.items():
        if isinstance(value, SecretRef):
            result.append({"name": key, "valueFrom": {"secretKeyRef": {"name": value.name, "key": value.key}}})
        else:
            result.append({"name": key, "value": value})
    return result


def _resources(plan: Plan) -> dict:
    sizing = plan.sizing
    requests = {"cpu": f"{sizing.cpu:g}", "memory": f"{sizing.memory_gb}Gi", "ephemeral-storage": f"{sizing.disk_gb}Gi"}
    limits = {"memory": f"{sizing.memory_gb}Gi"}
    if sizing.gpu_count:
        limits["nvidia.com/gpu"] = str(sizing.gpu_count)
    return {"requests": requests, "limits": limits}


def _scheduling(config: Config, plan: Plan) -> dict:
    if not (config.gke and plan.sizing.gpu_count and plan.sizing.gpu_type):
        return {}  # no GPU type asked: any GPU node will do, the nvidia.com/gpu limit picks one
    return {
        "nodeSelector": {"cloud.google.com/gke-accelerator": GKE_ACCELERATORS[plan.sizing.gpu_type]},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }


def _artifact_volume(config: Config, name: str, artifact: ArtifactRef, read_only: bool) -> tuple[dict, dict]:
    """The volume and the mount's extra fields that put one artifact directory into a pod."""
    if config.gke:
        bucket = urlparse(config.artifacts_bucket_url)
        only_dir = "/".join(p for p in (bucket.path.strip("/"), artifact.path(config.cluster_name)) if p)
        volume = {
            "name": name,
            "csi": {
                "driver": GCSFUSE_DRIVER,
                "readOnly": read_only,
                "volumeAttributes": {"bucketName": bucket.netloc, "mountOptions": f"implicit-dirs,only-dir={only_dir}"},
            },
        }
        return volume, {}
    volume = {"name": name, "persistentVolumeClaim": {"claimName": names.ARTIFACTS_PVC}}
    return volume, {"subPath": artifact.path(config.cluster_name)}


def pod_spec(
    config: Config,
    plan: Plan,
    *,
    restart: str,
    workspace_claim: str | None = None,
    token_secret: str | None = None,
) -> dict:
    params = {"path": "params.json", "fieldRef": {"fieldPath": f"metadata.annotations['{names.PARAMS}']"}}
    volumes = [{"name": "params", "downwardAPI": {"items": [params]}}]
    mounts = [{"name": "params", "mountPath": PARAMS_FILE, "subPath": "params.json", "readOnly": True}]
    if workspace_claim:
        volumes.append({"name": "workspace", "persistentVolumeClaim": {"claimName": workspace_claim}})
        mounts.append({"name": "workspace", "mountPath": CONTENT_DIR})
    seen = {}
    for index, mount in enumerate(plan.mounts):
        volume_name = {"/content/model": "model", "/content/data": "data", ARTIFACTS_DIR: "artifacts"}.get(
            mount.path, f"artifact-{index}"
        )
        volume, extra = _artifact_volume(config, volume_name, mount.artifact, mount.read_only)
        if config.gke:
            volumes.append(volume)
        else:  # one PVC per namespace, each mount a subPath of it
            if "artifacts-pvc" not in seen:
                seen["artifacts-pvc"] = True
                volumes.append({**volume, "name": "artifacts-pvc"})
            volume_name = "artifacts-pvc"
        mounts.append({"name": volume_name, "mountPath": mount.path, "readOnly": mount.read_only, **extra})
    env = _env(plan)
    if token_secret:
        env.append({"name": NOTEBOOK_TOKEN_ENV, "valueFrom": {"secretKeyRef": {"name": token_secret, "key": "token"}}})
    container: dict[str, Any] = {
        "name": plan.role.value,
        "image": plan.image,
        "env": env,
        "volumeMounts": mounts,
        "resources": _resources(plan),
        "workingDir": CONTENT_DIR,
        **TERMINATION,
    }
    if plan.command:
        container["command"] = list(plan.command)
    if plan.port:
        container["ports"] = [{"name": "http", "containerPort": plan.port}]
        container["readinessProbe"] = {"httpGet": {"path": plan.readiness_path, "port": plan.port}, "periodSeconds": 5}
    spec = {"restartPolicy": restart, "containers": [container], "volumes": volumes, **_scheduling(config, plan)}
    if config.workload_service_account:
        spec["serviceAccountName"] = config.workload_service_account
    return spec


def _pod_template_metadata(config: Config, labels: dict, plan: Plan) -> dict:
    annotations = {names.PARAMS: plan.params_json}
    if config.gke:
        annotations["gke-gcsfuse/volumes"] = "true"
    return {"labels": labels, "annotations": annotations}


# --- children -----------------------------------------------------------------------------


def job(config: Config, name: str, owner: dict, plan: Plan) -> dict:
    namespace = owner["metadata"]["namespace"]
    meta = metadata(name, namespace, owner, plan.role.value)
    template = {
        "metadata": _pod_template_metadata(config, dict(meta["labels"]), plan),
        "spec": pod_spec(config, plan, restart="Never"),
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"backoffLimit": 0, "template": template},
    }


def deployment(config: Config, name: str, owner: dict, plan: Plan) -> dict:
    namespace = owner["metadata"]["namespace"]
    meta = metadata(name, namespace, owner, plan.role.value)
    selector = {
        names.OWNER_KIND: owner["kind"],
        names.OWNER_NAME: owner["metadata"]["name"],
        names.ROLE: plan.role.value,
    }
    template = {
        "metadata": _pod_template_metadata(config, dict(meta["labels"]), plan),
        "spec": pod_spec(config, plan, restart="Always"),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"replicas": 1, "selector": {"matchLabels": selector}, "template": template},
    }


def service(name: str, owner: dict, role: str, port: int) -> dict:
    namespace = owner["metadata"]["namespace"]
    selector = {names.OWNER_KIND: owner["kind"], names.OWNER_NAME: owner["metadata"]["name"], names.ROLE: role}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(name, namespace, owner, role),
        "spec": {"selector": selector, "ports": [{"name": "http", "port": port, "targetPort": port}]},
    }


def notebook_pod(config: Config, name: str, owner: dict, plan: Plan, claim: str, secret: str) -> dict:
    namespace = owner["metadata"]["namespace"]
    meta = metadata(name, namespace, owner, plan.role.value)
    meta.update(_pod_template_metadata(config, meta["labels"], plan))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": pod_spec(config, plan, restart="Always", workspace_claim=claim, token_secret=secret),
    }


def token_secret(name: str, owner: dict, token: str) -> dict:
    namespace = owner["metadata"]["namespace"]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, owner, "notebook"),
        "type": "Opaque",
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }


def workspace_claim(name: str, owner: dict, disk_gb: int) -> dict:
    namespace = owner["metadata"]["namespace"]
    meta = metadata(name, namespace, owner, "notebook")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta,
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": f"{disk_gb}Gi"}}},
    }


def artifacts_claim(config: Config, namespace: str) -> dict:
    spec = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": config.artifacts_pvc_size}}}
    if config.artifacts_pvc_storage_class:
        spec["storageClassName"] = config.artifacts_pvc_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": names.ARTIFACTS_PVC, "namespace": namespace, "labels": {names.MANAGED_BY: names.OPERATOR}},
        "spec": spec,
    }


def _git_context(url: str, branch: str | None, tag: str | None) -> str:
    parsed = urlparse(url)
    location = f"{parsed.netloc}{parsed.path}" if parsed.scheme in ("https", "http", "git") else url
    ref = f"#refs/tags/{tag}" if tag else (f"#refs/heads/{branch}" if branch else "")
    return f"git://{location}{ref}"


def build_job(config: Config, owner: dict, build: BuildPlan, image: str, upload_url: str | None) -> dict:
    namespace = owner["metadata"]["namespace"]
    name = names.build_job_name(build.tag)
    meta = metadata(name, namespace, owner, "build", {names.BUILD_TAG: build.tag})
    meta["ownerReferences"][0]["controller"] = False  # shared by every resource with this content
    args = [f"--destination={image}", "--cache=true"]
    if build.git is not None:
        args.append(f"--context={_git_context(build.git.url, build.git.branch, build.git.tag)}")
        if build.git.path:
            args.append(f"--context-sub-path={build.git.path}")
    else:
        args.append(f"--context={upload_url}")
    container = {
        "name": "kaniko",
        "image": config.kaniko_image,
        "args": args,
        "resources": {"requests": {"cpu": "1", "memory": "4Gi"}},
        **TERMINATION,
    }
    spec = {"restartPolicy": "Never", "containers": [container]}
    if config.workload_service_account:
        spec["serviceAccountName"] = config.workload_service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": dict(meta["labels"])}, "spec": spec}},
    }
