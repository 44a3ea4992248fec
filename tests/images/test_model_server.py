"""The model server on a tiny Llama, through the official `openai` client and plain HTTP."""

from __future__ import annotations

import json
import threading

import httpx
import openai
import pytest

PROMPT = "Q: color of sky?\nA:"
CHAT = [{"role": "user", "content": "color of sky?"}]


@pytest.fixture(scope="module")
def server(tiny_model_server):
    """The tiny Llama as the model loader left it, mounted (symlinked) at model/ as the local backend
    does, max_new_tokens 12: the session's server, as these tests only ask it."""
    return tiny_model_server


@pytest.fixture(scope="module")
def model_name(model_artifacts):
    """The loader's manifest names the model's source; the server goes by that name."""
    return json.loads((model_artifacts("llama") / "manifest.json").read_text())["source"]


@pytest.fixture(scope="module")
def client(server):
    with openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0) as made:
        yield made


def test_models_names_the_served_model(client, model_name):
    assert [m.id for m in client.models.list().data] == [model_name]


def test_completion(client):
    done = client.completions.create(model="model", prompt=PROMPT, max_tokens=8, temperature=0)
    choice = done.choices[0]
    assert isinstance(choice.text, str) and choice.finish_reason in ("stop", "length")
    assert done.usage.prompt_tokens > 0 and 0 < done.usage.completion_tokens <= 8
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


def test_streamed_completion_is_the_same_text_token_by_token(client):
    whole = client.completions.create(model="model", prompt=PROMPT, max_tokens=10, temperature=0)
    chunks = list(
        client.completions.create(
            model="model", prompt=PROMPT, max_tokens=10, temperature=0, stream=True,
            stream_options={"include_usage": True},
        )
    )  # fmt: skip
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert "".join(texts) == whole.choices[0].text
    assert len([t for t in texts if t]) > 1, "the text came in one piece, not streamed"
    assert chunks[-2].choices[0].finish_reason == whole.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_chat_streamed_and_not_agree(client):
    whole = client.chat.completions.create(model="model", messages=CHAT, max_tokens=10, temperature=0)
    assert whole.choices[0].message.role == "assistant"
    chunks = list(client.chat.completions.create(model="model", messages=CHAT, max_tokens=10, temperature=0,
                                                 stream=True))  # fmt: skip
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == whole.choices[0].finish_reason


def test_chat_uses_the_tokenizers_template(client, toy_tokenizer):
    """The fixture's template renders 'user: ...\\nassistant:'; the prompt token count shows it was used."""
    done = client.chat.completions.create(model="model", messages=CHAT, max_tokens=1)
    rendered = toy_tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert done.usage.prompt_tokens == len(toy_tokenizer(rendered, add_special_tokens=False)["input_ids"])


def test_stop_sequence_cuts_the_text(client):
    free = client.completions.create(model="model", prompt=PROMPT, max_tokens=12, temperature=0).choices[0].text
    assert len(free) > 4, free
    stop = free[2:4]
    cut = free[: free.index(stop)]
    done = client.completions.create(model="model", prompt=PROMPT, max_tokens=12, temperature=0, stop=[stop])
    assert (done.choices[0].text, done.choices[0].finish_reason) == (cut, "stop")
    streamed = client.completions.create(model="model", prompt=PROMPT, max_tokens=12, temperature=0, stop=stop,
                                         stream=True)  # fmt: skip
    assert "".join(c.choices[0].text for c in streamed) == cut


def test_sampling_with_a_seed_repeats(client):
    def once():
        return client.completions.create(model="model", prompt=PROMPT, max_tokens=8, temperature=1.0, seed=7)

    assert once().choices[0].text == once().choices[0].text


def test_max_new_tokens_param_is_the_default(client):
    done = client.completions.create(model="model", prompt=PROMPT)
    assert done.usage.completion_tokens <= 12


def test_generate_takes_a_plain_curl_post(server):
    """The seeds' quickstart: curl -d '{"prompt": ...}' (form content type) answers generated_text."""
    body = json.dumps({"prompt": PROMPT, "max_new_tokens": 5, "temperature": 0})
    answer = httpx.post(server.url + "/generate", content=body,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["generated_text"], str)
    assert answer.json()["usage"]["completion_tokens"] <= 5


def test_readiness(server, model_name):
    assert httpx.get(server.url + "/").json() == {"status": "ready", "model": model_name}


def test_concurrent_requests_all_answer(server):
    answers = []

    def ask():
        answers.append(httpx.post(server.url + "/v1/completions", json={"prompt": PROMPT, "max_tokens": 6}, timeout=60))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 4


BAD = {
    "not json": ("/v1/completions", b"{bad", "not valid JSON"),
    "not an object": ("/v1/completions", b"[1]", "JSON object"),
    "no prompt": ("/v1/completions", b"{}", "prompt"),
    "two prompts": ("/v1/completions", b'{"prompt": ["a", "b"]}', "one prompt"),
    "n=2": ("/v1/completions", b'{"prompt": "a", "n": 2}', "n:"),
    "zero tokens": ("/v1/completions", b'{"prompt": "a", "max_tokens": 0}', "max_tokens"),
    "past the context": ("/v1/completions", b'{"prompt": "a", "max_tokens": 5000}', "context is 128"),
    "prompt past the context": ("/v1/completions", json.dumps({"prompt": "Q: " * 300}).encode(), "context"),
    "hot": ("/v1/completions", b'{"prompt": "a", "temperature": 9}', "temperature"),
    "wrong type": ("/v1/completions", b'{"prompt": "a", "temperature": "hot"}', "temperature"),
    "five stops": ("/v1/completions", b'{"prompt": "a", "stop": ["1", "2", "3", "4", "5"]}', "stop"),
    "logprobs": ("/v1/completions", b'{"prompt": "a", "logprobs": 2}', "logprobs"),
    "penalty": ("/v1/completions", b'{"prompt": "a", "presence_penalty": 1}', "presence_penalty"),
    "no messages": ("/v1/chat/completions", b'{"messages": []}', "messages"),
    "unknown role": ("/v1/chat/completions", b'{"messages": [{"role": "robot", "content": "x"}]}', "role"),
    "image": (
        "/v1/chat/completions",
        b'{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}',
        "only text",
    ),
    "generate without prompt": ("/generate", b'{"text": "a"}', "prompt"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_requests_answer_400_with_a_reason(server, case):
    path, body, says = BAD[case]
    answer = httpx.post(server.url + path, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and says in error["message"], error


def test_bad_request_through_the_client_raises_its_400(client):
    with pytest.raises(openai.BadRequestError, match="n: only 1"):
        client.completions.create(model="model", prompt="a", n=2)


def test_unknown_path_and_method_answer_json(server):
    missing = httpx.get(server.url + "/v2/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["message"]
    wrong = httpx.get(server.url + "/v1/completions")
    assert wrong.status_code == 405 and wrong.json()["error"]["message"]
