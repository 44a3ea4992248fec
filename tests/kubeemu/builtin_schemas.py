"""The real schemas of the built-in kinds, from kubernetes-validate's offline copy of the OpenAPI.

What a real API server does with a built-in object that does not fit its Go types:

- a field of the wrong type fails decoding: 400 BadRequest (`json: cannot unmarshal ...`);
- an unknown field is dropped (reported as a warning, or 400 with `?fieldValidation=Strict`);
- a missing required field or an unsupported enum value fails validation: 422 Invalid.

Only the OpenAPI-level checks are here; the hand-written Go validation of each kind (ranges,
formats, cross-field rules) is not, beyond the few checks in admission.py.
"""

import dataclasses
import functools
import importlib.resources
import json
from collections.abc import Iterable
from typing import Any

import jsonschema
import referencing

from tests.kubeemu import errors
from tests.kubeemu.errors import FieldError

SCHEMA_VERSION = "v1.33.0-local-strict"  # the Kubernetes version the emulator reports


def _files() -> Any:
    return importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema" / SCHEMA_VERSION


@functools.cache
def _registry() -> referencing.Registry:
    definitions = json.loads((_files() / "_definitions.json").read_text())
    return referencing.Resource.from_contents(definitions) @ referencing.Registry()


@functools.cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    group, _, version = api_version.rpartition("/")
    name = f"{kind.lower()}-{group.split('.')[0]}-{version}.json" if group else f"{kind.lower()}-{version}.json"
    path = _files() / name
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, registry=referencing.Resource.from_contents(schema) @ _registry())


def field_path(parts: Iterable[Any]) -> str:
    """`spec.containers[0].ports`, the way the API server names fields."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _go_type(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null")


@dataclasses.dataclass
class Findings:
    unknown: list[tuple[Any, ...]] = dataclasses.field(default_factory=list)  # paths of undeclared fields
    undecodable: list[str] = dataclasses.field(default_factory=list)  # fields of the wrong type
    invalid: list[FieldError] = dataclasses.field(default_factory=list)


def check(obj: dict[str, Any]) -> Findings:
    found = Findings()
    validator = _validator(obj.get("apiVersion", ""), obj.get("kind", ""))
    if validator is None:
        return found
    for error in validator.iter_errors(obj):
        where = tuple(error.absolute_path)
        if error.validator == "additionalProperties":
            declared = error.schema.get("properties", {})
            found.unknown += [(*where, key) for key in error.instance if key not in declared]
        elif error.validator in ("type", "oneOf"):
            expected = error.validator_value if error.validator == "type" else "IntOrString"
            expected = expected if isinstance(expected, str) else expected[0]
            go_field = ".".join(str(p) for p in where if not isinstance(p, int))  # Go names no list indices
            found.undecodable.append(f"json: cannot unmarshal {_go_type(error.instance)} into Go struct field "
                                     f"{go_field} of type {expected}")
        elif error.validator == "required":
            found.invalid += [errors.required(field_path((*where, key)))
                              for key in error.validator_value if key not in error.instance]
        elif error.validator == "enum":
            found.invalid.append(errors.not_supported(field_path(where), error.instance,
                                                      [str(v) for v in error.validator_value if v is not None]))
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
