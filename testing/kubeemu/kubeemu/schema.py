"""Structural OpenAPI v3 schemas of custom resources: pruning, defaulting and validation.

The order is the API server's: unknown fields are pruned (and reported, for
`?fieldValidation=Warn|Strict`), nulls are dropped where the schema is not nullable, defaults
fill absent fields, then the object is validated. Error paths and messages follow
kube-openapi and apiextensions-apiserver, e.g.::

    spec.resources.gpu.type: Unsupported value: "nvidia-x": supported values: "nvidia-t4", ...
    spec.image: Invalid value: "a b": spec.image in body should match '^\\S+$'
    <nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). Found none valid

`x-kubernetes-validations` (CEL rules) are evaluated after this, by cel.py (see admission.py).

What is NOT done, unlike a real API server:

- `format` (date-time, int32, ...) is not checked.
- Validation ratcheting (keeping unchanged invalid fields on update) is not emulated.
"""

import functools
import json
import re
from typing import Any

from kubeemu import errors
from kubeemu.errors import FieldError
from kubeemu.jsoncopy import copy_json

OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune(value: Any, schema: dict[str, Any], unknown: list[str], path: str = "") -> Any:
    """A copy of `value` without the fields the schema does not declare (their paths go to `unknown`)."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        additional = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
        resource_root = not path or schema.get("x-kubernetes-embedded-resource", False)
        result = {}
        for key, item in value.items():
            child = _join(path, key)
            if resource_root and key in ("apiVersion", "kind"):
                result[key] = item
            elif resource_root and key == "metadata" and isinstance(item, dict):
                result[key] = _prune_metadata(item, unknown, child)
            elif key in properties or isinstance(additional, dict):
                sub = properties.get(key, additional)
                if item is None and not sub.get("nullable", False):
                    continue  # non-nullable nulls are dropped (a default may fill them in)
                result[key] = prune(item, sub, unknown, child)
            elif preserve or additional is True:
                if item is not None:  # the API server drops nulls where no schema says nullable
                    result[key] = _without_nulls(item)
            else:
                unknown.append(child)
        return result
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune(item, schema["items"], unknown, f"{path}[{i}]") for i, item in enumerate(value)]
    return copy_json(value)


def _without_nulls(value: Any) -> Any:
    """A copy without null object values, at every depth (list items stay), as PruneNonNullableNulls does."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _prune_metadata(metadata: dict[str, Any], unknown: list[str], path: str) -> dict[str, Any]:
    for key in metadata:
        if key not in OBJECT_META_FIELDS:
            unknown.append(_join(path, key))
    return {k: copy_json(v) for k, v in metadata.items() if k in OBJECT_META_FIELDS}


