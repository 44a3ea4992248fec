"""GET /substratus/api/v1 serves the facts the front end reads instead of keeping its own copy."""

from jupyter_substratus.api import DEFAULT_IMAGES, GPU_TYPES, KINDS
from jupyter_substratus.api import workloads as w
from jupyter_substratus.api.trainer_params import TRAINER_PARAMS


async def test_the_facts_are_the_python_ones(api):
    facts = (await api("GET", "/")).json
    assert facts["images"] == DEFAULT_IMAGES
    assert facts["gpuTypes"] == list(GPU_TYPES)
    assert set(facts["reasons"]["failed"]) == w.FAILURE_REASONS
    assert w.WAITING_FOR_DEPENDENCY in facts["reasons"]["pending"]
    assert w.AWAITING_UPLOAD in facts["reasons"]["building"]
    assert [p["name"] for p in facts["trainerParams"]] == [p.name for p in TRAINER_PARAMS]
    learning_rate = next(p for p in facts["trainerParams"] if p["name"] == "learning_rate")
    assert learning_rate["type"] == "number" and learning_rate["minimum"] == 0 and learning_rate["description"]
    assert "maximum" not in learning_rate  # unset bounds are left out, not null


async def test_kind_traits(api):
    kinds = {k["kind"]: k for k in (await api("GET", "/")).json["kinds"]}
    assert set(kinds) == set(KINDS)
    completing = {k for k, traits in kinds.items() if traits["runToCompletion"]}
    assert completing == {"Model", "Dataset"}
    assert {k for k, traits in kinds.items() if traits["immutableSpec"]} == completing


async def test_the_facts_need_authentication(api):
    answer = await api("GET", "/", headers={"Authorization": ""}, check=False)
    assert answer.status == 403
