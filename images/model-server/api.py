"""The HTTP API: GET / (readiness), POST /generate, and the OpenAI-compatible /v1/completions,
/v1/chat/completions (both with SSE streaming) and GET /v1/models.

The server serves one base model, and its LoRA adapters when it has some: a request whose `model`
names an adapter gets that adapter; any other `model` (or none: the prompt box of the Lab
extension sends none) gets the base. Responses name the model that answered.
"""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from chat import ChatTemplateError, chat_prompt_ids
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from generation import Generator, Overloaded, Sampling, Usage
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sampling import MIN_TEMPERATURE
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException


class ServerState:
    """What the routes need; `generator` stays None until the model is loaded."""

    def __init__(self, model_id: str, max_new_tokens: int, max_request_bytes: int):
        self.model_id = model_id
        self.max_new_tokens = max_new_tokens
        self.max_request_bytes = max_request_bytes
        self.created = int(time.time())
        self.generator: Generator | None = None


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.headers = status, message, param, kind, headers


# A full server answers 429 and asks the client to come back after this many seconds.
RETRY_AFTER_S = 1
INT64 = 2**63


def _temperature(value: float | None) -> float | None:
    if value is not None and 0 < value < MIN_TEMPERATURE:
        raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE}, not {value}")
    return value


# --- requests ---------------------------------------------------------------------------------


class _Request(BaseModel):
    """Fields common to both OpenAI endpoints. Unknown fields are ignored, as OpenAI clients send
    many; options this server cannot honour are refused when set to anything but their default."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    n: int = 1
    stream: bool = False
    stream_options: dict | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    presence_penalty: float = 0
    frequency_penalty: float = 0
    logit_bias: dict | None = None

    @model_validator(mode="after")
    def _supported(self):
        if self.n != 1:
            raise ValueError("n: only 1 choice per request is supported")
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(self, name):
                raise ValueError(f"{name}: not supported (leave it at 0)")
        if self.logit_bias:
            raise ValueError("logit_bias: not supported")
        if self.stop is not None and len(self.stops()) > 4:
            raise ValueError("stop: at most 4 stop sequences")
        return self

    _check_temperature = field_validator("temperature")(_temperature)

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


class CompletionRequest(_Request):
    prompt: str | list[str]
    echo: bool = False
    logprobs: int | None = None
    suffix: str | None = None
    best_of: int | None = None

    @model_validator(mode="after")
    def _one_prompt(self):
        if isinstance(self.prompt, list) and len(self.prompt) != 1:
            raise ValueError("prompt: exactly one prompt per request is supported")
        for name in ("echo", "logprobs", "suffix"):
            if getattr(self, name):
                raise ValueError(f"{name}: not supported")
        if self.best_of not in (None, 1):
            raise ValueError("best_of: not supported")
        return self

    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_only(cls, content):
        """OpenAI's content parts: only text parts, joined; images and audio are refused."""
        if not isinstance(content, list):
            return content
        kinds = {part.get("type") if isinstance(part, dict) else type(part).__name__ for part in content}
        others = sorted(map(str, kinds - {"text"}))
        if others:
            raise ValueError(f"only text content parts are supported, not {', '.join(others)}")
        return "".join(str(part.get("text", "")) for part in content)

    def as_dict(self) -> dict:
        return {"role": "system" if self.role == "developer" else self.role, "content": self.content or ""}


class ChatRequest(_Request):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool = False

    @model_validator(mode="after")
    def _no_logprobs(self):
        if self.logprobs:
            raise ValueError("logprobs: not supported")
        return self


class GenerateRequest(BaseModel):
    """The seeds' quickstart: `{"prompt": ...}` -> `{"generated_text": ...}`."""

    model_config = ConfigDict(extra="forbid")

    prompt: str
    max_new_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    seed: int | None = Field(None, ge=-INT64, lt=INT64)
    stop: list[str] = []

    _check_temperature = field_validator("temperature")(_temperature)

    def stops(self) -> list[str]:
        return self.stop


