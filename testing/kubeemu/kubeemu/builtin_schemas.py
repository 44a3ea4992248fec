"""The real schemas of the built-in kinds, from kubernetes-validate's offline copy of the OpenAPI.

What a real API server does with a built-in object that does not fit its Go types:

- a field of the wrong type fails decoding: 400 BadRequest (`json: cannot unmarshal ...`);
- an unknown field is dropped (reported as a warning, or 400 with `?fieldValidation=Strict`);
- a missing required field or an unsupported enum value fails validation: 422 Invalid.

Only the OpenAPI-level checks are here; the hand-written Go validation of each kind (ranges,
formats, cross-field rules) is not, beyond the few checks in admission.py.

Every write of a built-in object is checked, so the check is on the emulator's hot path (an
operator's Job costs about 0.7 ms in jsonschema). A validator compiled from the same schemas by
fastjsonschema answers first (about 0.1 ms); only an object it refuses goes through jsonschema,
which gives every error with its path. testing/kubeemu/contract_tests/test_builtin_schemas.py keeps the two
verdicts equal.
"""

import dataclasses
import functools
import importlib.resources
import json
from collections.abc import Callable, Iterable
from typing import Any

import fastjsonschema
import jsonschema
import referencing

from kubeemu import errors
from kubeemu.errors import FieldError

SCHEMA_VERSION = "v1.33.0-local-strict"  # the Kubernetes version the emulator reports


def _files() -> Any:
    return importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_VERSION


@functools.cache
def _registry() -> referencing.Registry:
    return referencing.Resource.from_contents(_definitions()) @ referencing.Registry()


@functools.cache
def _definitions() -> dict[str, Any]:
    return json.loads((_files() / "_definitions.json").read_text())


@functools.cache
def _schema(api_version: str, kind: str) -> dict[str, Any] | None:
    group, _, version = api_version.rpartition("/")
    name = f"{kind.lower()}-{group.split('.')[0]}-{version}.json" if group else f"{kind.lower()}-{version}.json"
    path = _files() / name
    return json.loads(path.read_text()) if path.is_file() else None


@functools.cache
def validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    """The kind's schema in jsonschema: every error, with its path."""
    schema = _schema(api_version, kind)
    if schema is None:
        return None
    return jsonschema.Draft202012Validator(schema, registry=referencing.Resource.from_contents(schema) @ _registry())


# The keywords these schemas use; each means the same in draft-07, the newest draft fastjsonschema
# compiles. `format` is checked by neither (jsonschema checks it only with a format checker).
_DRAFT7_KEYWORDS = {"type", "additionalProperties", "items", "oneOf"}
_NOT_CHECKED = {"description", "format", "$schema", "$id"}


def draft7(node: Any) -> Any:
    """A schema of the offline copy as draft-07 with local references, for fastjsonschema; fails on
    a keyword whose meaning the translation would not keep."""
    if isinstance(node, list):
        return [draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    translated: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            translated[key] = {name: draft7(schema) for name, schema in value.items()}
        elif key == "$ref":  # "/api/_definitions.json#/$defs/NAME" or "#/$defs/NAME"
            translated[key] = "#/definitions/" + value.rpartition("/")[2]
        elif key in ("enum", "required"):
            translated[key] = value
        elif key in _DRAFT7_KEYWORDS:
            translated[key] = draft7(value)
        elif key not in _NOT_CHECKED and not key.startswith("x-kubernetes-"):
            raise ValueError(f"schema keyword {key!r} has no draft-07 translation here")
    return translated


@functools.cache
def _draft7_definitions() -> dict[str, Any]:
    return {name: draft7(schema) for name, schema in _definitions()["$defs"].items()}


@functools.cache
def fast_validator(api_version: str, kind: str) -> Callable[[Any], Any] | None:
    """The kind's schema compiled by fastjsonschema: raises JsonSchemaValueException at the first error."""
    schema = _schema(api_version, kind)
    if schema is None:
        return None
    translated = {
        **draft7(schema),
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": _draft7_definitions(),
    }
    return fastjsonschema.compile(translated, use_default=False, use_formats=False, detailed_exceptions=False)


def field_path(parts: Iterable[Any]) -> str:
    """`spec.containers[0].ports`, the way the API server names fields."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _go_type(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null"
    )


@dataclasses.dataclass
class Findings:
    unknown: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)  # paths of undeclared fields
    undecodable: list[str] = dataclasses.field(default_factory=list)  # fields of the wrong type
    invalid: list[FieldError] = dataclasses.field(default_factory=list)


def check(obj: dict[str, Any]) -> Findings:
    found = Findings()
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    fast = fast_validator(api_version, kind)
    if fast is None:
        return found
    try:
        fast(obj)
        return found
    except fastjsonschema.JsonSchemaValueException:
        pass  # jsonschema tells what and where
    for error in validator(api_version, kind).iter_errors(obj):
        where = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            declared = error.schema.get("properties", {})
            found.unknown += [(*where, key) for key in error.instance if key not in declared]
        elif error.validator in ("type", "oneOf"):
            expected = error.validator_value if error.validator == "type" else "IntOrString"
            expected = expected if isinstance(expected, str) else expected[0]
            go_field = ".".join(str(p) for p in where if not isinstance(p, int))  # Go names no list indices
            found.undecodable.append(
                f"json: cannot unmarshal {_go_type(error.instance)} into Go struct field {go_field} of type {expected}"
            )
        elif error.validator == "required":
            found.invalid += [
                errors.required(field_path((*where, key))) for key in error.validator_value if key not in error.instance
            ]
        elif error.validator == "enum":
            found.invalid.append(
                errors.not_supported(
                    field_path(where), error.instance, [str(v) for v in error.validator_value if v is not None]
                )
            )
        else:
            found.invalid.append(errors.invalid(field_path(where), error.instance, error.message))
    return found


def prune(obj: dict[str, Any], paths: list[tuple[Any, ...]]) -> None:
    """Drop the undeclared fields, in place, as typed decoding does."""
    for path in sorted(paths, key=len, reverse=True):
        node: Any = obj
        for part in path[:-1]:
            node = node[part]
        node.pop(path[-1], None)
