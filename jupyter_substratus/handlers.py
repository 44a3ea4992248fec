"""Tornado handlers of the REST API under /substratus/api/v1 (described in openapi.yaml).

Every handler is an authenticated, authorized APIHandler; every error is JSON
{"message", "errors"?: [{"path", "message"}]} with a 4xx status for the caller's mistakes.
The handlers only translate HTTP to the backend interface and back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado.http1connection import HTTP1Connection
from tornado.httputil import responses

from jupyter_substratus.api import (
    API_VERSION,
    DEFAULT_IMAGES,
    GPU_TYPES,
    KINDS,
    KINDS_BY_PLURAL,
    ResourceValidationError,
    parse,
)
from jupyter_substratus.api import workloads as w
from jupyter_substratus.api.fields import is_dns_label
from jupyter_substratus.api.trainer_params import TRAINER_PARAMS
from jupyter_substratus.backends import BackendError, BadRequest, ChangeStreamOverflow, NotFound
from jupyter_substratus.export import ExportError, build_context, fine_tune

API_PREFIX = "/substratus/api/v1"
AUTH_RESOURCE = "substratus"
MAX_JSON_DEPTH = 64  # a manifest is a few levels deep; deeper is a mistake or an attack
MAX_TAIL_LINES = 2**63 - 1  # Kubernetes' tailLines is an int64
MAX_PATH_LENGTH = 4096  # PATH_MAX: no file has a longer path
SERVER_SET_METADATA = {
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
}


class SubstratusHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def state(self):
        return self.settings["substratus"]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        reply: dict[str, Any] = {"message": responses.get(status_code, "error")}
        exc_info = kwargs.get("exc_info")
        if exc_info:
            error = exc_info[1]
            if isinstance(error, BackendError):
                reply = error.to_json()
            elif isinstance(error, tornado.web.HTTPError):
                reply["message"] = error.log_message or reply["message"]
            else:
                reply["message"] = "internal error: see the Jupyter server's log"
        self.finish(json.dumps(reply))

    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, BackendError):  # expected: answered, not logged as an uncaught error
            if self._finished:
                return
            self.clear()
            self.set_status(e.status)
            self.write_error(e.status, exc_info=(type(e), e, None))
            return
        super()._handle_request_exception(e)

    # --- request parts ------------------------------------------------------------------------

    def namespace(self) -> str | None:
        namespace = self.get_query_argument("namespace", None)
        if namespace is None or namespace == "":
            return None
        if not is_dns_label(namespace):
            raise BadRequest(
                "namespace must be lowercase letters, digits and '-'",
                [_field("namespace", "must be lowercase letters, digits and '-'")],
            )
        return namespace

    def json_body(self) -> Any:
        too_deep = BadRequest(f"the body nests objects and arrays deeper than {MAX_JSON_DEPTH} levels")
        try:
            body = json.loads(self.request.body or b"")
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the body is not JSON: {e}") from None
        except RecursionError:
            raise too_deep from None
        if _deeper_than(body, MAX_JSON_DEPTH):
            raise too_deep
        return body

    @staticmethod
    def check_plural(plural: str) -> type:
        cls = KINDS_BY_PLURAL.get(plural)
        if cls is None:
            raise NotFound(f"unknown kind {plural!r}: one of {', '.join(KINDS_BY_PLURAL)}")
        return cls

    @staticmethod
    def check_name(name: str) -> None:
        if not is_dns_label(name):
            raise NotFound(f"no resource named {name!r}: names are lowercase letters, digits and '-'")

    def manifest_for(self, plural: str, body: Any, name: str | None = None) -> dict[str, Any]:
        """The validated manifest of a create/replace body for the kind `plural`."""
        cls = self.check_plural(plural)
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object (a manifest)", [_field("", "must be an object")])
        body = {k: v for k, v in body.items() if k != "status"}
        body.setdefault("apiVersion", API_VERSION)
        body.setdefault("kind", cls.__name__)
        if body["kind"] != cls.__name__:
            raise BadRequest(
                f"kind must be {cls.__name__} under /{plural}",
                [_field("kind", f"must be {cls.__name__} under /{plural}, got {body['kind']!r}")],
            )
        try:
            parse(body)
        except ResourceValidationError as e:
            raise BadRequest(str(e).splitlines()[0] + " " + "; ".join(map(str, e.errors)), e.errors) from None
        metadata = body["metadata"]
        if name is not None and metadata["name"] != name:
            raise BadRequest(
                "metadata.name must match the name in the URL",
                [_field("metadata.name", f"must be {name!r}, the name in the URL")],
            )
        namespace = self.namespace()
        if metadata.get("namespace") and namespace and metadata["namespace"] != namespace:
            raise BadRequest(
                "metadata.namespace differs from the namespace query parameter",
                [_field("metadata.namespace", f"must be {namespace!r} or left out")],
            )
        return body

    async def backend(self):
        return await self.state.backend()


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest deeper than `limit` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return False


def _field(path: str, message: str):
    from jupyter_substratus.api import FieldError

    return FieldError(path, message)


# The reasons of a False condition that put a resource in a phase other than "running", so
# clients need not keep their own copy.
REASONS_BY_PHASE = {
    "failed": sorted(w.FAILURE_REASONS),
    "pending": [w.WAITING_FOR_DEPENDENCY, w.DEPENDENCY_NOT_FOUND],
    "building": [w.BUILDING, w.AWAITING_UPLOAD],
    "suspended": [w.SUSPENDED],
}


class InfoHandler(SubstratusHandler):
    """Where this API serves from, and the facts clients would otherwise hard-code."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        backend = await self.backend()
        kinds = [
            {
                "kind": k,
                "plural": cls.names.plural,
                "runToCompletion": cls.run_to_completion,
                "immutableSpec": cls.immutable_spec,
            }
            for k, cls in KINDS.items()
        ]
        self.finish(
            {
                "apiVersion": API_VERSION,
                "backend": self.state.backend_kind,
                "namespace": backend.default_namespace,
                "kinds": kinds,
                "images": DEFAULT_IMAGES,
                "gpuTypes": list(GPU_TYPES),
                "reasons": REASONS_BY_PHASE,
                "trainerParams": [param.to_json() for param in TRAINER_PARAMS],
            }
        )