# --- the app ----------------------------------------------------------------------------------


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(title="Substratus model server", docs_url=None, redoc_url=None)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, e: ApiError):
        return _error(e.status, e.message, e.param, e.kind, e.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "json_invalid":
            return _error(400, f"the body is not valid JSON: {message.removeprefix('Invalid JSON: ')}")
        if first["type"] == "model_type" and len(first["loc"]) <= 1:
            return _error(400, "the body must be a JSON object")
        param = ".".join(str(p) for p in first["loc"] if p != "body")
        if param:
            message = f"{param}: {message}"
        elif ":" in message:  # a whole-request check names its field first
            param = message.split(":", 1)[0]
        return _error(400, message, param or None)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException):
        kind = "not_found_error" if e.status_code == 404 else "invalid_request_error"
        return _error(e.status_code, str(e.detail), kind=kind)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, e: Exception):
        return _error(500, f"generation failed: {e}", kind="server_error")

    @app.get("/")
    async def ready():
        if state.generator is None:
            return JSONResponse({"status": "loading", "model": state.model_id}, status_code=503)
        return {"status": "ready", "model": state.model_id}

    @app.get("/v1/models")
    async def models():
        card = {"object": "model", "created": state.created, "owned_by": "substratus"}
        adapters = state.generator.adapters if state.generator is not None else []
        return {
            "object": "list",
            "data": [{"id": state.model_id, **card}]
            + [{"id": name, "parent": state.model_id, **card} for name in adapters],
        }

    @app.post("/generate")
    async def generate(request: Request):
        body = await _parse(request, state, GenerateRequest)
        generator = _loaded(state)
        prompt_ids = await asyncio.to_thread(generator.encode, body.prompt)
        usage = Usage()
        pieces = _open(generator, prompt_ids, _sampling(state, generator, prompt_ids, body.max_new_tokens, body), usage)
        text, _ = await _collect(request, pieces)
        return {"generated_text": text, "usage": usage.as_dict()}

    @app.post("/v1/completions")
    async def completions(request: Request):
        body = await _parse(request, state, CompletionRequest)
        generator = _loaded(state)
        prompt_ids = await asyncio.to_thread(generator.encode, body.text())
        usage = Usage()
        pieces = _open(generator, prompt_ids, _sampling(state, generator, prompt_ids, body.max_tokens, body), usage)
        reply = _Reply(state, "cmpl", "text_completion", _adapter(generator, body))
        if body.stream:
            return _sse(_completion_chunks(reply, pieces, usage if body.include_usage() else None))
        text, reason = await _collect(request, pieces)
        choice = {"index": 0, "text": text, "finish_reason": reason, "logprobs": None}
        return reply.body(choices=[choice], usage=usage.as_dict())

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _parse(request, state, ChatRequest)
        generator = _loaded(state)
        messages = [m.as_dict() for m in body.messages]
        try:
            prompt_ids = await asyncio.to_thread(chat_prompt_ids, generator.tokenizer, messages)
        except ChatTemplateError as e:
            raise ApiError(400, str(e), "messages") from e
        usage = Usage()
        asked = body.max_completion_tokens or body.max_tokens
        pieces = _open(generator, prompt_ids, _sampling(state, generator, prompt_ids, asked, body), usage)
        reply = _Reply(state, "chatcmpl", "chat.completion", _adapter(generator, body))
        if body.stream:
            return _sse(_chat_chunks(reply, pieces, usage if body.include_usage() else None))
        text, reason = await _collect(request, pieces)
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}
        return reply.body(choices=[choice], usage=usage.as_dict())

    return app


