"""The Stalled phase counts from the moment a dependency was first found missing, not from the
main condition's first False (the creation, an upload, a build, a wait for a dependency that
exists all come before and would spend the grace period)."""

from datetime import UTC, datetime, timedelta

from jupyter_substratus.api import parse
from jupyter_substratus.api.workloads import DEPENDENCY_NOT_FOUND, WAITING_FOR_DEPENDENCY
from jupyter_substratus.reconcile import Observed, decide

GRACE = timedelta(seconds=60)
CREATED = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
LOADING = {"ready": False, "conditions": []}


def resource(kind: str, name: str, status: dict | None = None, **spec):
    return parse(
        {"apiVersion": "substratus.ai/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}
        | ({"status": status} if status else {})
    )


TUNED = resource("Model", "tuned", image="trainer", model={"name": "base"}, dataset={"name": "data"})


def observe(status: dict, now: datetime, found: dict) -> Observed:
    return Observed(kind="Model", generation=1, status=status, resource=TUNED, found=found, now=now)


def test_the_grace_period_starts_when_the_dependency_goes_missing():
    base, data = resource("Model", "base", LOADING, image="loader"), resource("Dataset", "data", LOADING, image="d")
    # Ten minutes waiting for a base Model and Dataset that exist and load: Pending, never Stalled.
    waiting = decide(observe({}, CREATED, {("Model", "base"): base, ("Dataset", "data"): data}), GRACE)
    waited = decide(
        observe(waiting.status, CREATED + timedelta(minutes=10), {("Model", "base"): base, ("Dataset", "data"): data}),
        GRACE,
    )
    assert (waited.phase, waited.status["conditions"][0]["reason"]) == ("Pending", WAITING_FOR_DEPENDENCY)
    assert "dependencyMissingSince" not in waited.status

    # Then the Dataset is deleted: the main condition has been False for ten minutes, but the
    # Dataset has been missing for none of them.
    gone_at = CREATED + timedelta(minutes=10, seconds=1)
    gone = decide(observe(waited.status, gone_at, {("Model", "base"): base}), GRACE)
    assert gone.status["conditions"][0]["lastTransitionTime"] == "2026-12-03T12:00:00Z"
    assert (gone.phase, gone.status["conditions"][0]["reason"]) == ("Pending", DEPENDENCY_NOT_FOUND)
    assert gone.status["dependencyMissingSince"] == "2026-12-03T12:10:01Z"

    still = decide(observe(gone.status, gone_at + GRACE - timedelta(seconds=1), {("Model", "base"): base}), GRACE)
    assert still.phase == "Pending" and still.status["dependencyMissingSince"] == "2026-12-03T12:10:01Z"
    stalled = decide(observe(still.status, gone_at + GRACE, {("Model", "base"): base}), GRACE)
    assert stalled.phase == "Stalled"
    assert stalled.status["conditions"][0]["message"] == (
        "Dataset 'data' does not exist; create it or fix spec.dataset.name"
    )

    # Found again: the wait is over, and a later one starts its own grace period.
    back = decide(observe(stalled.status, gone_at + GRACE * 2, {("Model", "base"): base, ("Dataset", "data"): data}))
    assert back.phase == "Pending" and "dependencyMissingSince" not in back.status


def test_a_missing_dependency_is_reported_before_one_that_loads():
    base = resource("Model", "base", LOADING, image="loader")
    missing = decide(observe({}, CREATED, {("Model", "base"): base}), GRACE)
    assert missing.status["conditions"][0]["reason"] == DEPENDENCY_NOT_FOUND
    assert missing.status["conditions"][0]["message"] == "Dataset data does not exist (yet)"
    # Missing all along while the base Model loads: Stalled after the grace period.
    later = decide(observe(missing.status, CREATED + GRACE, {("Model", "base"): base}), GRACE)
    assert later.phase == "Stalled"


def test_a_missing_dependency_at_creation_stalls_after_the_grace_period():
    first = decide(observe({}, CREATED, {}), GRACE)
    assert first.phase == "Pending" and first.status["dependencyMissingSince"] == "2026-12-03T12:00:00Z"
    assert decide(observe(first.status, CREATED + GRACE, {}), GRACE).phase == "Stalled"
