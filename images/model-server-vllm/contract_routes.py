"""ASGI middleware that vLLM's OpenAI server loads (--middleware): the container contract's routes
on top of vLLM's own.

  GET /            -> vLLM's /health (200 once the engine serves, as the contract's readiness)
  POST /generate   -> /v1/completions, answered as {"generated_text", "usage"} (the seeds' quickstart)
  a request naming no served model (or none) goes to the Model's own name, as in model-server,
  whose clients (the Lab extension's prompt box) send none.
The served names and the default come from SUBSTRATUS_SERVED_MODELS (JSON list, default first).
"""

import json
import os

_OPENAI_POSTS = ("/v1/completions", "/v1/chat/completions")


class ContractRoutes:
    def __init__(self, app):
        self.app = app
        self.served = json.loads(os.environ.get("SUBSTRATUS_SERVED_MODELS", "[]"))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if path == "/" and method in ("GET", "HEAD"):
            return await self.app({**scope, "path": "/health", "raw_path": b"/health"}, receive, send)
        if method == "POST" and path == "/generate":
            return await self._generate(scope, receive, send)
        if method == "POST" and path in _OPENAI_POSTS and self.served:
            body = _with_model(await _read(receive), self.served)
            return await self.app(scope, _replay(body), send)
        return await self.app(scope, receive, send)

    async def _generate(self, scope, receive, send):
        try:
            asked = json.loads(await _read(receive))
            if not isinstance(asked, dict) or not isinstance(asked.get("prompt"), str):
                raise ValueError("the body must be a JSON object with a string prompt")
        except ValueError as e:
            return await _json(send, 400, {"error": {"message": str(e), "type": "invalid_request_error"}})
        completion = {"prompt": asked["prompt"], "model": self.served[0] if self.served else None}
        for theirs, ours in (("max_new_tokens", "max_tokens"), ("temperature",) * 2, ("top_p",) * 2,
                             ("seed",) * 2, ("stop",) * 2):  # fmt: skip
            if theirs in asked:
                completion[ours] = asked[theirs]
        status, headers, chunks = 500, [], []

        async def capture(message):
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status, headers = message["status"], message.get("headers", [])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        inner = {**scope, "path": "/v1/completions", "raw_path": b"/v1/completions"}
        await self.app(inner, _replay(json.dumps(completion).encode()), capture)
        answer = json.loads(b"".join(chunks) or b"{}")
        if status != 200:
            return await _json(send, status, answer)
        return await _json(send, 200, {"generated_text": answer["choices"][0]["text"], "usage": answer.get("usage")})


def _with_model(body: bytes, served: list[str]) -> bytes:
    try:
        asked = json.loads(body)
    except ValueError:
        return body  # vLLM answers the 400 itself
    if isinstance(asked, dict) and asked.get("model") not in served:
        asked["model"] = served[0]
        return json.dumps(asked).encode()
    return body


async def _read(receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _json(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
