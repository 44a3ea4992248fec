"""CRUD of the four kinds through the REST API, against the emulator."""

import asyncio
from datetime import datetime

import pytest

from jupyter_substratus.api.workloads import CANCEL_ANNOTATION
from jupyter_substratus.backends import BadRequest
from jupyter_substratus.backends.jupyter import JupyterServerBackend
from tests.extension.conftest import model_manifest

DATASET = {
    "apiVersion": "substratus.ai/v1",
    "kind": "Dataset",
    "metadata": {"name": "squad"},
    "spec": {"image": "substratusai/dataset-loader-http", "params": {"url": "https://example.com/d.jsonl"}},
}


async def test_info(api, kube_namespace):
    answer = await api("GET", "/")
    assert answer.status == 200
    assert answer.json["namespace"] == kube_namespace
    assert {k["plural"] for k in answer.json["kinds"]} == {"models", "datasets", "servers", "notebooks"}


@pytest.mark.parametrize("plural", ["models", "datasets", "servers", "notebooks"])
async def test_empty_list(api, plural):
    answer = await api("GET", "/{plural}", plural=plural)
    assert answer.status == 200
    assert answer.json == {"items": []}


async def test_create_get_list_delete(api, kube_emulator, kube_namespace):
    created = await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))
    assert created.status == 201, created.body
    assert created.json["metadata"]["namespace"] == kube_namespace
    assert kube_emulator.get("models", "opt", kube_namespace)["spec"]["params"] == {"name": "facebook/opt-125m"}

    got = await api("GET", "/{plural}/{name}", plural="models", name="opt")
    assert got.status == 200 and got.json["kind"] == "Model"
    listed = await api("GET", "/{plural}", plural="models")
    assert [m["metadata"]["name"] for m in listed.json["items"]] == ["opt"]

    deleted = await api("DELETE", "/{plural}/{name}", plural="models", name="opt")
    assert deleted.status == 204
    missing = await api("GET", "/{plural}/{name}", plural="models", name="opt")
    assert missing.status == 404
    assert "opt" in missing.json["message"] or "not found" in missing.json["message"].lower()


async def test_kind_and_api_version_may_be_left_out(api):
    body = {"metadata": {"name": "squad"}, "spec": DATASET["spec"]}
    answer = await api("POST", "/{plural}", plural="datasets", body=body)
    assert answer.status == 201
    assert answer.json["kind"] == "Dataset" and answer.json["apiVersion"] == "substratus.ai/v1"


async def test_list_is_sorted_and_sees_objects_created_elsewhere(api, kube_emulator, kube_namespace):
    for name in ["c", "a", "b"]:
        kube_emulator.create({**DATASET, "metadata": {"name": name}}, kube_namespace)
    answer = await api("GET", "/{plural}", plural="datasets")
    names = [d["metadata"]["name"] for d in answer.json["items"]]
    if names != ["a", "b", "c"]:  # the watch may lag the emulator by a moment
        import asyncio

        for _ in range(50):
            await asyncio.sleep(0.05)
            answer = await api("GET", "/{plural}", plural="datasets")
            names = [d["metadata"]["name"] for d in answer.json["items"]]
            if names == ["a", "b", "c"]:
                break
    assert names == ["a", "b", "c"]


