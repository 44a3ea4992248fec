"""Field types shared by the four kinds.

Each type carries, beside its Python validation, the Kubernetes-specific part of its OpenAPI
schema (CEL rules, preserve-unknown-fields) so that crds/ can be generated from these models
alone.
"""

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from .errors import PATTERN_MEANINGS

# The GPU types a resource may ask for. To support another, add it here and run
# `substratus-crds` to regenerate crds/; the operator maps each type to node selectors.
GPUType = Literal["nvidia-t4", "nvidia-l4", "nvidia-a100", "nvidia-h100"]
GPU_TYPES: tuple[str, ...] = get_args(GPUType)

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A relative path with no ".." component (no look-ahead: neither Rust's nor Go's regex has it).
_PATH_COMPONENT = r"(\.|\.\.[^/]+|\.?[^./][^/]*)"
RELATIVE_PATH_PATTERN = rf"^{_PATH_COMPONENT}(/{_PATH_COMPONENT})*/?$"
VARIABLE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
DURATION_PATTERN = r"^[1-9][0-9]{0,5}[smh]$"  # 90s, 30m, 2h
# ${{ secrets.NAME.KEY }}: NAME is a Secret in the resource's namespace, KEY one of its keys.
SECRET_REFERENCE_PATTERN = r"^\$\{\{ *secrets\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([-._a-zA-Z0-9]+) *\}\}$"


def is_dns_label(value: object) -> bool:
    """A DNS-1123 label, what names and namespaces are: also what keeps them safe as path parts."""
    return isinstance(value, str) and 0 < len(value) <= 63 and re.fullmatch(NAME_PATTERN, value) is not None


PATTERN_MEANINGS.update(
    {
        NAME_PATTERN: "must be lowercase letters, digits and '-', starting and ending alphanumeric",
        RELATIVE_PATH_PATTERN: "must be a relative path without '..'",
        VARIABLE_NAME_PATTERN: "must be a variable name: letters, digits and _, not starting with a digit",
        SECRET_REFERENCE_PATTERN: "must read ${{ secrets.NAME.KEY }}",
        DURATION_PATTERN: "must be a whole number and s, m or h, e.g. 30m",
    }
)


class SpecPart(BaseModel):
    """A part of a spec: unknown fields are errors, names are the YAML's camelCase."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


def _scalar(value: Any) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"must be a string, number or boolean, not {_json_type(value)}")
    return value


def _secret_reference_or_literal(value: str) -> str:
    if "${{" in value and not re.match(SECRET_REFERENCE_PATTERN, value):
        raise ValueError(f"a secret reference must read ${{{{ secrets.NAME.KEY }}}}, got {value!r}")
    return value


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", type(None): "null"}.get(type(value), type(value).__name__)


VariableName = Annotated[str, Field(pattern=VARIABLE_NAME_PATTERN)]

_VARIABLE_NAMES_RULE = {
    "rule": f"self.all(k, k.matches(r'{VARIABLE_NAME_PATTERN}'))",
    "message": "keys must be variable names (letters, digits, _)",
}

# Bounded so the API server's CEL cost estimate for the rules below stays within budget.
MAX_ENTRIES = 128
MAX_VALUE_LENGTH = 4096

# A value is a string, number or boolean, never an object or a list. A structural schema cannot
# say "one of these types", and the API server cannot type a map of preserve-unknown values for
# CEL (a rule on it, or one above naming it, fails to compile), so the CRD bounds only the
# count: the keys and value types are checked by these models, where the extension refuses them
# (400) and the operator reports InvalidSpec naming the field (spec.params.KEY).
Params = Annotated[
    dict[VariableName, Annotated[Any, AfterValidator(_scalar)]],
    Field(max_length=MAX_ENTRIES),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_ENTRIES,
            "additionalProperties": {"x-kubernetes-preserve-unknown-fields": True},
        }
    ),
]

Env = Annotated[
    dict[
        VariableName, Annotated[str, Field(max_length=MAX_VALUE_LENGTH), AfterValidator(_secret_reference_or_literal)]
    ],
    Field(max_length=MAX_ENTRIES),
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": MAX_ENTRIES,
            "additionalProperties": {"type": "string", "maxLength": MAX_VALUE_LENGTH},
            "x-kubernetes-validations": [
                _VARIABLE_NAMES_RULE,
                {
                    # A raw string: a quoted CEL string has no \$ or \{ escapes.
                    "rule": "self.all(k, !self[k].contains('${{') || "
                    f"self[k].matches(r'{SECRET_REFERENCE_PATTERN}'))",
                    "message": "a secret reference must read ${{ secrets.NAME.KEY }}",
                },
            ],
        }
    ),
]


_GPU_TYPE_NEEDS_COUNT = "a GPU type asks for GPUs: set spec.resources.gpu.count ≥ 1 or remove gpu.type"


class GPU(SpecPart):
    model_config = ConfigDict(
        **SpecPart.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "!has(self.type) || !has(self.count) || self.count >= 1", "message": _GPU_TYPE_NEEDS_COUNT}
            ]
        },
    )

    type: GPUType | None = Field(default=None, description="a GPU model; without it, any GPU")
    count: int = Field(default=1, ge=0, le=16, description="0: no GPU (then leave type out)")

    @model_validator(mode="after")
    def _type_needs_count(self):
        if self.type is not None and self.count == 0:
            raise ValueError(_GPU_TYPE_NEEDS_COUNT)
        return self


class Resources(SpecPart):
    cpu: float | None = Field(default=None, gt=0, description="CPU cores")
    memory: int | None = Field(default=None, gt=0, description="memory in GB")
    disk: int | None = Field(default=None, gt=0, description="disk in GB")
    gpu: GPU | None = None


class GitSource(SpecPart):
    model_config = ConfigDict(
        **SpecPart.model_config,
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": "!(has(self.branch) && has(self.tag))", "message": "set branch or tag, not both"}
            ]
        },
    )

    url: str = Field(min_length=1, pattern=r"^(https?://|git@|ssh://|git://|file://)\S+$")
    branch: str | None = Field(default=None, min_length=1)
    tag: str | None = Field(default=None, min_length=1)
    path: str | None = Field(
        default=None,
        description="directory inside the repository to build from",
        pattern=RELATIVE_PATH_PATTERN,
    )

    @model_validator(mode="after")
    def _branch_or_tag(self):
        if self.branch and self.tag:
            raise ValueError("set branch or tag, not both")
        return self


class UploadSource(SpecPart):
    md5_checksum: str = Field(alias="md5Checksum", pattern=r"^[a-f0-9]{32}$")
    request_id: str = Field(alias="requestID", min_length=1, max_length=253)


class Build(SpecPart):
    # oneOf lets the API server's schema check reject two sources without CEL.
    model_config = ConfigDict(
        **SpecPart.model_config,
        json_schema_extra={"oneOf": [{"required": ["git"]}, {"required": ["upload"]}]},
    )

    git: GitSource | None = None
    upload: UploadSource | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.git is None) == (self.upload is None):
            raise ValueError("set exactly one of build.git, build.upload")
        return self


class ObjectRef(SpecPart):
    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
