"""The entry points added with cancel and the typed trainer params, on the local backend: bad input
is a 4xx with a message and changes nothing; they are behind Jupyter's authentication."""

import asyncio

import httpx
import pytest

from jupyter_substratus.api.workloads import CANCEL_ANNOTATION
from tests.hardening.conftest import loader, manifest

TRAINER = "substratusai/model-trainer-huggingface"


def fine_tune_body(params: str) -> bytes:
    """A fine-tune Model's manifest with `params` as JSON text (Python's JSON reads NaN, Infinity)."""
    return (
        '{"apiVersion": "substratus.ai/v1", "kind": "Model", "metadata": {"name": "tuned"}, "spec": '
        f'{{"image": "{TRAINER}", "model": {{"name": "b"}}, "dataset": {{"name": "d"}}, "params": {params}}}}}'
    ).encode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{"learning_rate": NaN}', "spec.params.learning_rate: must be a finite number, not nan"),
        ('{"num_train_epochs": Infinity}', "spec.params.num_train_epochs: must be a finite number, not inf"),
        ('{"learning_rate": 1' + "0" * 400 + "}", "spec.params.learning_rate: must be a finite number"),
        ('{"max_length": "1e3"}', "spec.params.max_length: must be an integer, not '1e3'"),
        ('{"max_length": "12.0"}', "spec.params.max_length: must be an integer, not '12.0'"),
        ('{"per_device_train_batch_size": 0}', "must be at least 1, not 0"),
        ('{"lora_dropout": "2"}', "spec.params.lora_dropout: must be at most 1, not '2'"),
        ('{"bf16": "sometimes"}', "spec.params.bf16: must be true or false"),
        ('{"max_length": {"tokens": 5}}', "spec.params.max_length"),
    ],
)
async def test_a_trainer_param_the_trainer_would_refuse_is_a_400(rest, backend, params, message):
    answer = await rest("POST", "/{plural}", plural="models", raw=fine_tune_body(params))
    assert answer.status == 400, answer.body
    assert message in answer.json["message"]
    assert answer.json["errors"] and all(e["path"].startswith("spec.params.") for e in answer.json["errors"])
    assert await backend.list("models") == []


async def test_values_the_trainer_reads_are_taken(rest):
    params = '{"max_length": " 64 ", "max_steps": 3.0, "learning_rate": "2e-4", "merge_adapter": "no"}'
    assert (await rest("POST", "/{plural}", plural="models", raw=fine_tune_body(params))).status == 201


async def test_cancel_and_rerun_refuse_what_they_cannot_do_and_change_nothing(rest, backend):
    for action in ("cancel", "rerun"):
        for plural, name, status, words in [
            ("widgets", "x", 404, "unknown kind 'widgets'"),
            ("models", "Bad_Name", 404, "no resource named 'Bad_Name'"),
            ("models", "missing", 404, "missing"),
            ("servers", "x", 400, "only Models and Datasets"),
            ("notebooks", "x", 400, "only Models and Datasets"),
        ]:
            answer = await rest("POST", f"/{{plural}}/{{name}}/{action}", plural=plural, name=name, raw=b"")
            assert answer.status == status and words in answer.json["message"], (action, plural, name, answer.body)
        answer = await rest(
            "POST", f"/{{plural}}/{{name}}/{action}", plural="models", name="x", raw=b"", params={"namespace": "A_B"}
        )
        assert answer.status == 400 and "namespace" in answer.json["message"]
    assert await backend.list("models") == []


async def test_a_stalled_model_is_cancelled_and_runs_again_as_it_was(rest, backend):
    tuned = manifest("Model", "tuned", image=TRAINER, model={"name": "base"}, dataset={"name": "data"})
    assert (await rest("POST", "/{plural}", plural="models", body=tuned)).status == 201
    cancelled = await rest("POST", "/{plural}/{name}/cancel", plural="models", name="tuned", raw=b"")
    assert cancelled.status == 200 and CANCEL_ANNOTATION in cancelled.json["metadata"]["annotations"]
    async with asyncio.timeout(30):
        while (obj := await backend.get("models", "tuned"))["status"].get("phase") != "Failed":
            await asyncio.sleep(0.1)
    assert obj["status"]["conditions"][-1]["reason"] == "Cancelled"
    again = await rest("POST", "/{plural}/{name}/cancel", plural="models", name="tuned", raw=b"")
    assert again.status == 409 and "run it again" in again.json["message"]
    rerun = await rest("POST", "/{plural}/{name}/rerun", plural="models", name="tuned", raw=b"")
    assert rerun.status == 201 and rerun.json["spec"] == obj["spec"]
    assert CANCEL_ANNOTATION not in (rerun.json["metadata"].get("annotations") or {})


async def test_the_new_routes_need_jupyters_authentication(rest, jp_http_port, jp_base_url):
    assert (await rest("POST", "/{plural}", plural="models", body=loader("opt"))).status == 201
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}substratus/api/v1"
    async with httpx.AsyncClient(base_url=base, timeout=10) as anonymous:
        for method, path in [
            ("POST", "/models/opt/cancel"),
            ("POST", "/models/opt/rerun"),
            ("GET", "/servers/opt/proxy/v1/models"),
            ("POST", "/servers/opt/proxy/v1/completions"),
            ("GET", ""),
        ]:
            answer = await anonymous.request(method, path)
            assert answer.status_code == 403, (method, path, answer.status_code)
    opt = await rest("GET", "/{plural}/{name}", plural="models", name="opt")
    assert CANCEL_ANNOTATION not in (opt.json["metadata"].get("annotations") or {})
