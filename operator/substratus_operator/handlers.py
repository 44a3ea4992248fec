"""The kopf handlers: when to reconcile which resource.

- a resource's own create/update/resume: reconcile it (kopf retries API errors);
- a child's event (Job, Deployment, Pod): reconcile its owner;
- a Model's or Dataset's event, once it is ready or failed: reconcile the resources that wait
  for it, found through kopf indexes (a wake-up, not polling);
- a build Job's event: reconcile every resource waiting for that content;
- a timer on resources not yet settled: the safety net for a wake-up lost to an API error.
"""

import logging
import os

import kopf

from jupyter_substratus.api import GROUP, KINDS, VERSION, ResourceValidationError, parse
from jupyter_substratus.api import workloads as w
from jupyter_substratus.storage import open_store

from . import names
from .config import Config, ConfigError
from .kube import Kube, client
from .reconcile import InvalidSpec, Reconciler

CONFIG_MAP = os.environ.get("SUBSTRATUS_CONFIG", "substratus-system/substratus")
RESYNC_SECONDS = float(os.environ.get("RESYNC_SECONDS", "30"))
PLURALS = {kind: f"{kind.lower()}s" for kind in KINDS}
CHILD = {names.MANAGED_BY: names.OPERATOR}

logger = logging.getLogger(__name__)


@kopf.on.login()
def login(**kwargs):
    # Explicit: a registry of our own (as in the tests) has none of kopf's default login handlers.
    return kopf.login_via_client(**kwargs)


@kopf.on.startup(backoff=1)
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_):
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [0.5, 1, 2, 5]
    settings.execution.max_workers = 16
    settings.queueing.exit_timeout = 0.5
    settings.persistence.consistency_timeout = 1
    kube = Kube(client())
    namespace, name = CONFIG_MAP.split("/", 1)
    config_map = kube.get("ConfigMap", namespace, name)
    if config_map is None:
        raise kopf.PermanentError(f"the operator's ConfigMap {CONFIG_MAP} does not exist (see operator/README.md)")
    try:
        config = Config.from_data(config_map.get("data") or {})
    except ConfigError as error:
        raise kopf.PermanentError(f"ConfigMap {CONFIG_MAP}: {error}") from None
    uploads = (
        open_store(config.upload_url, signing_key_file=config.signing_key_file, endpoint=config.gcs_endpoint)
        if config.upload_url
        else None
    )
    memo.kube = kube
    memo.reconciler = Reconciler(kube, config, uploads)
    memo.config = config


def _reconcile(memo: kopf.Memo, body) -> None:
    try:
        outcome = memo.reconciler.reconcile(dict(body))
    except InvalidSpec as error:
        raise kopf.PermanentError(str(error)) from None
    if outcome.awaiting_upload:
        raise kopf.TemporaryError("waiting for the build context upload", delay=memo.config.upload_poll_seconds)


def _reconcile_by_name(memo: kopf.Memo, kind: str, namespace: str, name: str) -> None:
    body = memo.kube.get(kind, namespace, name)
    if body is not None and not body["metadata"].get("deletionTimestamp"):
        try:
            memo.reconciler.reconcile(body)
        except InvalidSpec:
            pass  # reported in its status by the reconcile


def _settled(body, **_) -> bool:
    status = body.get("status") or {}
    if status.get("ready"):
        return True
    condition = w.condition_type(body["kind"])
    return any(
        c.get("type") == condition and c.get("reason") in w.FAILURE_REASONS for c in status.get("conditions", [])
    )


def _waiting_on(body, namespace, name, **_) -> dict:
    """Index: (namespace, what) -> (kind, name) of this resource, for each thing it waits for."""
    spec = body.get("spec") or {}
    keys = [
        (namespace, kind, (spec.get(field) or {}).get("name"))
        for kind, field in (("Model", "model"), ("Dataset", "dataset"))
        if spec.get(field)
    ]
    build = spec.get("build") or {}
    if build:
        try:
            resource = parse({k: body[k] for k in ("apiVersion", "kind", "spec")} | {"metadata": {"name": name}})
        except ResourceValidationError:
            resource = None
        if resource is not None:
            keys.append((namespace, "build", w.build_plan(resource).tag))
    return {key: (body["kind"], name) for key in keys}


def _waiters(indexes: dict, key: tuple) -> set:
    found = set()
    for index in indexes.values():
        found.update(index.get(key, ()))
    return found


for _kind, _plural in PLURALS.items():
    kopf.index(GROUP, VERSION, _plural, id=f"waiting_{_plural}")(_waiting_on)

    @kopf.on.resume(GROUP, VERSION, _plural, id="reconcile-resumed", backoff=1, when=lambda **kw: not _settled(**kw))
    @kopf.on.create(GROUP, VERSION, _plural, id="reconcile-created", backoff=1)
    @kopf.on.update(GROUP, VERSION, _plural, id="reconcile-updated", backoff=1)
    def reconcile(body, memo: kopf.Memo, **_):
        _reconcile(memo, body)

    @kopf.timer(
        GROUP,
        VERSION,
        _plural,
        interval=RESYNC_SECONDS,
        initial_delay=RESYNC_SECONDS,
        backoff=1,
        when=lambda **kw: not _settled(**kw),
    )
    def resync(body, memo: kopf.Memo, **_):
        _reconcile_by_name(memo, body["kind"], body["metadata"]["namespace"], body["metadata"]["name"])


def _index_kwargs(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k.startswith("waiting_")}


@kopf.on.event(GROUP, VERSION, "models")
@kopf.on.event(GROUP, VERSION, "datasets")
def dependency_changed(body, namespace, name, type, memo: kopf.Memo, **kwargs):
    if type is None or (type == "MODIFIED" and not _settled(body)):
        return  # the initial listing (resume handlers cover it), or still on its way
    for kind, waiter in _waiters(_index_kwargs(kwargs), (namespace, body["kind"], name)):
        _reconcile_by_name(memo, kind, namespace, waiter)


def _news_for_the_owner(body, type, role) -> bool:
    if type is None:
        return False  # the initial listing: the owners' resume handlers cover it
    if body["kind"] == "Job":
        finished = any(
            c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
            for c in (body.get("status") or {}).get("conditions", [])
        )
        return finished or type == "DELETED"
    if body["kind"] == "Pod":
        # A Job's pods carry its labels; the Job reports for them. A Server's pods tell what its
        # Deployment does not: a crash loop, an image that cannot be pulled, no node.
        return role in (w.Role.NOTEBOOK.value, w.Role.SERVER.value)
    return True


@kopf.on.event("batch", "v1", "jobs", labels=CHILD)
@kopf.on.event("apps", "v1", "deployments", labels=CHILD)
@kopf.on.event("", "v1", "pods", labels=CHILD)
def child_changed(body, namespace, type, memo: kopf.Memo, **kwargs):
    labels = body["metadata"].get("labels", {})
    if not _news_for_the_owner(body, type, labels.get(names.ROLE)):
        return
    if labels.get(names.ROLE) == "build":
        owners = _waiters(_index_kwargs(kwargs), (namespace, "build", labels.get(names.BUILD_TAG)))
    else:
        owners = {(labels.get(names.OWNER_KIND), labels.get(names.OWNER_NAME))}
    for kind, name in owners:
        if kind in KINDS and name:
            _reconcile_by_name(memo, kind, namespace, name)