def _error(
    status: int, message: str, param: str | None = None, kind: str = "invalid_request_error", headers=None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


async def _parse(request: Request, state: ServerState, schema: type[BaseModel]):
    """The body as JSON whatever its Content-Type: the seeds' quickstart posts with plain `curl -d`.
    A body past max_request_bytes is refused before it is read whole."""
    limit = state.max_request_bytes
    declared = request.headers.get("content-length", "")
    raw = b""
    if not (declared.isdigit() and int(declared) > limit):
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:
                break
    if len(raw) > limit or (declared.isdigit() and int(declared) > limit):
        raise ApiError(
            413, f"the request body is over {limit} bytes, this server's limit (param max_request_bytes)", "prompt"
        )
    try:
        return schema.model_validate_json(raw)
    except ValidationError as e:
        raise RequestValidationError(e.errors()) from e


def _loaded(state: ServerState) -> Generator:
    if state.generator is None:
        raise ApiError(503, "the model is still loading; GET / answers 200 once it is ready", kind="unavailable")
    return state.generator


def _sampling(state: ServerState, generator: Generator, prompt_ids: list[int], asked: int | None, body) -> Sampling:
    if not prompt_ids:
        raise ApiError(400, "prompt: empty, and this tokenizer has no BOS token to start from", "prompt")
    room = None if generator.context_length is None else generator.context_length - len(prompt_ids)
    if room is not None and room < 1:
        raise ApiError(
            400, f"prompt: {len(prompt_ids)} tokens, this model's context is {generator.context_length}", "prompt"
        )
    if asked is not None and room is not None and asked > room:
        raise ApiError(
            400,
            f"max_tokens: {asked} new tokens do not fit: the prompt is {len(prompt_ids)} tokens "
            f"and this model's context is {generator.context_length}",
            "max_tokens",
        )
    if asked is not None:
        max_new = asked
    else:  # the server's default, shortened to what the context leaves
        max_new = state.max_new_tokens if room is None else min(state.max_new_tokens, room)
    temperature, top_p = generator.defaults(body.temperature, body.top_p)
    return Sampling(max_new, temperature, top_p, body.seed, body.stops(), _adapter(generator, body))


def _adapter(generator: Generator, body) -> str | None:
    model = getattr(body, "model", None)
    return model if model in generator.adapters else None


def _open(generator: Generator, prompt_ids: list[int], sampling: Sampling, usage: Usage):
    try:
        return generator.open(prompt_ids, sampling, usage)
    except Overloaded as e:
        raise ApiError(
            429,
            f"{e}; retry in {RETRY_AFTER_S} s",
            kind="rate_limit_error",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        ) from e


async def _collect(request: Request, pieces) -> tuple[str, str | None]:
    """(text, finish reason) of a whole generation; stopped early if the client goes away,
    so that a client that gave up does not keep the model busy."""

    async def generate() -> tuple[str, str | None]:
        parts, reason = [], None
        async for piece in pieces:
            parts.append(piece.text)
            reason = piece.finish_reason
        return "".join(parts), reason

    async def client_gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    work, gone = asyncio.ensure_future(generate()), asyncio.ensure_future(client_gone())
    await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
    gone.cancel()
    if not work.done():
        work.cancel()  # its generation stops at the next token
        with contextlib.suppress(asyncio.CancelledError):
            await work
        raise ApiError(499, "the client went away before the generation finished")
    return work.result()


class _Reply:
    """id/created/model shared by every chunk of one response."""

    def __init__(self, state: ServerState, prefix: str, kind: str, adapter: str | None = None):
        self.id = f"{prefix}-{uuid.uuid4().hex}"
        self.kind = kind
        self.created = int(time.time())
        self.model = adapter or state.model_id

    def body(self, kind: str | None = None, **fields) -> dict:
        return {"id": self.id, "object": kind or self.kind, "created": self.created, "model": self.model, **fields}


def _sse(events: AsyncIterator[dict]) -> EventSourceResponse:
    async def lines():
        async for event in events:
            yield json.dumps(event, separators=(",", ":"))
        yield "[DONE]"

    return EventSourceResponse(lines(), ping=15)


async def _completion_chunks(reply: _Reply, pieces, usage: Usage | None):
    try:
        async for piece in pieces:
            if piece.text or piece.finish_reason:
                choice = {"index": 0, "text": piece.text, "finish_reason": piece.finish_reason, "logprobs": None}
                yield reply.body(choices=[choice])
    except Exception as e:
        yield _stream_error(e)
        return
    if usage is not None:
        yield reply.body(choices=[], usage=usage.as_dict())


async def _chat_chunks(reply: _Reply, pieces, usage: Usage | None):

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return reply.body("chat.completion.chunk", choices=[choice])

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for piece in pieces:
            if piece.text:
                yield chunk({"content": piece.text})
            if piece.finish_reason:
                yield chunk({}, piece.finish_reason)
    except Exception as e:
        yield _stream_error(e)
        return
    if usage is not None:
        yield reply.body("chat.completion.chunk", choices=[], usage=usage.as_dict())


def _stream_error(e: Exception) -> dict:
    """Headers are sent by now: the failure goes to the client as an event, OpenAI-style."""
    return {"error": {"message": f"generation failed: {e}", "type": "server_error", "param": None, "code": None}}
