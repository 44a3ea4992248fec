"""The operator's install manifests and image recipe, checked offline."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import yaml
from substratus_operator.config import DEFAULT_KANIKO_IMAGE

DEPLOY = Path(__file__).resolve().parents[2] / "operator" / "deploy"


def documents(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d]


def test_kustomization_includes_the_crds_and_every_manifest_validates():
    kustomization = documents("kustomization.yaml")[0]
    assert "../../crds" in kustomization["resources"]
    for name in kustomization["resources"]:
        if name.endswith(".yaml"):
            for doc in documents(name):
                kubernetes_validate.validate(doc, "1.37", strict=True)


def test_rbac_is_least_privilege():
    role = next(d for d in documents("rbac.yaml") if d["kind"] == "ClusterRole")
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"]
    binding = next(d for d in documents("rbac.yaml") if d["kind"] == "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "substratus-operator"  # never cluster-admin


def test_deployment_probes_kopfs_liveness_endpoint_and_reads_the_configmap():
    deployment = documents("deployment.yaml")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "SUBSTRATUS_CONFIG", "value": "substratus-system/substratus"} in container["env"]
    config = documents("config.yaml")[0]
    assert config["metadata"] == {"name": "substratus", "namespace": "substratus-system"}


def test_dockerfile_is_hadolint_clean():
    hadolint = shutil.which("hadolint") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "hadolint")
    dockerfile = DEPLOY.parent / "Dockerfile"
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kaniko_is_the_maintained_fork_pinned_alike_in_code_and_configmap():
    image = documents("config.yaml")[0]["data"]["KANIKO_IMAGE"]
    assert image == DEFAULT_KANIKO_IMAGE
    repository, _, version = image.partition(":")
    assert repository == "ghcr.io/osscontainertools/kaniko"
    assert version.startswith("v") and version != "latest"


def test_the_image_copies_every_part_of_jupyter_substratus_the_operator_imports():
    package = DEPLOY.parent / "substratus_operator"
    imported = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            imported |= {n.split(".")[1] for n in names if n.startswith("jupyter_substratus.")}
    copied = set(re.findall(r"^COPY jupyter_substratus/(\w+)", (DEPLOY.parent / "Dockerfile").read_text(), re.M))
    assert imported and imported <= copied
