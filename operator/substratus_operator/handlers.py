"""The kopf handlers: what the operator watches, and what each event puts in the work queue.

kopf's watches feed a cache and a work queue (workqueue.py); a few workers reconcile what is
queued. The events that queue a resource:

- its own events (not the echo of our own status write), and at start every resource not
  settled or changed since its status was written (kopf's initial listing);
- a child's news (a Job finished or gone, a Deployment's or a Server's pod's change): its owner;
- a Model or Dataset turning ready or failed: the resources that wait for it (`Waiters`, kept
  from the same events: a wake-up, not polling);
- a build Job's news: every resource waiting for that content;
- one periodic resync: every resource not yet settled (its `status.phase`), the safety net for a
  wake-up lost to an API error, and how a running fine-tune's trainerStatus and a missing
  dependency's Stalled are brought up to date. A failed reconcile is tried again after a
  growing delay.

Nothing here writes to the API but the reconciles: no progress or diff-base annotations. And
no kopf indexes either: each costs a handler call on every event of its kind, and the cache
and `Waiters` keep the same from the events these handlers get anyway.
"""

import asyncio
import gc
import logging
import os

import kopf

from jupyter_substratus.api import GROUP, KINDS, VERSION
from jupyter_substratus.api import workloads as w
from jupyter_substratus.reconcile import settled

from . import names
from .config import Config, ConfigError
from .kube import Kube, configuration
from .reconcile import InvalidSpec, Reconciler
from .storage import ObjectStore, open_store
from .waiters import Waiters
from .workqueue import Cache, WorkQueue, run_workers

CONFIG_MAP = os.environ.get("SUBSTRATUS_CONFIG", "substratus-system/substratus")
RESYNC_SECONDS = float(os.environ.get("RESYNC_SECONDS", "30"))
WORKERS = int(os.environ.get("WORKERS", "8"))
CHILD = {names.MANAGED_BY: names.OPERATOR}

logger = logging.getLogger(__name__)


@kopf.on.login()
def login(**kwargs):
    """kopf's watches use the same credentials as our own calls (kube.configuration)."""
    # Explicit: a registry of our own (as in the tests) has none of kopf's default login handlers.
    config = configuration()
    header = config.get_api_key_with_prefix("BearerToken") or config.get_api_key_with_prefix("authorization")
    scheme, _, token = (header or "").rpartition(" ")
    return kopf.ConnectionInfo(
        server=config.host,
        ca_path=config.ssl_ca_cert,
        insecure=not config.verify_ssl,
        username=config.username or None,
        password=config.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=config.cert_file,
        private_key_path=config.key_file,
    )


async def _setup() -> tuple[Kube, Config, ObjectStore | None]:
    kube = Kube(await asyncio.to_thread(configuration))
    try:
        return kube, *await _read_config(kube)
    except BaseException:
        await kube.close()
        raise


async def _read_config(kube: Kube) -> tuple[Config, ObjectStore | None]:
    namespace, name = CONFIG_MAP.split("/", 1)
    config_map = await kube.get("ConfigMap", namespace, name)
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
    return config, uploads


class NoDiffBase(kopf.DiffBaseStorage):
    """No change-detecting handlers here (create/update/resume): kopf has nothing to compare, so
    it need not build a diff-base essence (a deep copy) of every object on every event."""

    def build(self, *, body, extra_fields=None):
        return None

    def fetch(self, *, body):
        return None

    def store(self, *, body, patch, essence):
        pass


@kopf.on.startup(backoff=1)
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_):
    # Only event handlers: kopf keeps no progress (the prefix would keep any under our group) and
    # no diff-base.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = NoDiffBase()
    settings.posting.level = logging.WARNING
    # kopf says "Handler ... succeeded" at INFO for every watch event; our handlers only queue
    # work, the reconciles log what matters.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.watching.server_timeout = 300
    settings.networking.error_backoffs = [0.5, 1, 2, 5]
    settings.execution.max_workers = 2  # kopf's own thread pool: only the login handler is sync
    settings.queueing.exit_timeout = 0.5
    settings.persistence.consistency_timeout = 1
    kube, config, uploads = await _setup()
    memo.kube, memo.config = kube, config
    memo.cache, memo.queue, memo.waiters = Cache(), WorkQueue[tuple](), Waiters()
    memo.reconciler = Reconciler(kube, config, uploads, cache=memo.cache)
    # What the start loaded (the API client's modules, kopf, pydantic: ~200,000 objects) lives as
    # long as the operator: out of the collector's sight, a full collection is not a 100 ms pause.
    gc.freeze()
    memo.tasks = [
        asyncio.create_task(run_workers(memo.queue, WORKERS, lambda key: _handle(memo, key)), name="reconcile"),
        asyncio.create_task(_resync(memo), name="resync"),
    ]


