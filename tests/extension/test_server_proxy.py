"""Issue 15: a Server on a cluster through the proxy route and `%substratus serve`'s client.

The Jupyter server runs the kubernetes backend against the emulator, the real operator makes the
Server's Deployment and Service, and a real model server (images/model-server on a tiny Llama)
listens on 127.0.0.1 behind that Service: the test writes the Pod and Endpoints the kubelet and
the endpoints controller would (KubeCluster.serve_service). Every request goes browser/kernel ->
Jupyter's proxy route -> the API server's service proxy -> the model server, and back as it streams.
"""

import asyncio
import json

import httpx
import pytest

from jupyter_substratus.backends.jupyter import SERVER_INFO_ENV
from tests.extension.conftest import model_manifest
from tests.operator.conftest import PVC_CONFIG, Simulator, running_operator

PROMPT = "Q: color of sky?\nA:"


def server_manifest(name: str) -> dict:
    return {
        "apiVersion": "substratus.ai/v1",
        "kind": "Server",
        "metadata": {"name": name},
        "spec": {"image": "substratusai/model-server", "model": {"name": "base"}},
    }


def sse_data(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


@pytest.fixture
def cluster(kube_emulator, kube_namespace):
    """The operator running; the Simulator that plays the Job and Deployment controllers."""
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        yield Simulator(kube_emulator, kube_namespace)


async def ready_model(api, sim) -> None:
    assert (await api("POST", "/{plural}", plural="models", body=model_manifest("base"))).status == 201
    await asyncio.to_thread(sim.succeed_job, "base-loader")


async def ready_server(api, sim, kube_emulator, kube_namespace, name, address) -> None:
    """The Server's Deployment available and `address` its one endpoint; then the Server is ready."""
    await asyncio.to_thread(sim.ready_deployment, f"{name}-server")
    await asyncio.to_thread(sim.wait, "services", f"{name}-server")
    await asyncio.to_thread(kube_emulator.serve_service, kube_namespace, f"{name}-server", address)
    async with asyncio.timeout(30):
        while not (await api("GET", "/{plural}/{name}", plural="servers", name=name)).json["status"].get("ready"):
            await asyncio.sleep(0.2)


async def test_the_proxy_route_reaches_a_cluster_server_through_the_api_server(
    api, cluster, kube_emulator, kube_namespace, tiny_model_server, jp_http_port, jp_base_url, jp_auth_header
):
    await ready_model(api, cluster)
    assert (await api("POST", "/{plural}", plural="servers", body=server_manifest("srv"))).status == 201
    await asyncio.to_thread(cluster.wait, "services", "srv-server")
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1"
    async with httpx.AsyncClient(base_url=base, headers=dict(jp_auth_header), timeout=60) as http:
        # As on a cluster whose Server pod is not ready yet: an Endpoints without addresses.
        await asyncio.to_thread(
            kube_emulator.create,
            {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "srv-server", "namespace": kube_namespace}},
        )
        waiting = await http.post("/servers/srv/proxy/v1/completions", json={"prompt": PROMPT})
        assert waiting.status_code == 503, waiting.text
        assert waiting.json()["message"] == 'no endpoints available for service "srv-server"'

        await ready_server(api, cluster, kube_emulator, kube_namespace, "srv", ("127.0.0.1", tiny_model_server.port))
        completion = await http.post("/servers/srv/proxy/v1/completions", json={"prompt": PROMPT, "max_tokens": 3})
        assert completion.status_code == 200, completion.text
        assert completion.json()["choices"][0]["text"] is not None
        assert completion.json()["usage"]["completion_tokens"] >= 1

        async with http.stream(
            "POST",
            f"/namespaces/{kube_namespace}/servers/srv/proxy/v1/completions",
            json={"prompt": PROMPT, "stream": True},
        ) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            chunks = [chunk async for chunk in streamed.aiter_text()]
        events = sse_data("".join(chunks))
        assert events[-1] == "[DONE]" and len(events) >= 2
        assert all("choices" in json.loads(event) for event in events[:-1])

        chat = await http.post(
            "/servers/srv/proxy/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": True},
        )
        assert chat.status_code == 200
        deltas = [json.loads(event)["choices"][0]["delta"] for event in sse_data(chat.text)[:-1]]
        assert deltas and deltas[0].get("role") == "assistant"

        # Jupyter's credentials stay with Jupyter: the model server's log never sees the token.
        token = jp_auth_header["Authorization"].split()[-1]
        models = await http.get(f"/servers/srv/proxy/v1/models?token={token}", headers={"Authorization": ""})
        assert models.status_code == 200 and models.json()["data"]


async def test_serves_client_in_a_kernel_goes_through_the_jupyter_server(
    api, cluster, kube_emulator, kube_namespace, tiny_model_server, jp_serverapp, tmp_path, monkeypatch
):
    """`client = %substratus serve ...` in a kernel of this Jupyter server: the kernel's backend is
    the server's REST API, and the client it returns is on the server's proxy route."""
    from IPython.core.interactiveshell import InteractiveShell

    await ready_model(api, cluster)
    info = tmp_path / "jpserver.json"
    info.write_text(json.dumps({"url": jp_serverapp.connection_url, "token": jp_serverapp.identity_provider.token}))
    monkeypatch.setenv(SERVER_INFO_ENV, str(info))
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupyter_substratus")
    magics = shell.magics_manager.registry["SubstratusMagics"]
    try:
        await asyncio.to_thread(
            shell.run_line_magic, "substratus", f"use --backend jupyter --namespace {kube_namespace}"
        )
        serving = asyncio.to_thread(shell.run_line_magic, "substratus", "serve chat --model base --timeout 60")
        address = ("127.0.0.1", tiny_model_server.port)
        client, _ = await asyncio.gather(
            serving, ready_server(api, cluster, kube_emulator, kube_namespace, "chat", address)
        )
        assert str(client.base_url).startswith(f"{jp_serverapp.connection_url}substratus/api/v1/namespaces/")

        def use(client):
            completion = client.completions.create(prompt=PROMPT, max_tokens=3)
            streamed = list(client.completions.create(prompt=PROMPT, max_tokens=3, stream=True))
            chat = list(
                client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True)
            )
            return completion, streamed, chat

        completion, streamed, chat = await asyncio.to_thread(use, client)
        assert completion.usage.completion_tokens >= 1
        assert streamed and all(chunk.choices for chunk in streamed)
        assert chat and chat[0].choices[0].delta.role == "assistant"
    finally:
        await asyncio.to_thread(magics.session.close)
