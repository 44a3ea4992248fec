"""The reconcile decisions and their translation, without any server."""

import json

import kubernetes_validate
import pytest
from substratus_operator import translate
from substratus_operator.config import Config, ConfigError
from substratus_operator.names import build_job_name, child_name
from substratus_operator.waiters import Waiters

from jupyter_substratus.api import parse
from jupyter_substratus.api import workloads as w
from jupyter_substratus.reconcile import verdicts

GKE = Config.from_data(
    {"CLUSTER_NAME": "c1", "REGISTRY": "r.example/p", "PLATFORM": "gke", "ARTIFACTS_URL": "gs://bucket/root"}
)
GENERIC = Config.from_data({"CLUSTER_NAME": "c1", "REGISTRY": "r.example/p", "PLATFORM": "generic"})


def resource(kind, name="x", status=None, **spec):
    body = {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
    if status:
        body["status"] = status
    return parse(body)


def done(kind, name, **spec):
    return resource(
        kind,
        name,
        {
            "ready": True,
            "conditions": [
                {
                    "type": "Complete",
                    "status": "True",
                    "reason": "Succeeded",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ],
        },
        **({"image": "i"} | spec),
    )


def test_roles_and_dependencies():
    assert w.role(resource("Model", image="i")) is w.Role.LOADER
    tuned = resource("Model", image="i", model={"name": "b"}, dataset={"name": "d"})
    assert w.role(tuned) is w.Role.TRAINER
    assert w.dependencies(tuned) == [("Model", "b"), ("Dataset", "d")]
    assert w.role(resource("Server", image="i", model={"name": "b"})) is w.Role.SERVER
    assert w.role(resource("Notebook", image="i")) is w.Role.NOTEBOOK
    assert w.dependencies(resource("Notebook", image="i")) == []


def test_dependency_verdicts_failure_first_then_missing_then_waiting():
    tuned = resource("Model", image="i", model={"name": "b"}, dataset={"name": "d"})
    assert verdicts.dependency_verdict(tuned, {}).reason == w.DEPENDENCY_NOT_FOUND
    pending = resource("Model", "b", image="i")
    assert (
        verdicts.dependency_verdict(tuned, {("Model", "b"): pending, ("Dataset", "d"): done("Dataset", "d")}).reason
        == w.WAITING_FOR_DEPENDENCY
    )
    failed = resource(
        "Dataset",
        "d",
        {
            "conditions": [
                {
                    "type": "Complete",
                    "status": "False",
                    "reason": "JobFailed",
                    "message": "boom",
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        },
        image="i",
    )
    verdict = verdicts.dependency_verdict(tuned, {("Model", "b"): pending, ("Dataset", "d"): failed})
    assert (verdict.reason, verdict.failed) == (w.DEPENDENCY_FAILED, True)
    assert "boom" in verdict.message
    assert (
        verdicts.dependency_verdict(tuned, {("Model", "b"): done("Model", "b"), ("Dataset", "d"): done("Dataset", "d")})
        is None
    )


def test_params_and_env():
    model = resource(
        "Model",
        image="i",
        params={"epochs": 2, "lr": 0.5, "on": False, "name": "x"},
        env={"A": "1", "TOKEN": "${{ secrets.hf.key }}", "PARAM_NAME": "override"},
    )
    assert json.loads(w.params_json(model)) == {"epochs": 2, "lr": 0.5, "on": False, "name": "x"}
    assert w.env(model) == {
        "PARAM_EPOCHS": "2",
        "PARAM_LR": "0.5",
        "PARAM_ON": "false",
        "PARAM_NAME": "override",
        "A": "1",
        "TOKEN": w.SecretRef("hf", "key"),
    }


def test_build_tags_name_the_content():
    git = {"url": "https://g/r", "branch": "main", "path": "p"}
    a = w.build_plan(resource("Model", build={"git": git}))
    assert a == w.build_plan(resource("Model", "other", build={"git": git}))
    assert a.tag != w.build_plan(resource("Model", build={"git": {**git, "path": "q"}})).tag
    assert (
        a.tag != w.build_plan(resource("Model", build={"git": {"url": "https://g/r", "tag": "main", "path": "p"}})).tag
    )
    upload = w.build_plan(resource("Model", build={"upload": {"md5Checksum": "a" * 32, "requestID": "1"}}))
    assert upload.tag == "upload-" + "a" * 32 and upload.image("r/ns") == f"r/ns:upload-{'a' * 32}"
    assert w.build_plan(resource("Model", image="i")) is None
    assert len(build_job_name(a.tag)) <= 63


def test_upload_verdicts():
    assert verdicts.upload_verdict(expected_md5="a", stored_md5=None).reason == w.AWAITING_UPLOAD
    assert verdicts.upload_verdict(expected_md5="a", stored_md5="b").failed
    assert verdicts.upload_verdict(expected_md5="a", stored_md5="a").ok


def test_sizing_from_the_model_when_omitted_and_from_the_spec_when_given():
    base = resource("Model", "falcon-7b", image="i")
    server = resource("Server", image="i", model={"name": "falcon-7b"})
    sized = w.sizing(server, base)
    assert (sized.gpu_type, sized.gpu_count) == ("nvidia-l4", 1) and sized.memory_gb >= 14
    trainer = resource("Model", image="i", model={"name": "falcon-7b"})
    assert w.sizing(trainer, base).gpu_count == 3  # weights, gradients and optimizer state
    assert w.sizing(resource("Model", "opt-125m", image="i"), None).gpu_count == 0
    named_by_param = resource("Model", "m", image="i", params={"name": "tiiuae/falcon-40b"})
    assert w.sizing(resource("Server", image="i", model={"name": "m"}), named_by_param).gpu_type == "nvidia-l4"
    given = resource("Server", image="i", model={"name": "m"}, resources={"cpu": 3, "gpu": {"type": "nvidia-t4"}})
    assert w.sizing(given, base) == w.Sizing(
        cpu=3, memory_gb=sized.memory_gb, disk_gb=sized.disk_gb, gpu_type="nvidia-t4", gpu_count=1
    )


def test_plan_mounts_inputs_read_only_and_own_artifacts_read_write():
    tuned = resource("Model", "t", image="i", model={"name": "b"}, dataset={"name": "d"})
    plan = w.plan(
        tuned, w.Inputs("ns", "img", {("Model", "b"): done("Model", "b"), ("Dataset", "d"): done("Dataset", "d")})
    )
    assert [(m.path, m.artifact.name, m.read_only) for m in plan.mounts] == [
        ("/content/model", "b", True),
        ("/content/data", "d", True),
        ("/content/artifacts", "t", False),
    ]
    assert plan.mounts[0].artifact.path("c1") == "c1/ns/models/b"
    server = w.plan(resource("Server", image="i", model={"name": "b"}), w.Inputs("ns", "img"))
    assert (server.port, server.readiness_path) == (8080, "/")


OWNER = {"apiVersion": "substratus.ai/v1", "kind": "Server", "metadata": {"name": "s", "namespace": "ns", "uid": "u"}}


@pytest.mark.parametrize(
    "gpu, gke, selector",
    [
        ("nvidia-t4", "nvidia-tesla-t4", True),
        ("nvidia-l4", "nvidia-l4", True),
        ("nvidia-a100", "nvidia-tesla-a100", True),
        ("nvidia-h100", "nvidia-h100-80gb", True),
    ],
)
def test_gpu_mapping(gpu, gke, selector):
    plan = w.plan(
        resource("Server", image="i", model={"name": "b"}, resources={"gpu": {"type": gpu, "count": 2}}),
        w.Inputs("ns", "img"),
    )
    on_gke = translate.deployment(GKE, "s-server", OWNER, plan)["spec"]["template"]["spec"]
    assert on_gke["nodeSelector"] == {"cloud.google.com/gke-accelerator": gke}
    assert on_gke["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    generic = translate.deployment(GENERIC, "s-server", OWNER, plan)["spec"]["template"]["spec"]
    assert "nodeSelector" not in generic and "tolerations" not in generic
    assert generic["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "2"


def test_every_translation_passes_the_built_in_schemas():
    tuned = resource(
        "Model",
        "t",
        image="i",
        model={"name": "b"},
        dataset={"name": "d"},
        env={"S": "${{ secrets.a.b }}"},
        resources={"gpu": {"type": "nvidia-a100", "count": 1}},
    )
    model_owner = {**OWNER, "kind": "Model", "metadata": {**OWNER["metadata"], "name": "t"}}
    for config in (GKE, GENERIC):
        plan = w.plan(tuned, w.Inputs("ns", "img"))
        nb_plan = w.plan(resource("Notebook", image="i", model={"name": "b"}), w.Inputs("ns", "img"))
        build = w.build_plan(resource("Model", build={"git": {"url": "https://g/r", "tag": "v1"}}))
        objects = [
            translate.job(config, "t-trainer", model_owner, plan),
            translate.deployment(
                config,
                "s-server",
                OWNER,
                w.plan(resource("Server", image="i", model={"name": "b"}), w.Inputs("ns", "img")),
            ),
            translate.service("s-server", OWNER, "server", 8080),
            translate.notebook_pod(config, "n-notebook", OWNER, nb_plan, "n-notebook", "n-token"),
            translate.token_secret("n-token", OWNER, "secret"),
            translate.workspace_claim("n-notebook", OWNER, 20),
            translate.artifacts_claim(config, "ns"),
            translate.build_job(config, model_owner, build, "r/ns:tag", None),
        ]
        for obj in objects:
            kubernetes_validate.validate(obj, "1.37", strict=True)


def test_child_names_stay_within_63_characters_and_are_deterministic():
    long = "a" * 63
    assert child_name("m", "loader") == "m-loader"
    assert len(child_name(long, "notebook-token")) <= 63
    assert child_name(long, "loader") == child_name(long, "loader") != child_name("a" * 62 + "b", "loader")


def test_config_refuses_incomplete_data_naming_every_problem():
    with pytest.raises(ConfigError) as error:
        Config.from_data({"PLATFORM": "gke", "UPLOAD_URL": "s3://x"})
    text = str(error.value)
    for expected in (
        "CLUSTER_NAME is required",
        "REGISTRY is required",
        "ARTIFACTS_URL (gs://bucket) is required",
        "UPLOAD_URL must be a gs:// URL",
        "SIGNING_KEY_FILE",
    ):
        assert expected in text
    with pytest.raises(ConfigError, match="PLATFORM must be one of gke, generic"):
        Config.from_data({"CLUSTER_NAME": "c", "REGISTRY": "r", "PLATFORM": "aws"})
    assert GKE.upload_url is None and GENERIC.artifacts_url is None


def test_waiters_follow_each_resources_latest_spec():
    def body(kind, name, **spec):
        return {
            "apiVersion": "substratus.ai/v1",
            "kind": kind,
            "metadata": {"name": name, "namespace": "ns"},
            "spec": spec,
        }

    waiters = Waiters()
    tuned = body("Model", "tuned", image="t", model={"name": "base"}, dataset={"name": "data"})
    waiters.update(tuned)
    waiters.update(body("Server", "srv", image="s", model={"name": "base"}))
    assert waiters.of(("ns", "Model", "base")) == {("Model", "tuned"), ("Server", "srv")}
    assert waiters.of(("ns", "Dataset", "data")) == {("Model", "tuned")}

    waiters.update(body("Server", "srv", image="s", model={"name": "tuned"}))  # a new spec: a new wait
    assert waiters.of(("ns", "Model", "base")) == {("Model", "tuned")}
    assert waiters.of(("ns", "Model", "tuned")) == {("Server", "srv")}

    waiters.update(tuned, deleted=True)
    assert waiters.of(("ns", "Model", "base")) == set() and waiters.of(("ns", "Dataset", "data")) == set()

    uploaded = body("Model", "up", build={"upload": {"md5Checksum": "0" * 32, "requestID": "r"}})
    waiters.update(uploaded)
    tag = w.build_plan(parse({**uploaded, "metadata": {"name": "up"}})).tag
    assert waiters.of(("ns", "build", tag)) == {("Model", "up")}


def test_a_gpu_of_any_type_is_only_a_limit():
    plan = w.plan(
        resource("Server", image="i", model={"name": "b"}, resources={"gpu": {"count": 1}}), w.Inputs("ns", "img")
    )
    for config in (GKE, GENERIC):
        pod = translate.deployment(config, "s-server", OWNER, plan)["spec"]["template"]["spec"]
        assert "nodeSelector" not in pod and "tolerations" not in pod
        assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