def apply_defaults(value: Any, schema: dict[str, Any], root: bool = True) -> None:
    """Fill absent fields that have a `default`, in place, in every object that exists."""
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, sub in properties.items():
            if root and key == "metadata":
                continue
            if key not in value and "default" in sub:
                value[key] = copy_json(sub["default"])
            if key in value:
                apply_defaults(value[key], sub, root=False)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key, item in value.items():
                if key not in properties:
                    apply_defaults(item, additional, root=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(item, schema["items"], root=False)


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[FieldError]:
    """Every violation of the schema, with field paths as the API server reports them."""
    found: list[FieldError] = []
    types = _types(schema)
    if value is None:
        if types and not schema.get("nullable", False):
            found.append(_type_error(path, types, "null"))
        return found + _enum(value, schema, path)
    actual = _json_type(value)
    if (
        types
        and actual not in types
        and not (actual == "number" and "integer" in types and value.is_integer())
        and not (actual == "integer" and "number" in types)
    ):
        found.append(_type_error(path, types, actual))
    found += _compositions(value, schema, path)
    if isinstance(value, str):
        found += _string(value, schema, path)
    elif actual in ("integer", "number"):
        found += _number(value, schema, path)
    elif isinstance(value, list):
        found += _array(value, schema, path)
    found += _enum(value, schema, path)
    if isinstance(value, dict):
        found += _object(value, schema, path)
    return found


def _types(schema: dict[str, Any]) -> list[str]:
    if schema.get("x-kubernetes-int-or-string"):
        return ["integer", "string"]
    return [schema["type"]] if schema.get("type") else []


def _json_type(value: Any) -> str:
    match value:
        case bool():
            return "boolean"
        case int():
            return "integer"
        case float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def _type_error(path: str, types: list[str], actual: str) -> FieldError:
    name = path or "."
    return errors.type_invalid(
        path or "<nil>", actual, f"{name} in body must be of type {','.join(types)}: {json.dumps(actual)}"
    )


def _field(path: str) -> str:
    return path or "<nil>"


def _compositions(value: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    found: list[FieldError] = []
    quoted = json.dumps(path)
    if schema.get("anyOf"):
        results = [validate(value, sub, path) for sub in schema["anyOf"]]
        if all(results):
            found.append(errors.invalid("<nil>", "", f"{quoted} must validate at least one schema (anyOf)"))
            found += min(results, key=len)
    if schema.get("oneOf"):
        results = [validate(value, sub, path) for sub in schema["oneOf"]]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            more = "Found none valid" if not valid else f"Found {valid} valid alternatives"
            found.append(errors.invalid("<nil>", "", f"{quoted} must validate one and only one schema (oneOf). {more}"))
            if not valid:
                found += min(results, key=len)
    if schema.get("allOf"):
        results = [validate(value, sub, path) for sub in schema["allOf"]]
        for result in results:
            found += result
        failed = sum(1 for r in results if r)
        if failed:
            more = ". None validated" if failed == len(results) else ""
            found.append(errors.invalid("<nil>", "", f"{quoted} must validate all the schemas (allOf){more}"))
    if isinstance(schema.get("not"), dict) and not validate(value, schema["not"], path):
        found.append(errors.invalid("<nil>", "", f"{quoted} must not validate the schema (not)"))
    return found


@functools.cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _string(value: str, schema: dict[str, Any], path: str) -> list[FieldError]:
    found = []
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(errors.too_long(_field(path), value, schema["maxLength"]))
    if "minLength" in schema and len(value) < schema["minLength"]:
        found.append(
            errors.invalid(_field(path), value, f"{path} in body should be at least {schema['minLength']} chars long")
        )
    if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
        found.append(errors.invalid(_field(path), value, f"{path} in body should match '{schema['pattern']}'"))
    return found


def _number(value: float, schema: dict[str, Any], path: str) -> list[FieldError]:
    found = []
    if "minimum" in schema:
        bound = float(schema["minimum"])
        if schema.get("exclusiveMinimum") and value <= bound:
            found.append(
                errors.invalid(_field(path), value, f"{path} in body should be greater than {errors.go_float(bound)}")
            )
        elif value < bound:
            found.append(
                errors.invalid(
                    _field(path), value, f"{path} in body should be greater than or equal to {errors.go_float(bound)}"
                )
            )
    if "maximum" in schema:
        bound = float(schema["maximum"])
        if schema.get("exclusiveMaximum") and value >= bound:
            found.append(
                errors.invalid(_field(path), value, f"{path} in body should be less than {errors.go_float(bound)}")
            )
        elif value > bound:
            found.append(
                errors.invalid(
                    _field(path), value, f"{path} in body should be less than or equal to {errors.go_float(bound)}"
                )
            )
    if schema.get("multipleOf") and (value / schema["multipleOf"]) % 1:
        found.append(
            errors.invalid(
                _field(path),
                value,
                f"{path} in body should be a multiple of {errors.go_float(float(schema['multipleOf']))}",
            )
        )
    return found


def _array(value: list[Any], schema: dict[str, Any], path: str) -> list[FieldError]:
    found = []
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            found += validate(item, items, f"{path}[{index}]")
    if "minItems" in schema and len(value) < schema["minItems"]:
        found.append(
            errors.invalid(_field(path), len(value), f"{path} in body should have at least {schema['minItems']} items")
        )
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        found.append(errors.too_many(_field(path), len(value), schema["maxItems"]))
    found += _list_type(value, schema, path)
    return found


def _list_type(value: list[Any], schema: dict[str, Any], path: str) -> list[FieldError]:
    """Duplicates in `x-kubernetes-list-type: set|map` lists."""
    list_type = schema.get("x-kubernetes-list-type")
    if list_type not in ("set", "map"):
        return []
    keys = schema.get("x-kubernetes-list-map-keys", [])
    seen: list[Any] = []
    found = []
    for index, item in enumerate(value):
        identity = (
            {k: item.get(k) for k in keys if k in item} if list_type == "map" and isinstance(item, dict) else item
        )
        if identity in seen:
            found.append(errors.duplicate(f"{path}[{index}]", identity))
        else:
            seen.append(identity)
    return found


def _enum(value: Any, schema: dict[str, Any], path: str) -> list[FieldError]:
    allowed = schema.get("enum")
    if not allowed or any(value == option and type(value) is type(option) for option in allowed):
        return []
    supported = [option if isinstance(option, str) else json.dumps(option) for option in allowed]
    return [errors.not_supported(_field(path), value, supported)]


def _object(value: dict[str, Any], schema: dict[str, Any], path: str) -> list[FieldError]:
    found = []
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        found.append(errors.too_many(_field(path), len(value), schema["maxProperties"]))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        found.append(
            errors.invalid(
                _field(path), len(value), f"{path} in body should have at least {schema['minProperties']} properties"
            )
        )
    for key in schema.get("required", []):
        if key not in value:
            found.append(errors.required(_join(path, key)))
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            found += validate(item, properties[key], _join(path, key))
        elif isinstance(additional, dict):
            found += validate(item, additional, _join(path, key))
    return found
