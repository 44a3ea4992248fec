"""The jupyter_server extension: settings (traitlets), the backend's lifetime, the routes."""

from __future__ import annotations

import asyncio
import os

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from traitlets import Float, Int, Unicode

from .backends import Backend, choose_kind, make_backend
from .backends.jupyter import SERVER_INFO_ENV
from .export import DEFAULT_MAX_BYTES, TRAINER_IMAGE, ExportManager
from .handlers import handlers
from .proxy import proxy_handlers


class SubstratusState:
    """What the handlers share: the settings and the backend, made on first use (so that the
    server starts, and answers 503 with a message, where no cluster is configured)."""

    def __init__(self, app: SubstratusExtension):
        self.backend_kind = choose_kind(app.backend, app.kubeconfig or None)
        if self.backend_kind == "local":
            self.options = {
                "namespace": app.namespace or None,
                "state_dir": app.local_state_dir or None,
                "max_jobs": app.local_max_jobs,
                "base_url": app.linked_server.base_url,
            }
        else:
            self.options = {
                k: v
                for k, v in {
                    "namespace": app.namespace or None,
                    "kubeconfig": app.kubeconfig or None,
                    "context": app.kube_context or None,
                }.items()
                if v
            }
        self.max_export_bytes = app.max_export_bytes
        self.trainer_image = app.trainer_image
        self.heartbeat_seconds = app.heartbeat_seconds
        self.upload_timeout = app.upload_timeout
        self._backend: Backend | None = None
        self._exports: ExportManager | None = None
        self._lock = asyncio.Lock()

    async def backend(self) -> Backend:
        if self._backend is None:
            async with self._lock:
                if self._backend is None:
                    loop = asyncio.get_running_loop()
                    # Reading a kubeconfig touches files: off the loop too.
                    self._backend = await loop.run_in_executor(
                        None, lambda: make_backend(self.backend_kind, **self.options)
                    )
        return self._backend

    def exports(self) -> ExportManager:
        if self._exports is None:
            assert self._backend is not None, "backend() first"
            self._exports = ExportManager(self._backend, self.upload_timeout)
        return self._exports

    def forget_export(self, namespace: str, name: str) -> None:
        """A Model was deleted: its export (and the context it may still hold) goes too."""
        if self._exports is not None:
            self._exports.forget(namespace, name)

    async def close(self) -> None:
        if self._exports is not None:
            await self._exports.close()
        if self._backend is not None:
            await self._backend.close()
        self._backend = self._exports = None


class SubstratusExtension(ExtensionApp):
    name = "jupyter_substratus"
    load_other_extensions = True

    backend = Unicode(
        "auto",
        config=True,
        help="Where resources live: kubernetes, local (this machine), or auto: "
        "kubernetes where a cluster is configured, local otherwise.",
    )
    local_state_dir = Unicode(
        "", config=True, help="The local backend's state directory; default: <jupyter data dir>/substratus."
    )
    local_max_jobs = Int(1, config=True, help="The local backend's loaders and trainers running at a time.")
    namespace = Unicode("", config=True, help="The Kubernetes namespace; default: the kubeconfig context's.")
    kubeconfig = Unicode(
        "",
        config=True,
        help="A kubeconfig file; default: $KUBECONFIG, ~/.kube/config, or the in-cluster service account.",
    )
    kube_context = Unicode("", config=True, help="The kubeconfig context; default: the current one.")
    max_export_bytes = Int(DEFAULT_MAX_BYTES, config=True, help="The largest build context an export sends.")
    trainer_image = Unicode(TRAINER_IMAGE, config=True, help="The base image of generated Dockerfiles.")
    heartbeat_seconds = Float(15.0, config=True, help="Seconds between keep-alive comments on /events.")
    upload_timeout = Float(600.0, config=True, help="Seconds an export waits for the signed URL and the PUT.")

    @property
    def linked_server(self) -> ServerApp:
        """The server this extension is linked to (it is, before any initialize_* is called)."""
        if self.serverapp is None:
            raise RuntimeError("the jupyter_substratus extension is not linked to a Jupyter server yet")
        return self.serverapp

    def initialize_settings(self) -> None:
        self.state = SubstratusState(self)
        self.settings["substratus"] = self.state
        # Kernels inherit this process's environment: this tells the magics in them where this
        # server is (its runtime file: url and token), so they use its backend, never their own.
        os.environ[SERVER_INFO_ENV] = self.linked_server.info_file

    def initialize_handlers(self) -> None:
        # Routes are absolute (they carry the server's base_url), so use the web app directly.
        server = self.linked_server
        server.web_app.add_handlers(".*$", [*handlers(server.base_url), *proxy_handlers(server.base_url)])

    async def stop_extension(self) -> None:
        if os.environ.get(SERVER_INFO_ENV) == self.linked_server.info_file:
            del os.environ[SERVER_INFO_ENV]
        await self.state.close()