async def test_conflict(api):
    assert (await api("POST", "/{plural}", plural="datasets", body=DATASET)).status == 201
    again = await api("POST", "/{plural}", plural="datasets", body=DATASET)
    assert again.status == 409
    assert again.json["message"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"metadata": {"name": "x"}, "spec": {"image": "a", "build": {"git": {"url": "https://g/x"}}}}, "spec"),
        ({"metadata": {"name": "Bad_Name"}, "spec": {"image": "a"}}, "metadata.name"),
        (
            {
                "metadata": {"name": "x"},
                "spec": {"image": "a", "resources": {"gpu": {"type": "nvidia-t4", "count": -1}}},
            },
            "spec.resources.gpu.count",
        ),
        ({"metadata": {"name": "x"}, "spec": {"image": "a", "imagee": "typo"}}, "spec.imagee"),
        # The CRD cannot check params' values (a real API server cannot type them for CEL): the API does.
        ({"metadata": {"name": "x"}, "spec": {"image": "a", "params": {"lora": {"r": 8}}}}, "spec.params.lora"),
        ({"metadata": {"name": "x"}, "spec": {"image": "a", "dataset": {"name": "d"}}}, "spec"),
        ({"kind": "Server", "metadata": {"name": "x"}, "spec": {"image": "a"}}, "kind"),
        (
            {
                "metadata": {"name": "x"},
                "spec": {"image": "a", "model": {"name": "b"}, "params": {"learning_rate": "fast"}},
            },
            "spec.params.learning_rate",
        ),
        (
            {
                "metadata": {"name": "x"},
                "spec": {"image": "a", "resources": {"gpu": {"type": "nvidia-t4", "count": 0}}},
            },
            "spec.resources.gpu",
        ),
        ({"spec": {"image": "a"}}, "metadata"),
        ([], ""),
    ],
)
async def test_bad_bodies_name_the_field(api, body, path):
    answer = await api("POST", "/{plural}", plural="models", body=body)
    assert answer.status == 400, answer.body
    assert answer.json["message"]
    assert path in [e["path"] for e in answer.json["errors"]], answer.json


async def test_an_empty_required_field_says_required(api):
    body = {"metadata": {"name": "x"}, "spec": {"image": "a", "model": {"name": ""}}}
    answer = await api("POST", "/{plural}", plural="models", body=body)
    assert answer.status == 400
    assert answer.json["errors"] == [{"path": "spec.model.name", "message": "required"}]
    assert "spec.model.name: required" in answer.json["message"]


async def test_not_json(api):
    answer = await api("POST", "/{plural}", plural="models", raw=b"{not json")
    assert answer.status == 400
    assert "JSON" in answer.json["message"]


async def test_unknown_kind_and_names(api):
    assert (await api("GET", "/{plural}", plural="widgets", check=False)).status == 404
    assert (await api("GET", "/{plural}/{name}", plural="models", name="nope")).status == 404
    assert (await api("GET", "/{plural}/{name}", plural="models", name="Not_A_Name")).status == 404
    assert (await api("DELETE", "/{plural}/{name}", plural="servers", name="nope")).status == 404
    answer = await api("GET", "/{plural}/{name}/logs", plural="models", name="nope")
    assert answer.status == 404 and answer.json["message"]


async def test_bad_namespace(api):
    answer = await api("GET", "/{plural}", plural="models", params={"namespace": "Not OK"})
    assert answer.status == 400
    assert answer.json["errors"][0]["path"] == "namespace"


@pytest.mark.parametrize("resources", [None, {"gpu": {"type": "nvidia-l4", "count": 1}}])
async def test_a_server_created_without_an_image_is_stored_without_one(api, resources):
    """The reconciler then picks the image for the Server's hardware (api.images.server_image)."""
    spec = {"model": {"name": "opt"}, **({"resources": resources} if resources else {})}
    server = {"kind": "Server", "metadata": {"name": "bare"}, "spec": spec}
    created = await api("POST", "/{plural}", plural="servers", body=server)
    assert created.status == 201, created.body
    assert "image" not in created.json["spec"]
    assert "image" not in (await api("GET", "/{plural}/{name}", plural="servers", name="bare")).json["spec"]


