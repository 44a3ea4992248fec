"""API errors shaped like the real API server's `Status` bodies, and its field errors.

Messages follow k8s.io/apimachinery (`field.Error.Error()`, `errors.NewInvalid`, ...) closely
enough that a test asserting on a message written against a real cluster passes here too.
"""

import decimal
import json
import math
from typing import Any

import attrs
import kmock

OMIT = object()  # a field error that prints no value ("Required value")


@attrs.frozen
class ApiError(kmock.KubernetesError):
    """A failure answered as a `Status` object with its HTTP code."""

    def body(self) -> dict[str, Any]:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details or {},
            "code": self.status,
        }


@attrs.frozen
class FieldError:
    type: str  # "Required value", "Unsupported value", "Invalid value", ...
    reason: str  # the StatusCause type: FieldValueRequired, FieldValueNotSupported, ...
    field: str
    value: Any = OMIT
    detail: str = ""

    def body(self) -> str:
        if self.type in {"Required value", "Forbidden", "Too long", "Internal error"} or self.value is OMIT:
            text = self.type
        elif self.value is None:
            text = f'{self.type}: "null"'
        else:
            text = f"{self.type}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body(), "field": self.field}


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("Required value", "FieldValueRequired", field, OMIT, detail)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("Invalid value", "FieldValueInvalid", field, value, detail)


def type_invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError("Invalid value", "FieldValueTypeInvalid", field, value, detail)


def not_supported(field: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(json.dumps(v) for v in supported) if supported else ""
    return FieldError("Unsupported value", "FieldValueNotSupported", field, value, detail)


def too_long(field: str, value: Any, limit: int) -> FieldError:
    return FieldError("Too long", "FieldValueTooLong", field, value, f"may not be longer than {limit}")


def too_many(field: str, actual: int, limit: int) -> FieldError:
    return FieldError("Too many", "FieldValueTooMany", field, actual, f"must have at most {limit} items")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("Duplicate value", "FieldValueDuplicate", field, value)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("Forbidden", "FieldValueForbidden", field, OMIT, detail)


def go_value(value: Any, nested: bool = False) -> str:
    """Print a JSON value the way Go's `%v`/`%#v` prints the decoded interface{}."""
    match value:
        case None:
            return "interface {}(nil)" if nested else '"null"'
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float():
            return go_float(value)
        case str():
            return json.dumps(value, ensure_ascii=False)
        case dict():
            items = ", ".join(f"{json.dumps(k)}:{go_value(v, True)}" for k, v in sorted(value.items()))
            return f"map[string]interface {{}}{{{items}}}"
        case list():
            return "[]interface {}{" + ", ".join(go_value(v, True) for v in value) + "}"
    return repr(value)


def go_float(number: float) -> str:
    """strconv.FormatFloat(f, 'g', -1, 64): shortest digits, exponent form below 1e-04 and from 1e+06."""
    if math.isnan(number) or math.isinf(number):
        return "NaN" if math.isnan(number) else ("+Inf" if number > 0 else "-Inf")
    if number == 0:
        return "0"
    shortest = decimal.Decimal(repr(number)).normalize()
    sign, digits, exponent = shortest.as_tuple()
    adjusted = len(digits) - 1 + exponent
    if -4 <= adjusted < 6:
        return f"{shortest:f}"
    head, tail = str(digits[0]), "".join(map(str, digits[1:]))
    return f"{'-' if sign else ''}{head}{'.' + tail if tail else ''}e{'+' if adjusted >= 0 else '-'}{abs(adjusted):02d}"


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> ApiError:
    return ApiError(status=code, reason=reason, message=message, details=details or {})


def qualified(group: str, name: str) -> str:
    """`models.substratus.ai`, or `pods` for the core group."""
    return f"{name}.{group}" if group else name


def not_found(group: str, plural: str, name: str) -> ApiError:
    return status(
        404,
        "NotFound",
        f'{qualified(group, plural)} "{name}" not found',
        {"name": name, "group": group, "kind": plural},
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return status(
        409,
        "AlreadyExists",
        f'{qualified(group, plural)} "{name}" already exists',
        {"name": name, "group": group, "kind": plural},
    )


def conflict(
    group: str,
    plural: str,
    name: str,
    detail: str = "the object has been modified; please apply your changes to the latest version and try again",
) -> ApiError:
    return status(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {detail}',
        {"name": name, "group": group, "kind": plural},
    )


def unprocessable(group: str, kind: str, name: str, errors: list[FieldError]) -> ApiError:
    """422 Invalid, as `errors.NewInvalid(GroupKind, name, errs)` words it."""
    listed = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    return status(
        422,
        "Invalid",
        f'{qualified(group, kind)} "{name}" is invalid: {listed}',
        {"name": name, "group": group, "kind": kind, "causes": [e.cause() for e in errors]},
    )


def forbidden_request(group: str, plural: str, name: str, detail: str) -> ApiError:
    return status(
        403,
        "Forbidden",
        f'{qualified(group, plural)} "{name}" is forbidden: {detail}',
        {"name": name, "group": group, "kind": plural},
    )


def bad_request(message: str) -> ApiError:
    return status(400, "BadRequest", message)


def resource_not_found() -> ApiError:
    return status(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed() -> ApiError:
    return status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    return status(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        {"causes": [{"message": f"unsupported content type {content_type!r}"}]},
    )


def unauthorized() -> ApiError:
    return status(401, "Unauthorized", "Unauthorized")


def expired(message: str) -> ApiError:
    return status(410, "Expired", message)
