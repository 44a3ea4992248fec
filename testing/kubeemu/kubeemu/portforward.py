"""pods/portforward: the websocket protocol of `kubectl port-forward` (v4.channel.k8s.io),
relayed to a TCP address the test names for the pod (`KubeCluster.forward_pod_port`), since
no pod runs here. Per requested port two channels: data (2*i) and error (2*i+1), each opened by
a frame with the port number (2 bytes, little-endian); data frames carry the channel byte first.
Only one port per request, as the clients ask for it."""

import asyncio
import contextlib

import aiohttp
import aiohttp.web

from kubeemu import errors

PROTOCOLS = ("v4.channel.k8s.io",)


async def serve(raw: aiohttp.web.BaseRequest, target: tuple[str, int] | None) -> aiohttp.web.StreamResponse:
    if target is None:
        raise errors.bad_request("this pod has no port the emulator can forward to (KubeCluster.forward_pod_port)")
    try:
        port = int(raw.query.get("ports", ""))
    except ValueError:
        raise errors.bad_request("ports must name one port") from None
    socket = aiohttp.web.WebSocketResponse(protocols=PROTOCOLS)
    await socket.prepare(raw)
    header = port.to_bytes(2, "little")
    await socket.send_bytes(b"\x00" + header)
    await socket.send_bytes(b"\x01" + header)
    try:
        reader, writer = await asyncio.open_connection(*target)
    except OSError as e:
        await socket.send_bytes(b"\x01" + f"cannot connect to port {port}: {e}".encode())
        await socket.close()
        return socket

    async def pod_to_client() -> None:
        while data := await reader.read(65536):
            await socket.send_bytes(b"\x00" + data)
        await socket.close()

    relay = asyncio.create_task(pod_to_client())
    try:
        async for message in socket:
            if message.type == aiohttp.WSMsgType.BINARY and message.data[:1] == b"\x00":
                writer.write(message.data[1:])
                await writer.drain()
    finally:
        writer.close()
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await relay
    return socket
