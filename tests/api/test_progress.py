from datetime import UTC, datetime

from jupyter_substratus.api.progress import trainer_status

LINES = [
    "Loading checkpoint shards: 100%",
    '{"time": 1764700000.0, "step": 5, "max_steps": 20, "epoch": 0.25, "loss": 2.5, "eta_seconds": 30.2}',
    "{not json",
    '{"time": 1764700010.0, "step": 10, "max_steps": 20, "epoch": 0.5, "loss": 1.25, "eta_seconds": 9.6}',
    '{"message": "a JSON log line without a step"}',
]


def test_the_last_progress_line_is_the_status():
    status = trainer_status(LINES)
    assert status is not None
    assert status.model_dump(by_alias=True, exclude_none=True) == {
        "currentStep": 10,
        "totalSteps": 20,
        "currentEpoch": 0.5,
        "loss": 1.25,
        "progressPercentage": 50,
        "estimatedRemainingSeconds": 10,
        "lastUpdatedTime": datetime.fromtimestamp(1764700010.0, UTC),
    }


def test_no_progress_line_no_status():
    assert trainer_status(["starting", "{}", '{"step": true}']) is None


def test_unknown_total_leaves_the_percentage_out():
    status = trainer_status(['{"step": 3, "loss": NaN, "eta_seconds": -1}'])
    assert status is not None
    assert (status.current_step, status.total_steps, status.progress_percentage) == (3, None, None)
    assert status.loss is None and status.estimated_remaining_seconds is None