class CollectionHandler(SubstratusHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, plural: str):
        self.check_plural(plural)
        namespace = self.namespace()
        items = await (await self.backend()).list(plural, namespace)
        self.finish({"items": items})

    @tornado.web.authenticated
    @authorized
    async def post(self, plural: str):
        manifest = self.manifest_for(plural, self.json_body())
        # What the API server sets itself (a manifest copied from a GET carries it) is dropped.
        manifest["metadata"] = {k: v for k, v in manifest["metadata"].items() if k not in SERVER_SET_METADATA}
        created = await (await self.backend()).create(manifest, self.namespace())
        self.set_status(201)
        self.finish(created)


class ResourceHandler(SubstratusHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        obj = await (await self.backend()).get(plural, name, self.namespace())
        self.finish(obj)

    @tornado.web.authenticated
    @authorized
    async def put(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        manifest = self.manifest_for(plural, self.json_body(), name)
        replaced = await (await self.backend()).replace(manifest, self.namespace())
        self.finish(replaced)

    @tornado.web.authenticated
    @authorized
    async def delete(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        backend = await self.backend()
        namespace = self.namespace()
        await backend.delete(plural, name, namespace)
        if plural == "models":
            self.state.forget_export(namespace or backend.default_namespace, name)
        self.set_status(204)
        self.finish()


class RerunHandler(SubstratusHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        created = await (await self.backend()).rerun(plural, name, self.namespace())
        self.set_status(201)
        self.finish(created)


class CancelHandler(SubstratusHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        cancelled = await (await self.backend()).cancel(plural, name, self.namespace())
        self.finish(cancelled)


class UploadHandler(SubstratusHandler):
    """POST a build context: the backend's upload handshake, for clients of this server (kernels)."""

    @tornado.web.authenticated
    @authorized
    async def post(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        md5 = self.get_query_argument("md5Checksum", "")
        request_id = self.get_query_argument("requestID", "")
        if not md5 or not request_id:
            raise BadRequest(
                "md5Checksum and requestID (those of spec.build.upload) are required",
                [_field("md5Checksum" if not md5 else "requestID", "required")],
            )
        if len(self.request.body) > self.state.max_export_bytes:
            raise BadRequest(f"the build context is larger than {self.state.max_export_bytes} bytes")
        backend = await self.backend()
        obj = await backend.get(plural, name, self.namespace())
        wanted = ((obj.get("spec") or {}).get("build") or {}).get("upload") or {}
        if (wanted.get("md5Checksum"), wanted.get("requestID")) != (md5, request_id):
            raise BadRequest(
                f"{name}'s spec.build.upload names another checksum or request id (or none)",
                [
                    _field("md5Checksum", "must be spec.build.upload.md5Checksum"),
                    _field("requestID", "must be spec.build.upload.requestID"),
                ],
            )
        state = await backend.upload(
            plural, name, self.request.body, md5, request_id, self.namespace(), None, self.state.upload_timeout
        )
        self.finish(dataclasses.asdict(state))


class _StreamingHandler(SubstratusHandler):
    """Shared by the streams: stop when the client goes away, or reads nothing for
    SLOW_CLIENT_SECONDS (its connection is closed: nothing waits on it for ever)."""

    SLOW_CLIENT_SECONDS = 30.0

    def initialize(self) -> None:
        self._gone = asyncio.Event()

    def on_connection_close(self) -> None:
        self._gone.set()

    async def send(self, text: str) -> bool:
        if self._gone.is_set():
            return False
        try:
            self.write(text)
            async with asyncio.timeout(self.SLOW_CLIENT_SECONDS):
                await self.flush()
            return True
        except TimeoutError:
            self._gone.set()
            connection = self.request.connection
            assert isinstance(connection, HTTP1Connection), "tornado's HTTP server serves every request over HTTP/1"
            connection.close()
            return False
        except tornado.iostream.StreamClosedError:
            self._gone.set()
            return False


async def _next_or_none(iterator, gone: asyncio.Event, timeout: float | None):
    """The iterator's next item; None on timeout; StopAsyncIteration when it or the client ends."""
    step = asyncio.ensure_future(iterator.__anext__())
    waiter = asyncio.ensure_future(gone.wait())
    try:
        done, _ = await asyncio.wait({step, waiter}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if step in done:
        return step.result()
    step.cancel()
    if waiter in done:
        raise StopAsyncIteration
    return None


class LogsHandler(_StreamingHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, plural: str, name: str):
        self.check_plural(plural)
        self.check_name(name)
        follow = self.get_query_argument("follow", "false").lower() in ("1", "true", "yes")
        tail = self.get_query_argument("tail", None)
        tail_lines = None
        if tail is not None:
            if not re.fullmatch(r"[0-9]{1,19}", tail) or int(tail) > MAX_TAIL_LINES:
                raise BadRequest(
                    f"tail must be a number of lines from 0 to {MAX_TAIL_LINES}",
                    [_field("tail", f"must be a whole number from 0 to {MAX_TAIL_LINES}")],
                )
            tail_lines = int(tail)
        backend = await self.backend()
        lines = backend.logs(plural, name, self.namespace(), follow=follow, tail_lines=tail_lines)
        # The first line (or the end) arrives before any byte is sent, so NotFound stays a 404.
        try:
            first = await _next_or_none(lines, self._gone, None)
        except StopAsyncIteration:
            first = None
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            if first is not None and not await self.send(first + "\n"):
                return
            while True:
                line = await _next_or_none(lines, self._gone, None)
                if line is None or not await self.send(line + "\n"):
                    return
        except StopAsyncIteration:
            pass
        finally:
            await lines.aclose()
        if not self._gone.is_set():
            self.finish()


class EventsHandler(_StreamingHandler):
    """Server-sent events: one `data:` message {"type", "object"} per change, as a watch."""

    @tornado.web.authenticated
    @authorized
    async def get(self):
        namespace = self.namespace()
        kinds = set(filter(None, self.get_query_argument("kinds", "").split(",")))
        unknown = kinds - set(KINDS) - set(KINDS_BY_PLURAL)
        if unknown:
            raise BadRequest(
                f"unknown kinds: {', '.join(sorted(unknown))}", [_field("kinds", f"must name {', '.join(KINDS)}")]
            )
        wanted = {KINDS_BY_PLURAL[k].__name__ if k in KINDS_BY_PLURAL else k for k in kinds}
        backend = await self.backend()
        # Subscribed before the first byte, so no change after the response starts is missed.
        changes = await backend.changes(namespace)
        first = asyncio.ensure_future(changes.__anext__())
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        try:
            if not await self.send("retry: 3000\n: connected\n\n"):
                return
            pending = first
            while not self._gone.is_set():
                waiter = asyncio.ensure_future(self._gone.wait())
                done, _ = await asyncio.wait(
                    {pending, waiter}, timeout=self.state.heartbeat_seconds, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if pending in done:
                    try:
                        event = pending.result()
                    except StopAsyncIteration:
                        break
                    except ChangeStreamOverflow as e:
                        # The front end lists again when EventSource reconnects (after `retry`).
                        await self.send(f"event: overflow\ndata: {json.dumps(e.to_json())}\n\n")
                        break
                    pending = asyncio.ensure_future(changes.__anext__())
                    if wanted and event.object.get("kind") not in wanted:
                        continue
                    if not await self.send(f"data: {json.dumps(event.to_json())}\n\n"):
                        break
                elif not self._gone.is_set() and not await self.send(": heartbeat\n\n"):
                    break
            if not pending.done():
                pending.cancel()
        finally:
            await changes.aclose()
        if not self._gone.is_set():
            self.finish()


class ExportHandler(SubstratusHandler):
    """POST: a notebook (a path in the Jupyter contents) -> a Model built from its directory."""

    @tornado.web.authenticated
    @authorized
    async def post(self):
        body = self.json_body()
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object {path, model}", [_field("", "must be an object")])
        path = body.get("path")
        if not isinstance(path, str) or not path.strip():
            raise BadRequest("path (the notebook's path) is required", [_field("path", "required field is missing")])
        dry_run = body.get("dryRun", False)
        if not isinstance(dry_run, bool):
            raise BadRequest("dryRun must be true or false", [_field("dryRun", "must be a boolean")])
        if dry_run:
            return await self.list_context(self.contents_path(path))
        model = body.get("model")
        if not isinstance(model, dict):
            raise BadRequest(
                "model (the Model manifest to create) is required", [_field("model", "must be a Model manifest")]
            )
        notebook = self.contents_path(path)
        namespace = self.namespace()
        model = {**model, "apiVersion": model.get("apiVersion", API_VERSION), "kind": model.get("kind", "Model")}
        if model["kind"] != "Model":
            raise BadRequest("an export creates a Model", [_field("model.kind", "must be Model")])
        backend = await self.backend()
        try:
            launched = await fine_tune(
                backend,
                notebook.parent,
                notebook.name,
                model,
                namespace=namespace,
                max_bytes=self.state.max_export_bytes,
                base_image=self.state.trainer_image,
                admit=self.state.exports().admit,
            )
        except ExportError as e:
            raise BadRequest(str(e), [_field("path", str(e))]) from None
        except ResourceValidationError as e:
            errors = [_field(f"model.{x.path}" if x.path else "model", x.message) for x in e.errors]
            raise BadRequest("invalid Model: " + "; ".join(map(str, errors)), errors) from None
        export = self.state.exports().start(launched)
        self.set_status(201)
        self.set_header("Location", f"{self.base_url.rstrip('/')}{API_PREFIX}/export/{export.name}")
        self.finish(launched.created)

    async def list_context(self, notebook: Path) -> None:
        """What an export of `notebook` would pack, without creating anything."""
        try:
            context = await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: build_context(
                    notebook.parent,
                    notebook.name,
                    max_bytes=self.state.max_export_bytes,
                    base_image=self.state.trainer_image,
                ),
            )
        except ExportError as e:
            raise BadRequest(str(e), [_field("path", str(e))]) from None
        self.finish(
            {
                "notebook": context.notebook,
                "files": list(context.files),
                "bytes": context.size,
                "dockerfileGenerated": context.dockerfile_generated,
                "contentHash": context.sha256,
            }
        )

    def contents_path(self, path: str) -> Path:
        root = Path(self.settings.get("server_root_dir") or os.getcwd()).expanduser().resolve()
        relative = path.strip().lstrip("/")
        if len(relative) > MAX_PATH_LENGTH:
            raise BadRequest(
                f"path is {len(relative)} characters long: no file has a path over {MAX_PATH_LENGTH}",
                [_field("path", f"must be at most {MAX_PATH_LENGTH} characters")],
            )
        if "\x00" in relative or ".." in Path(relative).parts:
            raise BadRequest(f"path {path!r} leaves the Jupyter root", [_field("path", "must stay inside the root")])
        target = root / relative
        try:
            if target.is_symlink():
                raise BadRequest(
                    f"{path!r} is a symlink: export the notebook it points to",
                    [_field("path", "must not be a symlink")],
                )
            target.resolve().relative_to(root)
            is_file = target.is_file()
        except ValueError:
            raise BadRequest(
                f"path {path!r} leaves the Jupyter root", [_field("path", "must stay inside the root")]
            ) from None
        except OSError as e:
            raise BadRequest(
                f"path {path[:200]!r} cannot be read: {e.strerror}", [_field("path", e.strerror or str(e))]
            ) from None
        if not is_file:
            raise NotFound(f"there is no notebook {path!r}", [_field("path", "no such file")])
        return target


class ExportStatusHandler(SubstratusHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str):
        self.check_name(name)
        backend = await self.backend()
        namespace = self.namespace() or backend.default_namespace
        export = self.state.exports().get(namespace, name)
        if export is None:
            raise NotFound(f"no export of {name!r} since this server started")
        self.finish(export.to_json())


_PLURAL = r"(?P<plural>[^/]+)"
_NAME_PART = r"(?P<name>[^/]+)"

# (route as OpenAPI writes it, regex, handler): the test keeps openapi.yaml true to this list.
ROUTES: list[tuple[str, str, type[SubstratusHandler]]] = [
    ("", "", InfoHandler),
    ("/events", "/events", EventsHandler),
    ("/export", "/export", ExportHandler),
    ("/export/{name}", f"/export/{_NAME_PART}", ExportStatusHandler),
    ("/{plural}", f"/{_PLURAL}", CollectionHandler),
    ("/{plural}/{name}", f"/{_PLURAL}/{_NAME_PART}", ResourceHandler),
    ("/{plural}/{name}/logs", f"/{_PLURAL}/{_NAME_PART}/logs", LogsHandler),
    ("/{plural}/{name}/cancel", f"/{_PLURAL}/{_NAME_PART}/cancel", CancelHandler),
    ("/{plural}/{name}/rerun", f"/{_PLURAL}/{_NAME_PART}/rerun", RerunHandler),
    ("/{plural}/{name}/upload", f"/{_PLURAL}/{_NAME_PART}/upload", UploadHandler),
]


def handlers(base_url: str = "/") -> list[tuple[str, type[SubstratusHandler]]]:
    prefix = base_url.rstrip("/") + API_PREFIX
    return [(prefix + regex + "/?$" if regex else prefix + "/?$", handler) for _, regex, handler in ROUTES]