@kopf.on.cleanup()
async def stop(memo: kopf.Memo, **_):
    for task in getattr(memo, "tasks", ()):
        task.cancel()
    await asyncio.gather(*getattr(memo, "tasks", ()), return_exceptions=True)
    if hasattr(memo, "queue"):
        memo.queue.close()
    if hasattr(memo, "kube"):
        await memo.kube.close()
    gc.unfreeze()  # an operator run inside another program (the tests) leaves its heap as it was


async def _handle(memo: kopf.Memo, key: tuple) -> None:
    """One reconcile of one queued resource, from its cached body."""
    kind, namespace, name = key
    body = memo.cache.get(kind, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        memo.queue.succeeded(key)
        return
    try:
        outcome = await memo.reconciler.reconcile(body)
    except InvalidSpec as error:
        # Reported in its status; nothing to retry until the spec changes (an event).
        memo.queue.succeeded(key)
        logger.info("%s %s/%s: invalid spec: %s", kind, namespace, name, error)
    except Exception as error:
        delay = memo.queue.retry(key)
        logger.warning("%s %s/%s: reconcile failed, again in %s s: %s", kind, namespace, name, delay, error)
    else:
        memo.queue.succeeded(key)
        if outcome.awaiting_upload:  # the user's upload: look again after a while
            memo.queue.add_after(key, memo.config.upload_poll_seconds)
        elif outcome.recheck_after is not None:  # a Notebook watched for idleness
            memo.queue.add_after(key, outcome.recheck_after.total_seconds())


async def _resync(memo: kopf.Memo) -> None:
    """The safety net: every resource not yet settled back in the queue, every RESYNC_SECONDS."""
    while True:
        await asyncio.sleep(RESYNC_SECONDS)
        for body in memo.cache.of_kinds(KINDS):
            if not settled(body):
                memo.queue.add(Cache.key(body))


def _reported(body) -> bool:
    """Whether its status speaks of its current spec (the generation its conditions observed)."""
    generation = body["metadata"].get("generation")
    observed = {c.get("observedGeneration") for c in (body.get("status") or {}).get("conditions", [])}
    return generation is None or generation in observed


def _queue_waiters(memo: kopf.Memo, key: tuple) -> None:
    namespace = key[0]
    for kind, name in memo.waiters.of(key):
        memo.queue.add((kind, namespace, name))


@kopf.on.event(GROUP, VERSION, "models")
@kopf.on.event(GROUP, VERSION, "datasets")
@kopf.on.event(GROUP, VERSION, "servers")
@kopf.on.event(GROUP, VERSION, "notebooks")
async def resource_changed(event, namespace, name, type, memo: kopf.Memo, **_):
    obj = event["object"]
    news = memo.cache.seen(obj, deleted=type == "DELETED")
    memo.waiters.update(obj, deleted=type == "DELETED")
    key = Cache.key(obj)
    if type is None:
        # kopf's initial listing (a start): what is not settled, or changed since its status
        if not settled(obj) or not _reported(obj):
            memo.queue.add(key)
        return
    if type != "DELETED" and news:
        memo.queue.add(key)
    if obj["kind"] in ("Model", "Dataset") and (type != "MODIFIED" or settled(obj)):
        # ready, failed or gone: whatever waits for it looks again
        _queue_waiters(memo, (namespace, obj["kind"], name))


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
async def child_changed(event, body, namespace, type, memo: kopf.Memo, **_):
    if body["kind"] == "Job":  # the reconciles read their Jobs from the cache, never with a GET
        memo.cache.seen(event["object"], deleted=type == "DELETED")
    labels = body["metadata"].get("labels", {})
    if not _news_for_the_owner(body, type, labels.get(names.ROLE)):
        return
    if labels.get(names.ROLE) == "build":
        owners = memo.waiters.of((namespace, "build", labels.get(names.BUILD_TAG)))
    else:
        owners = {(labels.get(names.OWNER_KIND), labels.get(names.OWNER_NAME))}
    for kind, name in owners:
        if kind in KINDS and name:
            memo.queue.add((kind, namespace, name))