async def test_replace_server_and_immutable_model(api):
    server = {
        "apiVersion": "substratus.ai/v1",
        "kind": "Server",
        "metadata": {"name": "srv"},
        "spec": {"image": "substratusai/model-server", "model": {"name": "opt"}},
    }
    assert (await api("POST", "/{plural}", plural="servers", body=server)).status == 201
    changed = {**server, "spec": {**server["spec"], "params": {"temperature": 0.5}}}
    answer = await api("PUT", "/{plural}/{name}", plural="servers", name="srv", body=changed)
    assert answer.status == 200, answer.body
    assert answer.json["spec"]["params"] == {"temperature": 0.5}

    wrong_name = await api("PUT", "/{plural}/{name}", plural="servers", name="other", body=changed)
    assert wrong_name.status == 400 and wrong_name.json["errors"][0]["path"] == "metadata.name"
    stale = {**changed, "metadata": {"name": "srv", "resourceVersion": "1"}}
    assert (await api("PUT", "/{plural}/{name}", plural="servers", name="srv", body=stale)).status == 409

    assert (await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))).status == 201
    other = model_manifest("opt", image="substratusai/model-loader-huggingface", params={"name": "other"})
    immutable = await api("PUT", "/{plural}/{name}", plural="models", name="opt", body=other)
    assert immutable.status == 422
    assert immutable.json["errors"][0]["path"] == "spec"
    missing = await api("PUT", "/{plural}/{name}", plural="models", name="none", body=model_manifest("none"))
    assert missing.status == 404


async def test_unauthenticated_is_403(api):
    for method, template, parts in [
        ("GET", "/{plural}", {"plural": "models"}),
        ("POST", "/{plural}", {"plural": "models"}),
        ("GET", "/{plural}/{name}", {"plural": "models", "name": "x"}),
        ("PUT", "/{plural}/{name}", {"plural": "models", "name": "x"}),
        ("DELETE", "/{plural}/{name}", {"plural": "models", "name": "x"}),
        ("GET", "/{plural}/{name}/logs", {"plural": "models", "name": "x"}),
        ("GET", "/events", {}),
        ("POST", "/export", {}),
        ("GET", "/export/{name}", {"name": "x"}),
        ("GET", "/", {}),
    ]:
        body = {} if method in ("POST", "PUT") else None
        answer = await api(method, template, body=body, headers={"Authorization": "token wrong"}, **parts)
        assert answer.status == 403, (method, template, answer.status)


async def test_api_server_down_is_503(api, kube_emulator):
    assert (await api("GET", "/{plural}", plural="models")).status == 200  # cache synced
    with kube_emulator.faults.inject(status=503, methods={"POST"}):
        answer = await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))
    assert answer.status == 503
    assert "503" in answer.json["message"]


async def test_a_manifest_from_a_get_can_be_created_again(api, kube_namespace):
    created = (await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))).json
    copy = {**created, "metadata": {**created["metadata"], "name": "opt-copy"}}
    answer = await api("POST", "/{plural}", plural="models", body=copy)
    assert answer.status == 201, answer.body
    assert answer.json["metadata"]["uid"] != created["metadata"]["uid"]


