"""One error type for every way a manifest can be wrong, naming the field path."""

from dataclasses import dataclass

import pydantic

# Filled by the modules that define the patterns, so an error says what a value should look like.
PATTERN_MEANINGS: dict[str, str] = {}


@dataclass(frozen=True)
class FieldError:
    path: str  # dotted, as kubectl prints it: spec.resources.gpu.count
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ResourceValidationError(ValueError):
    def __init__(self, kind: str, errors: list[FieldError]):
        self.kind = kind
        self.errors = errors
        lines = "\n".join(f"  {error}" for error in errors)
        super().__init__(f"invalid {kind}:\n{lines}")

    @classmethod
    def from_pydantic(cls, kind: str, error: pydantic.ValidationError) -> "ResourceValidationError":
        return cls(kind, [_field_error(detail) for detail in error.errors()])


def _field_error(detail) -> FieldError:
    # pydantic marks an error in a mapping's key with a "[key]" step after the key itself.
    parts = [part for part in detail["loc"] if part != "[key]"]
    path = ".".join(_path_part(part) for part in parts).replace(".[", "[")
    kind = detail["type"]
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_too_short" and detail["ctx"].get("min_length") == 1:
        message = "required"
    elif kind == "string_pattern_mismatch":
        message = PATTERN_MEANINGS.get(detail["ctx"]["pattern"], detail["msg"])
        if "[key]" in detail["loc"]:
            message = f"the key {message}"
    elif kind == "value_error":
        message = str(detail["ctx"]["error"])
    else:
        message = detail["msg"]
    return FieldError(path, message)


def _path_part(part) -> str:
    return f"[{part}]" if isinstance(part, int) else str(part)
