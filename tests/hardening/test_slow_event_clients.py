"""Issue 12, item 9 (the push channel): a reader that stops never grows memory; a slow SSE client
gets a last `overflow` event and is dropped, and one that reads nothing is disconnected."""

import asyncio
import socket

import pytest

from jupyter_substratus.backends import ChangeStreamOverflow
from jupyter_substratus.backends.base import CHANGE_QUEUE_LIMIT
from jupyter_substratus.handlers import EventsHandler
from tests.hardening.conftest import manifest

BIG = "x" * 20_000  # so that a few hundred events fill the sockets' buffers


async def noisy_resource(backend) -> dict:
    obj = await backend.create(manifest("Notebook", "noisy", image="somewhere/else", suspend=True))
    obj["metadata"]["annotations"] = {"big": BIG}
    return obj


def change_many(backend, obj: dict, count: int) -> None:
    for _ in range(count):
        backend.store.write(obj)


async def test_a_stream_nobody_reads_stays_bounded_and_says_so(backend):
    obj = await noisy_resource(backend)
    idle, reading = await backend.changes(), await backend.changes()
    change_many(backend, obj, CHANGE_QUEUE_LIMIT * 3)
    assert idle._queue.qsize() <= 1
    with pytest.raises(ChangeStreamOverflow, match="list again"):
        await idle.__anext__()
    assert idle._queue not in backend.subscribers
    await reading.aclose()


async def open_events(jp_http_port, jp_base_url, jp_auth_header) -> socket.socket:
    """A raw HTTP client with a small receive buffer: the server's writes block soon after it stops reading."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", jp_http_port))
    headers = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    request = f"GET {jp_base_url}substratus/api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n"
    await loop.sock_sendall(sock, request.encode())
    received = b""
    while b": connected" not in received:
        received += await loop.sock_recv(sock, 65536)
    return sock


async def read_until(sock: socket.socket, marker: bytes, timeout: float = 30.0) -> bytes:
    loop = asyncio.get_running_loop()
    received = b""
    async with asyncio.timeout(timeout):
        while marker not in received[-200_000:]:
            chunk = await loop.sock_recv(sock, 1 << 20)
            if not chunk:
                break
            received += chunk
    return received


async def test_a_slow_client_gets_a_last_event_and_is_dropped(
    backend, http_server, jp_http_port, jp_base_url, jp_auth_header
):
    obj = await noisy_resource(backend)
    sock = await open_events(jp_http_port, jp_base_url, jp_auth_header)
    try:
        for _ in range(6):  # the handler writes until the sockets are full, then its queue fills up
            change_many(backend, obj, CHANGE_QUEUE_LIMIT // 2)
            await asyncio.sleep(0.05)
        received = await read_until(sock, b"event: overflow")
        assert b"event: overflow\ndata: " in received and b"list again" in received
        async with asyncio.timeout(10):
            while backend.subscribers:
                await asyncio.sleep(0.05)
    finally:
        sock.close()


async def test_a_client_that_reads_nothing_is_disconnected(
    backend, http_server, jp_http_port, jp_base_url, jp_auth_header, monkeypatch
):
    monkeypatch.setattr(EventsHandler, "SLOW_CLIENT_SECONDS", 1.0)
    obj = await noisy_resource(backend)
    sock = await open_events(jp_http_port, jp_base_url, jp_auth_header)
    try:
        change_many(backend, obj, 400)
        async with asyncio.timeout(15):
            while backend.subscribers:
                await asyncio.sleep(0.1)
    finally:
        sock.close()