async def test_rerun_creates_a_failed_model_again(api, kube_emulator, kube_namespace):
    body = model_manifest("opt")
    body["metadata"]["labels"] = {"team": "nlp"}
    first = (await api("POST", "/{plural}", plural="models", body=body)).json
    failed = {
        "ready": False,
        "conditions": [
            {
                "type": "Complete",
                "status": "False",
                "reason": "JobFailed",
                "message": "HTTP 503",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }
    kube_emulator.patch_status("models", "opt", failed, kube_namespace)

    again = await api("POST", "/{plural}/{name}/rerun", raw=b"", plural="models", name="opt")
    assert again.status == 201, again.body
    assert again.json["metadata"]["uid"] != first["metadata"]["uid"]
    assert again.json["metadata"]["labels"] == {"team": "nlp"} and again.json["spec"] == first["spec"]
    assert not (again.json.get("status") or {}).get("conditions")


async def test_rerun_refuses_what_it_cannot_run_again(api, kube_emulator, kube_namespace):
    await api("POST", "/{plural}", plural="models", body=model_manifest("done"))
    kube_emulator.patch_status("models", "done", {"ready": True}, kube_namespace)
    complete = await api("POST", "/{plural}/{name}/rerun", raw=b"", plural="models", name="done")
    assert complete.status == 409 and "complete" in complete.json["message"]
    assert kube_emulator.get("models", "done", kube_namespace)["status"]["ready"]  # nothing lost

    server = {"metadata": {"name": "s"}, "spec": {"image": "substratusai/model-server", "model": {"name": "done"}}}
    await api("POST", "/{plural}", plural="servers", body=server)
    assert (await api("POST", "/{plural}/{name}/rerun", raw=b"", plural="servers", name="s")).status == 400
    assert (await api("POST", "/{plural}/{name}/rerun", raw=b"", plural="models", name="missing")).status == 404


def _cancel_requested(kube_emulator, plural, name, namespace) -> str | None:
    """The cancel annotation of the object as the API server keeps it."""
    return (kube_emulator.get(plural, name, namespace)["metadata"].get("annotations") or {}).get(CANCEL_ANNOTATION)


async def _phase_seen(api, plural, name, phase) -> None:
    """Until the server's watch has seen the phase the emulator was given."""
    async with asyncio.timeout(10):
        while True:
            got = await api("GET", "/{plural}/{name}", plural=plural, name=name)
            if (got.json.get("status") or {}).get("phase") == phase:
                return
            await asyncio.sleep(0.05)


async def test_cancel_asks_the_run_to_stop_and_a_rerun_forgets_it(api, kube_emulator, kube_namespace):
    await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))
    cancelled = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="models", name="opt")
    assert cancelled.status == 200, cancelled.body
    requested = _cancel_requested(kube_emulator, "models", "opt", kube_namespace)
    assert datetime.fromisoformat(requested).tzinfo is not None  # RFC 3339, in UTC
    assert cancelled.json["metadata"]["annotations"][CANCEL_ANNOTATION] == requested
    again = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="models", name="opt")
    assert again.status == 200 and again.json["metadata"]["annotations"][CANCEL_ANNOTATION] == requested

    rerun = await api("POST", "/{plural}/{name}/rerun", raw=b"", plural="models", name="opt")
    assert rerun.status == 201, rerun.body
    assert _cancel_requested(kube_emulator, "models", "opt", kube_namespace) is None


async def test_cancel_refuses_what_does_not_run(api, kube_emulator, kube_namespace):
    await api("POST", "/{plural}", plural="models", body=model_manifest("done"))
    kube_emulator.patch_status("models", "done", {"ready": True, "phase": "Ready"}, kube_namespace)
    await _phase_seen(api, "models", "done", "Ready")
    complete = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="models", name="done")
    assert complete.status == 409 and "complete" in complete.json["message"]
    assert _cancel_requested(kube_emulator, "models", "done", kube_namespace) is None
    await api("POST", "/{plural}", plural="models", body=model_manifest("broken"))
    kube_emulator.patch_status("models", "broken", {"phase": "Failed"}, kube_namespace)
    await _phase_seen(api, "models", "broken", "Failed")
    failed = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="models", name="broken")
    assert failed.status == 409 and "failed already" in failed.json["message"]

    server = {"metadata": {"name": "s"}, "spec": {"image": "substratusai/model-server", "model": {"name": "done"}}}
    await api("POST", "/{plural}", plural="servers", body=server)
    refused = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="servers", name="s")
    assert refused.status == 400 and "only Models and Datasets" in refused.json["message"]
    missing = await api("POST", "/{plural}/{name}/cancel", raw=b"", plural="datasets", name="missing")
    assert missing.status == 404


async def test_a_kernel_cancels_through_the_server(
    api, jp_http_port, jp_base_url, jp_auth_header, kube_emulator, kube_namespace
):
    await api("POST", "/{plural}", plural="datasets", body=DATASET)
    token = jp_auth_header["Authorization"].removeprefix("token ")
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    backend = await asyncio.to_thread(JupyterServerBackend, url, token)  # it reaches the server as it starts
    try:
        cancelled = await backend.cancel("datasets", "squad")
        requested = _cancel_requested(kube_emulator, "datasets", "squad", kube_namespace)
        assert requested and cancelled["metadata"]["annotations"][CANCEL_ANNOTATION] == requested
        with pytest.raises(BadRequest, match="only Models and Datasets"):
            await backend.cancel("notebooks", "squad")
    finally:
        await backend.close()
