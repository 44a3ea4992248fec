"""A local port forwarded to a pod's port, the way `kubectl port-forward` does it.

Each connection accepted on 127.0.0.1 opens a port-forward stream of its own through the API
server (the kubernetes client's `stream.portforward`, a websocket) and copies bytes both ways
in two threads until either side closes. A browser opens many connections; each gets a stream.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

BUFFER = 64 * 1024


class PortForward:
    """Listens on 127.0.0.1:`local_port` (0: any free port) until `close()`; `connect()` opens a
    socket-like stream to the pod's port (blocking; called in the accepting thread)."""

    def __init__(self, connect: Callable[[], socket.socket], local_port: int = 0):
        self._connect = connect
        self._listener = socket.create_server(("127.0.0.1", local_port))
        self.local_port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=f"substratus-forward-{self.local_port}", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            remote = self._connect()
        except Exception as e:  # noqa: BLE001 - one failed connection must not end the forward
            log.warning("port-forward: cannot open a stream to the pod: %s", e)
            client.close()
            return
        threading.Thread(target=_copy, args=(remote, client), daemon=True).start()
        _copy(client, remote)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()


def _copy(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(BUFFER):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()
