"""The %substratus / %%substratus magics: argument parsing and output; the work is the library's.

%substratus list [KIND]                    %substratus get KIND NAME
%substratus delete KIND NAME               %substratus logs KIND NAME [--follow]
%substratus rerun KIND NAME                %substratus cancel [KIND] NAME (KIND: model unless given)
%substratus dataset NAME --url URL [--url URL ...] [--param k=v ...]
%substratus import NAME HF_MODEL [--gpu TYPE:COUNT]
%%substratus finetune NAME --model BASE --dataset DATA [--gpu TYPE:COUNT] [--param k=v ...] [--wait]
%substratus serve NAME --model MODEL [--gpu TYPE:COUNT]  -> an openai.OpenAI client
%substratus notebook NAME [--model M] [--dataset D] [--gpu TYPE:COUNT] [--suspend-after-idle 30m]
--gpu TYPE:COUNT, or --gpu COUNT for COUNT GPUs of any type
%substratus use [--backend auto|jupyter|kubernetes|local] [--namespace NS] [--kubeconfig PATH] [--context CTX]
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_substratus.api import (
    API_VERSION,
    DEFAULT_IMAGES,
    KINDS,
    KINDS_BY_PLURAL,
    ResourceValidationError,
    parse,
)
from jupyter_substratus.api.fields import is_dns_label
from jupyter_substratus.api.workloads import CANCEL_ANNOTATION
from jupyter_substratus.backends import BackendError, NotFound
from jupyter_substratus.export import ExportError, fine_tune, fine_tune_manifest, gpu_resource, parse_gpu

from .display import Progress, ResourceTable, progress_text, trainer_status
from .session import Session

_ALIASES = {k.lower(): cls.names.plural for k, cls in KINDS.items()}
_ALIASES.update({p: p for p in KINDS_BY_PLURAL})
_ALIASES.update({short: cls.names.plural for cls in KINDS.values() for short in cls.names.short_names})
_ALIASES.update({p[:-1]: p for p in KINDS_BY_PLURAL})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None):
        if message:
            print(message, end="")
        raise _Handled


class _Handled(Exception):
    """Help was printed: nothing more to do."""


def _plural(kind: str) -> str:
    plural = _ALIASES.get(kind.lower())
    if plural is None:
        raise UsageError(f"unknown kind {kind!r}: use one of {', '.join(KINDS_BY_PLURAL)}")
    return plural


def _gpu(text: str) -> tuple[str | None, int]:
    try:
        return parse_gpu(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _namespace(text: str) -> str:
    if not is_dns_label(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a namespace: lowercase letters, digits and '-', at most 63 characters"
        )
    return text


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not key=value")
    try:
        parsed = json.loads(value)
        if not isinstance(parsed, (int, float, bool, str)):
            parsed = value
    except ValueError:
        parsed = value
    return key, parsed


def _parser() -> _Parser:
    parser = _Parser(prog="%substratus", description="Substratus from IPython", add_help=True)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list resources (all kinds, or one)")
    p.add_argument("kind", nargs="?")
    for name, text in (
        ("get", "show one resource"),
        ("delete", "delete a resource"),
        ("rerun", "run a failed or interrupted Model or Dataset again"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("kind")
        p.add_argument("name")
    p = sub.add_parser("cancel", help="stop a Model's or Dataset's run (it fails, reason Cancelled)")
    p.add_argument("kind", nargs="?", default="model", help="model (the default) or dataset")
    p.add_argument("name")
    p = sub.add_parser("logs", help="print a resource's workload log")
    p.add_argument("kind")
    p.add_argument("name")
    p.add_argument("--follow", "-f", action="store_true")

    p = sub.add_parser("dataset", help="create a Dataset that downloads URLs")
    p.add_argument("name")
    p.add_argument("--url", action="append", required=True, dest="urls")
    p.add_argument("--image", default=DEFAULT_IMAGES["datasetLoader"])
    p.add_argument("--param", action="append", type=_param, default=[], dest="params")
    p.add_argument("--wait", action="store_true")

    p = sub.add_parser("import", help="import a model from Hugging Face")
    p.add_argument("name")
    p.add_argument("source", help="the Hugging Face model id, e.g. facebook/opt-125m")
    p.add_argument("--image", default=DEFAULT_IMAGES["modelLoader"])
    p.add_argument("--gpu", type=_gpu)
    p.add_argument("--param", action="append", type=_param, default=[], dest="params")
    p.add_argument("--wait", action="store_true")

    p = sub.add_parser("finetune", help="(cell magic) fine-tune a model with the cell's code")
    p.add_argument("name")
    p.add_argument("--model", required=True, help="the base Model")
    p.add_argument("--dataset", required=True, help="the Dataset to train on")
    p.add_argument("--gpu", type=_gpu)
    p.add_argument("--param", action="append", type=_param, default=[], dest="params")
    p.add_argument("--dir", help="also ship the files of this directory (honouring .dockerignore)")
    p.add_argument("--wait", action="store_true", help="wait until the Model is ready")
    p.add_argument("--timeout", type=float, default=3600.0)

    p = sub.add_parser("serve", help="serve a Model; returns an OpenAI client for it")
    p.add_argument("name")
    p.add_argument("--model", required=True)
    p.add_argument("--image", help="default: vLLM with --gpu, else the transformers model server")
    p.add_argument("--gpu", type=_gpu)
    p.add_argument("--param", action="append", type=_param, default=[], dest="params")
    p.add_argument("--timeout", type=float, default=1800.0)

    p = sub.add_parser("notebook", help="open a GPU notebook")
    p.add_argument("name")
    p.add_argument("--model")
    p.add_argument("--dataset")
    p.add_argument("--image", default=DEFAULT_IMAGES["notebook"])
    p.add_argument("--gpu", type=_gpu)
    p.add_argument("--suspend-after-idle", metavar="DURATION", help="e.g. 30m: suspended when idle that long")
    p.add_argument("--timeout", type=float, default=1800.0)

    p = sub.add_parser("use", help="choose the backend, namespace, kubeconfig or context")
    p.add_argument("--backend", choices=["auto", "jupyter", "kubernetes", "local"])
    p.add_argument("--namespace", "-n", type=_namespace)
    p.add_argument("--kubeconfig")
    p.add_argument("--context")
    return parser


def _manifest(
    kind: str,
    name: str,
    image: str | None,
    params: list[tuple[str, Any]] | dict | None = None,
    gpu: tuple[str | None, int] | None = None,
    **refs: str | None,
) -> dict:
    spec: dict[str, Any] = {"image": image} if image else {}
    for key, value in refs.items():
        if value:
            spec[key] = {"name": value}
    if params:
        spec["params"] = dict(params)
    if gpu:
        spec["resources"] = {"gpu": gpu_resource(gpu)}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}


def _notebook_of(code: str) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "finetune",
                "metadata": {},
                "outputs": [],
                "source": code,
            }
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _client_for(client, model: str):
    """`client` with `model` filled in where a call leaves it out (completions and chat completions)."""
    for resource in (client.completions, client.chat.completions):
        resource.create = functools.partial(_with_model, resource.create, model)
    return client


def _with_model(create, model: str, *args, **kwargs):
    kwargs.setdefault("model", model)
    return create(*args, **kwargs)


@magics_class
class SubstratusMagics(Magics):
    def __init__(self, shell, session: Session | None = None):
        super().__init__(shell)
        self.session = session or Session()

    @property
    def rich(self) -> bool:
        return getattr(self.shell, "kernel", None) is not None

    @line_cell_magic
    def substratus(self, line: str, cell: str | None = None):
        """Substratus from IPython: %substratus --help"""
        try:
            args = _parser().parse_args(shlex.split(line))
        except _Handled:
            return None
        except ValueError as e:  # shlex: unbalanced quotes
            raise UsageError(f"cannot read the arguments: {e}") from None
        if args.command == "finetune" and cell is None:
            raise UsageError(
                "finetune is a cell magic: %%substratus finetune NAME --model BASE --dataset DATA\n"
                "with the training code in the cell"
            )
        if cell is not None and args.command != "finetune":
            raise UsageError(f"%%substratus {args.command} takes no cell; use the line magic %substratus")
        try:
            return getattr(self, f"_{args.command}")(args, cell)
        except ResourceValidationError as e:
            raise UsageError("\n".join(f"{err.path or 'manifest'}: {err.message}" for err in e.errors)) from None
        except (BackendError, ExportError) as e:
            print(f"substratus: {getattr(e, 'message', None) or e}", file=sys.stderr)
            return None

    # --- commands ----------------------------------------------------------------------------

    def _use(self, args, cell):
        self.session.configure(
            backend=args.backend, namespace=args.namespace, kubeconfig=args.kubeconfig, context=args.context
        )
        print(f"Using {self.session.where}, namespace {self.session.namespace}.")

    def _list(self, args, cell):
        plurals = [_plural(args.kind)] if args.kind else list(KINDS_BY_PLURAL)
        objects = [obj for plural in plurals for obj in self.session.list(plural)]
        return ResourceTable(objects)

    def _get(self, args, cell):
        obj = self.session.get(_plural(args.kind), args.name)
        trainer = trainer_status(obj)
        return ResourceTable([obj], [f"Progress: {progress_text(trainer)}"] if trainer else [])

    def _delete(self, args, cell):
        plural = _plural(args.kind)
        self.session.delete(plural, args.name)
        print(f"Deleted {KINDS_BY_PLURAL[plural].__name__} {args.name}.")

    def _rerun(self, args, cell):
        plural = _plural(args.kind)
        self.session.rerun(plural, args.name)
        print(f"Created {KINDS_BY_PLURAL[plural].__name__} {args.name} again; it runs from the start.")

    def _cancel(self, args, cell):
        plural = _plural(args.kind)
        kind = KINDS_BY_PLURAL[plural].__name__
        obj = self.session.cancel(plural, args.name)
        requested = obj["metadata"]["annotations"][CANCEL_ANNOTATION]
        print(
            f"Cancel of {kind} {args.name} requested at {requested}: its run stops and it fails with reason "
            f"Cancelled (%substratus get {kind.lower()} {args.name}); %substratus rerun {kind.lower()} {args.name} "
            "runs it again."
        )

    def _logs(self, args, cell):
        self.session.logs(_plural(args.kind), args.name, args.follow, lambda line: print(line, flush=True))

    def _create(self, manifest: dict, wait: bool, timeout: float = 3600.0) -> ResourceTable:
        parse(manifest)
        created = self.session.create(manifest)
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        if not wait:
            print(f"Created {kind} {name}.")
            return ResourceTable([created])
        return ResourceTable([self._wait(KINDS[kind].names.plural, name, timeout, created)])

    def _wait(self, plural: str, name: str, timeout: float, created: dict | None = None) -> dict:
        """Show each state until ready; the state as created first, however fast the cluster moves on."""
        from .display import state_of

        kind = KINDS_BY_PLURAL[plural].__name__
        progress = Progress(f"{kind} {name}", self.rich)

        def show(obj: dict) -> None:
            trainer = trainer_status(obj)
            if trainer is None:
                progress.update(" ".join(filter(None, state_of(obj))))
            else:
                percentage = trainer.progress_percentage
                fraction = percentage / 100 if percentage is not None else None
                progress.update(f"{state_of(obj)[0]}: {progress_text(trainer, percentage=False)}", fraction)

        if created is not None:
            show(created)
        obj = self.session.wait(plural, name, show, timeout)
        progress.done("ready")
        return obj

    def _dataset(self, args, cell):
        params = {"urls": ",".join(args.urls), **dict(args.params)}
        return self._create(_manifest("Dataset", args.name, args.image, params), args.wait)

    def _import(self, args, cell):
        params = {"name": args.source, **dict(args.params)}
        return self._create(_manifest("Model", args.name, args.image, params, args.gpu), args.wait)

    def _warn_if_missing(self, plural: str, name: str) -> None:
        try:
            self.session.get(plural, name)
        except NotFound:
            kind = KINDS_BY_PLURAL[plural].__name__
            print(
                f"substratus: warning: no {kind} named {name} yet; the fine-tune will wait for it "
                f"(%substratus list {plural})",
                file=sys.stderr,
            )

    def _finetune(self, args, cell):
        self._warn_if_missing("models", args.model)
        self._warn_if_missing("datasets", args.dataset)
        with tempfile.TemporaryDirectory(prefix="substratus-finetune-") as scratch:
            directory = Path(args.dir) if args.dir else Path(scratch)
            notebook = "substratus-finetune.ipynb"
            if (directory / notebook).exists() and args.dir:
                raise UsageError(f"{directory / notebook} exists: the cell would overwrite it")
            (directory / notebook).write_text(json.dumps(_notebook_of(cell)))
            try:
                model = fine_tune_manifest(args.name, args.model, args.dataset, dict(args.params), args.gpu)
                launched = self.session.run(lambda backend: fine_tune(backend, directory, notebook, model))
            finally:
                if args.dir:
                    (directory / notebook).unlink()
        progress = Progress(f"Model {args.name}", self.rich)

        def on_progress(state):
            if state.step == "uploading":
                progress.update(f"uploading {state.total / 1024:.1f} kB", state.sent / max(state.total, 1))
            else:
                progress.update(state.message)

        state = self.session.run(lambda backend: launched.upload(on_progress, min(args.timeout, 600.0)))
        context = launched.context
        summary = "already uploaded" if state.step == "skipped" else f"uploaded {len(context.data) / 1024:.1f} kB"
        if not args.wait:
            progress.done(
                f"{summary}; building and training in the background (%substratus get models {args.name}, or --wait)"
            )
            return ResourceTable([self.session.get("models", args.name)])
        return ResourceTable([self._wait("models", args.name, args.timeout)])

    def _serve(self, args, cell):
        manifest = _manifest("Server", args.name, args.image, args.params, args.gpu, model=args.model)
        parse(manifest)
        created = self.session.create(manifest)
        obj = self._wait("servers", args.name, args.timeout, created)
        endpoint = self.session.server_endpoint(obj["metadata"]["name"])
        try:
            import openai
        except ImportError:
            print(f"Server {args.name} is serving at {endpoint.url} (pip install openai for a client).")
            return endpoint.url
        print(f"Server {args.name} is serving at {endpoint.url}.")
        # The credentials are the endpoint's (the Jupyter token, or the kube client's), set by the
        # http client on each request; the api_key the openai client insists on is never sent.
        http_client = openai.DefaultHttpxClient(**endpoint.client_options())
        return _client_for(
            openai.OpenAI(base_url=endpoint.url + "/v1", api_key="substratus", http_client=http_client), args.name
        )

    def _notebook(self, args, cell):
        manifest = _manifest("Notebook", args.name, args.image, None, args.gpu, model=args.model, dataset=args.dataset)
        if args.suspend_after_idle:
            manifest["spec"]["suspendAfterIdle"] = args.suspend_after_idle
        parse(manifest)
        created = self.session.create(manifest)
        obj = self._wait("notebooks", args.name, args.timeout, created)
        url = (obj.get("status") or {}).get("url") or ""
        if self.rich:
            from IPython.display import HTML, display

            display(HTML(f'<a href="{url}" target="_blank">Open notebook {args.name}</a>'))
        else:
            print(f"Notebook {args.name} is open at {url}")
        return None
