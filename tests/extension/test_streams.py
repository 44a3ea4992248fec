"""The push channel (SSE) and the logs stream."""

import asyncio
import json

import aiohttp
import yarl

from jupyter_substratus.backends.kubernetes import KubernetesBackend
from tests.extension.conftest import model_manifest


def _url(jp_http_port, jp_base_url, path):
    return yarl.URL(f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1{path}", encoded=True)


async def _events_until(response, predicate, timeout=10.0):
    """Read SSE messages until one satisfies predicate; return it."""
    buffer = ""
    async with asyncio.timeout(timeout):
        while True:
            chunk = await response.content.readany()
            assert chunk, "the stream ended"
            buffer += chunk.decode()
            while "\n\n" in buffer:
                message, buffer = buffer.split("\n\n", 1)
                data = [line[6:] for line in message.splitlines() if line.startswith("data: ")]
                if data:
                    event = json.loads("\n".join(data))
                    if predicate(event):
                        return event


async def test_push_channel_delivers_a_status_change(
    api, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header, kube_emulator, kube_namespace
):
    assert (await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))).status == 201
    async with aiohttp.ClientSession(headers=jp_auth_header) as session:
        async with session.get(_url(jp_http_port, jp_base_url, "/events")) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            first = await response.content.readuntil(b"\n\n")
            assert b"connected" in first
            stamp = "2026-11-22T12:00:00Z"
            await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: kube_emulator.patch_status(
                    "models",
                    "opt",
                    {
                        "ready": True,
                        "conditions": [
                            {
                                "type": "Complete",
                                "status": "True",
                                "reason": "JobComplete",
                                "message": "done",
                                "lastTransitionTime": stamp,
                            }
                        ],
                    },
                    kube_namespace,
                ),
            )
            event = await _events_until(
                response,
                lambda e: e["object"]["metadata"]["name"] == "opt" and e["object"].get("status", {}).get("ready"),
            )
            assert event["type"] == "MODIFIED"
            assert event["object"]["kind"] == "Model"
            assert event["object"]["status"]["conditions"][0]["reason"] == "JobComplete"

            await api("DELETE", "/{plural}/{name}", plural="models", name="opt")
            event = await _events_until(response, lambda e: e["type"] == "DELETED")
            assert event["object"]["metadata"]["name"] == "opt"


async def test_push_channel_filters_kinds_and_keeps_alive(api, jp_http_port, jp_base_url, jp_auth_header):
    async with aiohttp.ClientSession(headers=jp_auth_header) as session:
        async with session.get(_url(jp_http_port, jp_base_url, "/events?kinds=datasets")) as response:
            await response.content.readuntil(b"\n\n")
            await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))
            await api(
                "POST",
                "/{plural}",
                plural="datasets",
                body={"metadata": {"name": "d"}, "spec": {"image": "substratusai/dataset-loader-http"}},
            )
            event = await _events_until(response, lambda e: True)
            assert event["object"]["kind"] == "Dataset"
            async with asyncio.timeout(5):
                assert b"heartbeat" in await response.content.readuntil(b"heartbeat")
    bad = await api("GET", "/events", params={"kinds": "widgets"})
    assert bad.status == 400 and bad.json["errors"][0]["path"] == "kinds"


def _pod(name, kind, resource, namespace):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "substratus.ai/owner-kind": kind,
                "substratus.ai/owner-name": resource,
                "substratus.ai/role": "train",
            },
        },
        "spec": {"containers": [{"name": "main", "image": "substratusai/model-trainer-huggingface"}]},
    }


async def test_logs_of_the_workload(api, kube_emulator, kube_namespace):
    assert (await api("POST", "/{plural}", plural="models", body=model_manifest("opt"))).status == 201
    none_yet = await api("GET", "/{plural}/{name}/logs", plural="models", name="opt")
    assert none_yet.status == 404 and "no workload" in none_yet.json["message"]

    kube_emulator.create(_pod("opt-train-abc", "Model", "opt", kube_namespace), kube_namespace)
    kube_emulator.set_pod_log(kube_namespace, "opt-train-abc", '{"step": 1, "loss": 2.5}\n{"step": 2, "loss": 1.9}\n')
    answer = await api("GET", "/{plural}/{name}/logs", plural="models", name="opt", params={"follow": "true"})
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    assert answer.body.decode().splitlines() == ['{"step": 1, "loss": 2.5}', '{"step": 2, "loss": 1.9}']

    tail = await api("GET", "/{plural}/{name}/logs", plural="models", name="opt", params={"tail": "x"})
    assert tail.status == 400 and tail.json["errors"][0]["path"] == "tail"


async def test_a_change_stream_holds_what_changed_before_its_first_read(kube_emulator, kube_namespace):
    """Open the stream, read the state, then wait: a change in between must not be lost."""
    backend = KubernetesBackend(namespace=kube_namespace, kubeconfig=str(kube_emulator.kubeconfig))
    try:
        created = await backend.create(model_manifest("early"))
        changes = await backend.changes()
        kube_emulator.patch_status("models", "early", {"ready": True}, kube_namespace)
        async with asyncio.timeout(10):
            while (await backend.get("models", "early"))["metadata"]["resourceVersion"] == created["metadata"][
                "resourceVersion"
            ]:
                await asyncio.sleep(0.02)  # until the watch has brought the change
            async for event in changes:  # the watch may bring the create's ADDED first
                if event.type == "MODIFIED" and event.object.get("status", {}).get("ready") is True:
                    break
        await changes.aclose()
    finally:
        await backend.close()
