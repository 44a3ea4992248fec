"""A Notebook with spec.suspendAfterIdle: the flow suspends it once its Jupyter server has had no
activity for that long and no kernel is busy, says so while it stays suspended, and forgets it
when it resumes. Activity is parsed from what a Jupyter server answers."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jupyter_substratus.api import ResourceValidationError, parse
from jupyter_substratus.reconcile import Action, Observed, Progress, Seen, decide
from jupyter_substratus.reconcile.idle import CHECK_EVERY, Activity, activity_of

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
RUNNING = Seen(Progress.SUCCEEDED)


def notebook(**spec):
    return parse(
        {
            "apiVersion": "substratus.ai/v1",
            "kind": "Notebook",
            "metadata": {"name": "nb"},
            "spec": {"image": "substratusai/notebook-base", **spec},
        }
    )


def seen(resource, status=None, activity=None, workload=RUNNING, now=NOW) -> Observed:
    return Observed("Notebook", 1, status or {}, resource, workload=workload, activity=activity, now=now)


def test_idle_past_the_limit_with_no_busy_kernel_suspends():
    watched = notebook(suspendAfterIdle="30m")
    recent = decide(seen(watched, activity=Activity(NOW - timedelta(minutes=29, seconds=50), 0)))
    assert recent.action is Action.NOTHING and recent.ready
    assert recent.status["lastActivity"] == "2026-12-04T11:30:10Z"
    assert recent.recheck_after == timedelta(seconds=10)  # when the limit is reached, not a minute later

    busy = decide(seen(watched, activity=Activity(NOW - timedelta(hours=5), 1)))
    assert busy.action is Action.NOTHING and busy.ready and busy.recheck_after == CHECK_EVERY

    idle = decide(seen(watched, recent.status, Activity(NOW - timedelta(minutes=30), 0)))
    assert idle.action is Action.SUSPEND
    assert (idle.phase, idle.status["idleSuspendedAt"]) == ("Suspended", "2026-12-04T12:00:00Z")
    assert idle.status["conditions"][0]["message"] == "suspending: no activity for 30m"


def test_no_answer_is_never_a_reason_to_suspend_and_its_reason_is_shown():
    decision = decide(seen(notebook(suspendAfterIdle="90s"), activity=None))
    assert decision.action is Action.NOTHING and decision.ready and decision.recheck_after == CHECK_EVERY
    unread = replace(seen(notebook(suspendAfterIdle="90s")), activity_unread="403 Forbidden")
    shown = decide(unread)
    assert shown.ready and shown.status["conditions"][0]["message"] == (
        "answering requests; suspendAfterIdle cannot read its activity: 403 Forbidden"
    )


def test_suspended_for_idleness_says_so_until_it_resumes():
    suspending = decide(seen(notebook(suspendAfterIdle="2h"), activity=Activity(NOW - timedelta(hours=3), 0)))
    suspended = decide(
        seen(notebook(suspendAfterIdle="2h", suspend=True), suspending.status, workload=Seen(Progress.SUSPENDED))
    )
    assert suspended.phase == "Suspended" and suspended.recheck_after is None
    assert suspended.status["conditions"][0]["message"] == (
        "suspended at 2026-12-04T12:00:00Z after 2h without activity (last activity 2026-12-04T09:00:00Z): "
        "the pod is stopped, the work is kept; resume it to start it again"
    )
    resumed = decide(seen(notebook(suspendAfterIdle="2h"), suspended.status, workload=Seen(Progress.PENDING)))
    assert "idleSuspendedAt" not in resumed.status and resumed.phase == "Pending"
    # Suspended by hand later: a plain suspension, not an idle one.
    by_hand = decide(seen(notebook(suspend=True), resumed.status, workload=Seen(Progress.SUSPENDED)))
    assert by_hand.status["conditions"][0]["message"] == "suspended: the pod is stopped, the work is kept"
    assert "lastActivity" not in by_hand.status


def test_without_the_field_nothing_is_watched():
    decision = decide(seen(notebook(), activity=Activity(NOW - timedelta(days=9), 0)))
    assert decision.action is Action.NOTHING and decision.recheck_after is None
    assert "lastActivity" not in decision.status


@pytest.mark.parametrize("value", ["30", "0m", "1d", "30 m", "1234567s", "-5m"])
def test_a_duration_that_is_not_one_is_refused(value):
    with pytest.raises(ResourceValidationError, match="suspendAfterIdle: must be a whole number and s, m or h"):
        notebook(suspendAfterIdle=value)


def test_activity_as_jupyter_server_reports_it():
    status = {"last_activity": "2026-12-04T11:58:01.123456Z", "kernels": 2, "connections": 1, "started": "x"}
    kernels = [{"id": "a", "execution_state": "idle"}, {"id": "b", "execution_state": "busy"}]
    assert activity_of(status, kernels) == Activity(datetime(2026, 12, 4, 11, 58, 1, 123456, tzinfo=UTC), 1)
    assert activity_of({"message": "Forbidden"}, []) is None
    assert activity_of(status, {"message": "no"}) is None
