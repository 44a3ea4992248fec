"""Image builds under the real operator: kaniko Jobs from git and from an upload through the
signed-URL handshake (a real PUT to fake-gcs-server), content tags, skipped rebuilds, failures."""

import hashlib
import io
import tarfile

import pytest
import requests

from tests.operator.conftest import GKE_CONFIG, running_operator, wait_for
from tests.operator.test_models import condition, manifest, ready, reason, validate_children

GIT = {"git": {"url": "https://github.com/substratusai/images", "branch": "main", "path": "model-trainer"}}


def build_jobs(cluster, namespace):
    return [
        j for j in cluster.list("jobs.batch", namespace) if j["metadata"]["labels"]["substratus.ai/role"] == "build"
    ]


def test_git_build_then_the_same_content_is_not_built_again(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Model", "first", build=GIT), kube_namespace)
        job = wait_for(lambda: build_jobs(kube_emulator, kube_namespace), what="a build Job")[0]
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        tag = job["metadata"]["labels"]["substratus.ai/build-tag"]
        image = f"registry.example/substratus/{kube_namespace}:{tag}"
        assert f"--destination={image}" in args
        assert "--context=git://github.com/substratusai/images#refs/heads/main" in args
        assert "--context-sub-path=model-trainer" in args
        assert reason(sim, "models.substratus.ai", "first", "Built", "Building")["status"] == "False"
        assert sim.get("jobs.batch", "first-loader") is None
        sim.succeed_job(job["metadata"]["name"])
        loader = sim.wait("jobs.batch", "first-loader")
        assert loader["spec"]["template"]["spec"]["containers"][0]["image"] == image
        first = sim.get("models.substratus.ai", "first")
        assert first["status"]["image"] == image and "image" not in first["spec"]
        assert condition(first, "Built")["status"] == "True"

        kube_emulator.create(manifest("Model", "second", build=GIT), kube_namespace)
        sim.wait("jobs.batch", "second-loader")
        assert len(build_jobs(kube_emulator, kube_namespace)) == 1  # skipped: this content was built before
        assert sim.get("models.substratus.ai", "second")["status"]["image"] == image

        kube_emulator.create(manifest("Model", "third", build={"git": {**GIT["git"], "path": "other"}}), kube_namespace)
        wait_for(lambda: len(build_jobs(kube_emulator, kube_namespace)) == 2, what="a build for other content")
        validate_children(kube_emulator, kube_namespace)


def test_failed_build_is_reported(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(manifest("Dataset", "d", build=GIT), kube_namespace)
        job = wait_for(lambda: build_jobs(kube_emulator, kube_namespace), what="a build Job")[0]
        sim.fail_job(job["metadata"]["name"], "error building image: COPY failed: no such file requirements.txt")
        built = reason(sim, "datasets.substratus.ai", "d", "Built", "BuildFailed")
        assert "COPY failed" in built["message"]
        assert condition(sim.get("datasets.substratus.ai", "d"), "Complete")["reason"] == "BuildFailed"


def context_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"FROM python:3.12-slim\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def upload_config(fake_gcs, signing_key) -> dict:
    """The operator's configuration with uploads to a bucket of fake-gcs-server."""
    fake_gcs.bucket("uploads")
    return {
        **GKE_CONFIG,
        "UPLOAD_URL": "gs://uploads",
        "SIGNING_KEY_FILE": str(signing_key[0]),
        "GCS_ENDPOINT": fake_gcs.endpoint,
        "UPLOAD_POLL_SECONDS": "0.2",
    }


def test_upload_handshake_signed_put_md5_check_then_build(kube_emulator, kube_namespace, sim, upload_config):
    tarball = context_tarball()
    md5 = hashlib.md5(tarball).hexdigest()
    with running_operator(kube_emulator, kube_namespace, upload_config):
        kube_emulator.create(
            manifest("Notebook", "nb", build={"upload": {"md5Checksum": md5, "requestID": "r1"}}), kube_namespace
        )
        awaiting = reason(sim, "notebooks.substratus.ai", "nb", "Uploaded", "AwaitingUpload")
        assert awaiting["status"] == "False"
        upload = sim.get("notebooks.substratus.ai", "nb")["status"]["buildUpload"]
        assert upload["requestID"] == "r1" and upload["expiration"]
        assert build_jobs(kube_emulator, kube_namespace) == []

        response = requests.put(upload["signedURL"], data=tarball, timeout=10)
        assert response.status_code == 200, response.text

        reason(sim, "notebooks.substratus.ai", "nb", "Uploaded", "Succeeded")
        nb = sim.get("notebooks.substratus.ai", "nb")
        assert nb["status"]["buildUpload"]["storedMD5Checksum"] == md5
        job = wait_for(lambda: build_jobs(kube_emulator, kube_namespace), what="a build Job")[0]
        args = job["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--context=gs://uploads/test/{kube_namespace}/notebooks/nb/uploads/{md5}.tar.gz" in args
        assert job["metadata"]["labels"]["substratus.ai/build-tag"] == f"upload-{md5}"
        sim.succeed_job(job["metadata"]["name"])
        pod = sim.wait("pods", "nb-notebook")
        image = f"registry.example/substratus/{kube_namespace}:upload-{md5}"
        assert pod["spec"]["containers"][0]["image"] == image
        sim.ready_pod("nb-notebook")
        assert ready(sim, "notebooks.substratus.ai", "nb")["status"]["image"] == image


def test_upload_with_the_wrong_checksum_is_refused(kube_emulator, kube_namespace, sim, upload_config):
    with running_operator(kube_emulator, kube_namespace, upload_config):
        kube_emulator.create(
            manifest("Model", "m", build={"upload": {"md5Checksum": "0" * 32, "requestID": "r1"}}), kube_namespace
        )
        reason(sim, "models.substratus.ai", "m", "Uploaded", "AwaitingUpload")
        url = sim.get("models.substratus.ai", "m")["status"]["buildUpload"]["signedURL"]
        assert requests.put(url, data=context_tarball(), timeout=10).status_code == 200
        mismatch = reason(sim, "models.substratus.ai", "m", "Uploaded", "ChecksumMismatch")
        assert "0" * 32 in mismatch["message"]
        assert condition(sim.get("models.substratus.ai", "m"), "Complete")["reason"] == "ChecksumMismatch"
        assert build_jobs(kube_emulator, kube_namespace) == []


def test_upload_without_a_bucket_is_reported(kube_emulator, kube_namespace, sim):
    with running_operator(kube_emulator, kube_namespace, GKE_CONFIG):
        kube_emulator.create(
            manifest("Model", "m", build={"upload": {"md5Checksum": "0" * 32, "requestID": "r"}}), kube_namespace
        )
        assert "UPLOAD_URL" in reason(sim, "models.substratus.ai", "m", "Uploaded", "UploadUnsupported")["message"]


def test_an_upload_does_not_wait_for_the_dependencies(kube_emulator, kube_namespace, sim, upload_config):
    tarball = context_tarball()
    md5 = hashlib.md5(tarball).hexdigest()
    with running_operator(kube_emulator, kube_namespace, upload_config):
        kube_emulator.create(
            manifest(
                "Model",
                "tuned",
                model={"name": "base"},
                dataset={"name": "data"},
                build={"upload": {"md5Checksum": md5, "requestID": "r1"}},
            ),
            kube_namespace,
        )
        reason(sim, "models.substratus.ai", "tuned", "Uploaded", "AwaitingUpload")
        url = sim.get("models.substratus.ai", "tuned")["status"]["buildUpload"]["signedURL"]
        assert requests.put(url, data=tarball, timeout=10).status_code == 200
        job = wait_for(lambda: build_jobs(kube_emulator, kube_namespace), what="a build Job")[0]
        sim.succeed_job(job["metadata"]["name"])
        reason(sim, "models.substratus.ai", "tuned", "Complete", "DependencyNotFound")
        assert condition(sim.get("models.substratus.ai", "tuned"), "Built")["status"] == "True"
