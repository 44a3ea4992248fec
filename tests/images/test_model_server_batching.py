"""Continuous batching in the model server, on a tiny Llama: concurrent streams are generated in
one batch and each gets what it would get alone; the admission bound answers 429; a client that
leaves frees its slot; bad sampling values and huge bodies answer 4xx while GET / stays quick."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.images.fixtures import TOY_PAIRS
from tests.images.serving import serve

PROMPTS = [prompt for prompt, _ in TOY_PAIRS]
LONG = 60  # new tokens per request: enough for the streams to overlap


@pytest.fixture(scope="module")
def server(tmp_path_factory, model_artifacts):
    content = tmp_path_factory.mktemp("serve-batching")
    (content / "model").symlink_to(model_artifacts("llama"), target_is_directory=True)
    with serve(content, {"max_concurrency": 8, "max_queue": 0, "max_request_bytes": 200_000}) as running:
        yield running


def stream_completion(url: str, prompt: str, **fields) -> dict:
    """Streams one completion; returns its text, finish reason and when its first and last chunk came."""
    body = {"prompt": prompt, "max_tokens": LONG, "temperature": 0, "stream": True, **fields}
    texts, reason, first, last = [], None, None, None
    with httpx.stream("POST", url + "/v1/completions", json=body, timeout=120) as answer:
        assert answer.status_code == 200, answer.read()
        for line in answer.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choice = json.loads(line[6:])["choices"][0]
            now = time.monotonic()
            first = first or now
            last = now
            texts.append(choice["text"])
            reason = choice["finish_reason"] or reason
    return {"text": "".join(texts), "reason": reason, "first": first, "last": last}


def concurrently(calls):
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i):
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def most_overlap(streams) -> bool:
    """Whether most streams had begun before the first of them ended. In one batch all have (a
    loaded machine may delay a client's first read past another's end); one at a time, only the
    first would have."""
    first_end = min(s["last"] for s in streams)
    return sum(s["first"] < first_end for s in streams) > len(streams) / 2


def test_eight_concurrent_streams_get_their_own_greedy_completions(server):
    alone = [stream_completion(server.url, prompt) for prompt in PROMPTS]
    together = concurrently([lambda p=prompt: stream_completion(server.url, p) for prompt in PROMPTS])
    assert [(t["text"], t["reason"]) for t in together] == [(a["text"], a["reason"]) for a in alone]
    assert len({a["text"] for a in alone}) > 1, "the prompts should not all give the same text"
    assert most_overlap(together), "the streams ran one after another, not in one batch"


def test_a_seeded_sample_repeats_beside_other_requests(server):
    def seeded():
        return stream_completion(server.url, PROMPTS[0], temperature=1.0, seed=11, max_tokens=20)["text"]

    alone = seeded()
    others = [lambda p=p: stream_completion(server.url, p, temperature=1.0, max_tokens=20) for p in PROMPTS[1:4]]
    beside = concurrently([seeded, *others])[0]
    assert beside == alone


def test_opt_generates_in_the_batch_as_model_generate_does(tmp_path, model_artifacts):
    """OPT's decoder asks the cache its length, which the paged cache lacks (batching.py)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    opt = model_artifacts("opt")
    (tmp_path / "model").symlink_to(opt, target_is_directory=True)
    tokenizer, model = AutoTokenizer.from_pretrained(opt), AutoModelForCausalLM.from_pretrained(opt)
    prompts = PROMPTS[:4]
    expected = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=LONG, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        expected.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    with serve(tmp_path, {"max_concurrency": 4}) as server:
        together = concurrently([lambda p=prompt: stream_completion(server.url, p) for prompt in prompts])
    assert [t["text"] for t in together] == [e.rstrip("\ufffd") for e in expected]
    assert most_overlap(together), "the streams ran one after another, not in one batch"


def test_past_the_bound_answers_429_and_a_client_that_leaves_frees_its_slot(tmp_path, smollm2_dir):
    """On SmolLM2 (about 20 tokens/s here), so that the held request is still generating when the
    client leaves: the slot comes back at once, not when its 300 tokens would have been done."""
    (tmp_path / "model").symlink_to(smollm2_dir, target_is_directory=True)
    small = {"prompt": "Hi", "max_tokens": 1}
    with serve(tmp_path, {"max_concurrency": 1, "max_queue": 0}) as server:
        story = "Once upon a time, in a small village by the sea, there lived an old lighthouse keeper who"
        body = {"prompt": story, "max_tokens": 300, "temperature": 0, "stream": True}
        with httpx.stream("POST", server.url + "/v1/completions", json=body, timeout=60) as running:
            assert running.status_code == 200
            lines = running.iter_lines()  # kept: a dropped iterator closes the connection, which frees the slot
            next(line for line in lines if line.startswith("data: "))  # it is generating
            refused = httpx.post(server.url + "/v1/completions", json=small, timeout=30)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"].isdigit()
            assert "slots" in refused.json()["error"]["message"]
        left = time.monotonic()
        while (again := httpx.post(server.url + "/v1/completions", json=small, timeout=30)).status_code == 429:
            assert time.monotonic() - left < 5, "the slot of the client that left did not come back"
            time.sleep(0.05)
        assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"temperature": 1e-300}, "temperature"),
        ({"temperature": 1e-300, "stream": True}, "temperature"),
        ({"seed": 2**64}, "seed"),
        ({"seed": -(2**63) - 1}, "seed"),
    ],
)
def test_sampling_values_that_cannot_run_answer_400(server, fields, says):
    answer = httpx.post(server.url + "/v1/completions", json={"prompt": "a", "max_tokens": 2, **fields})
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["error"]["message"]


def test_the_largest_seed_is_taken(server):
    body = {"prompt": "a", "max_new_tokens": 2, "temperature": 1, "seed": 2**63 - 1}
    answer = httpx.post(server.url + "/generate", json=body)
    assert answer.status_code == 200, answer.text


def test_a_body_past_the_limit_answers_413(server):
    answer = httpx.post(server.url + "/v1/completions", json={"prompt": "Q: " * 100_000}, timeout=30)
    assert answer.status_code == 413, answer.text
    assert "max_request_bytes" in answer.json()["error"]["message"]


def test_tokenizing_a_big_prompt_leaves_the_event_loop_free(server):
    """A prompt just under the limit takes the tokenizer a while (and is past the context: 400);
    meanwhile GET / answers as fast as ever."""
    big = {"prompt": "Q: color of sky? " * 11_000}
    answer = {}
    thread = threading.Thread(target=lambda: answer.update(r=httpx.post(server.url + "/v1/completions", json=big,
                                                                          timeout=60)))  # fmt: skip
    thread.start()
    slowest = 0.0
    with httpx.Client(timeout=10) as client:
        while thread.is_alive():
            began = time.monotonic()
            assert client.get(server.url + "/").status_code == 200
            slowest = max(slowest, time.monotonic() - began)
    thread.join()
    assert answer["r"].status_code == 400 and "context" in answer["r"].json()["error"]["message"]
    assert slowest < 0.5, f"GET / took {slowest:.2f} s while the prompt was tokenized"
