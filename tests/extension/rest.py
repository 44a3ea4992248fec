"""Call a route of the REST API as openapi.yaml names it, through pytest-jupyter's jp_fetch, and
check the answer against that file (the `api` and `rest` fixtures of the extension and hardening
tests)."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from tests.extension import openapi_check


@dataclass
class Answer:
    status: int
    body: bytes
    headers: Any

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def caller(jp_fetch):
    """await call("GET", "/{plural}/{name}", plural="models", name="x", body=..., params=...)."""

    async def call(
        method: str,
        template: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        check: bool = True,
        **parts: str,
    ) -> Answer:
        path = template.format(**{k: urllib.parse.quote(v, safe="") for k, v in parts.items()})
        segments = ["substratus", "api", "v1", *[s for s in path.split("/") if s]]
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if body is not None or raw is not None:
            kwargs["body"] = raw if raw is not None else json.dumps(body)
        if params:
            kwargs["params"] = params
        if headers is not None:
            kwargs["headers"] = headers
        response = await jp_fetch(*segments, **kwargs)
        answer = Answer(response.code, response.body or b"", response.headers)
        if check:
            openapi_check.check(
                method, template, answer.status, answer.body, response.headers.get("Content-Type", "application/json")
            )
        return answer

    return call
