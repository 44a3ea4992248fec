"""Hold responses to jupyter_substratus/openapi.yaml: the status is listed for the operation,
and a JSON body validates against the schema the file gives for it."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

import yaml
from jsonschema import Draft202012Validator


@cache
def spec() -> dict:
    return yaml.safe_load(files("jupyter_substratus").joinpath("openapi.yaml").read_text())


def check(method: str, template: str, status: int, body: bytes, content_type: str) -> None:
    operation = spec()["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}, not in openapi.yaml: {body[:300]!r}"
    response = responses[str(status)]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content")
    if not content:
        return
    media = content_type.split(";")[0].strip()
    assert media in content, f"{method} {template} {status}: {media} not in {list(content)}"
    if media == "application/json":
        schema = (
            {"$ref": content[media]["schema"]["$ref"], "components": spec()["components"]}
            if "$ref" in content[media]["schema"]
            else content[media]["schema"]
        )
        Draft202012Validator(schema).validate(json.loads(body))
