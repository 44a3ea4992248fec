"""CEL rules (`x-kubernetes-validations`) of structural schemas, compiled and evaluated by cel-cpp.

cel-expr-python is Google's C++ CEL implementation, type-checked like cel-go in the API server.
Each rule is compiled against the CEL type of the schema node it sits on, derived from the
structural schema the way the API server derives it (SchemaDeclType in
k8s.io/apiserver/pkg/cel/common):

- `properties`: an object type with one field per property (an object is a protobuf message
  built on the fly, so the checker knows its fields: `self.nofield` does not compile);
- `additionalProperties` with a schema: map(string, T); `items`: list(T);
- string, integer, number, boolean: string, int, double, bool; `x-kubernetes-int-or-string`: dyn;
- a schema with no type (only `x-kubernetes-preserve-unknown-fields`): NO type. A rule on such a
  node, or on a map or list of them, cannot be compiled ("failed to construct type information");
  an object leaves such a property out of its type, so a rule above cannot name it either.

A resource root (and an embedded resource) also has apiVersion, kind, metadata.name and
metadata.generateName. What is not done: cost estimation, `messageExpression`, the CEL
libraries the API server adds (lists, quantity, url, ...), validation ratcheting.
"""

import dataclasses
import re
from typing import Any

from cel_expr_python import cel
from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2

from kubeemu import errors
from kubeemu.errors import FieldError

_Field = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "string": _Field.TYPE_STRING,
    "int": _Field.TYPE_INT64,
    "double": _Field.TYPE_DOUBLE,
    "bool": _Field.TYPE_BOOL,
}
_CEL_SCALARS = {
    "string": cel.Type.STRING,
    "int": cel.Type.INT,
    "double": cel.Type.DOUBLE,
    "bool": cel.Type.BOOL,
    "dyn": cel.Type.DYN,
}
_SCHEMA_SCALARS = {"string": "string", "integer": "int", "number": "double", "boolean": "bool"}
# CEL's reserved words: a property of that name is `__name__` in a rule (the API server's escaping).
_RESERVED = frozenset(
    "true false null in as break const continue else for function if import let loop package "
    "namespace return var void while".split()
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
UNTYPED = "failed to construct type information for x-kubernetes-validations rules"
NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; correct the existing errors "
    "to complete validation"
)


# Rules run on the JSON values, as the API server runs them on the unstructured object: the
# typed compilation is the check, a program of this environment the evaluation, so that
# `self == oldSelf` compares the fields the type leaves out (preserve-unknown ones) too.
_UNTYPED_ENV = cel.NewEnv(variables={"self": cel.Type.DYN, "oldSelf": cel.Type.DYN})


class RuleError(Exception):
    """Rules that the API server refuses when the CRD is created, as field errors."""

    def __init__(self, problems: list[FieldError]):
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclasses.dataclass
class Decl:
    """The CEL type of one schema node: a scalar, dyn, list, map or object (a protobuf message)."""

    kind: str  # string | int | double | bool | dyn | list | map | object
    element: "Decl | None" = None  # of a list or map
    fields: dict[str, "Decl"] = dataclasses.field(default_factory=dict)  # of an object: property -> type
    message: str = ""  # the full name of an object's message

    def cel_type(self) -> cel.Type:
        if self.kind == "object":
            return cel.Type(self.message)
        if self.kind == "list":
            return cel.Type.List(self.element.cel_type())
        if self.kind == "map":
            return cel.Type.Map(cel.Type.STRING, self.element.cel_type())
        return _CEL_SCALARS[self.kind]


def escape(name: str) -> str | None:
    """A property name as a rule writes it, or None where a rule cannot name it."""
    if name in _RESERVED:
        return f"__{name}__"
    escaped = (
        name.replace("__", "__underscores__").replace(".", "__dot__").replace("-", "__dash__").replace("/", "__slash__")
    )
    return escaped if _IDENTIFIER.match(escaped) else None


class _Builder:
    """Derives the Decl of each node of one schema, writing the messages into one proto file."""

    def __init__(self, package: str):
        self.file = descriptor_pb2.FileDescriptorProto(
            name=f"{package}.proto", package=package, syntax="proto3", dependency=["google/protobuf/struct.proto"]
        )
        self.package = package
        self.count = 0

    def derive(self, schema: dict[str, Any], resource_root: bool = False) -> Decl | None:
        if schema.get("x-kubernetes-int-or-string"):
            return Decl("dyn")
        kind = schema.get("type")
        if kind == "array":
            element = (
                self.derive(schema["items"], schema["items"].get("x-kubernetes-embedded-resource", False))
                if isinstance(schema.get("items"), dict)
                else None
            )
            return Decl("list", element) if element is not None else None
        if kind == "object" or resource_root:
            additional = schema.get("additionalProperties")
            if isinstance(additional, dict):
                element = self.derive(additional, additional.get("x-kubernetes-embedded-resource", False))
                return Decl("map", element) if element is not None else None
            properties = dict(schema.get("properties") or {})
            if resource_root:
                properties.update(
                    apiVersion={"type": "string"},
                    kind={"type": "string"},
                    metadata={
                        "type": "object",
                        "properties": {"name": {"type": "string"}, "generateName": {"type": "string"}},
                    },
                )
            fields = {}
            for name, sub in properties.items():
                decl = self.derive(sub, sub.get("x-kubernetes-embedded-resource", False))
                if decl is not None and escape(name) is not None:
                    fields[name] = decl
            return self._object(fields)
        if kind in _SCHEMA_SCALARS:
            return Decl(_SCHEMA_SCALARS[kind])
        return None  # no type: preserve-unknown-fields only

    def _object(self, fields: dict[str, Decl]) -> Decl:
        name = f"Object{self.count}"
        self.count += 1
        message = self.file.message_type.add(name=name)
        decl = Decl("object", fields=fields, message=f"{self.package}.{name}")
        for number, (prop, sub) in enumerate(fields.items(), start=1):
            field = message.field.add(name=escape(prop), json_name=escape(prop), number=number)
            if sub.kind in _SCALARS:
                field.type, field.label = _SCALARS[sub.kind], _Field.LABEL_OPTIONAL
                field.proto3_optional, field.oneof_index = True, len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{field.name}")
            elif sub.kind in ("list", "map") and sub.element.kind not in ("list", "map", "dyn"):
                field.label = _Field.LABEL_REPEATED
                if sub.kind == "list":
                    self._element(field, sub.element)
                else:
                    # protobuf's rule for a map field's entry type: FieldNameEntry
                    entry_name = "".join(part[:1].upper() + part[1:] for part in field.name.split("_")) + "Entry"
                    entry = message.nested_type.add(name=entry_name)
                    entry.options.map_entry = True
                    entry.field.add(name="key", number=1, type=_Field.TYPE_STRING, label=_Field.LABEL_OPTIONAL)
                    self._element(entry.field.add(name="value", number=2, label=_Field.LABEL_OPTIONAL), sub.element)
                    field.type, field.type_name = _Field.TYPE_MESSAGE, f".{decl.message}.{entry_name}"
            else:  # dyn, and containers of containers (a message field cannot hold them): JSON values
                field.type, field.type_name, field.label = (
                    _Field.TYPE_MESSAGE,
                    ".google.protobuf.Value",
                    _Field.LABEL_OPTIONAL,
                )
                if sub.kind != "dyn":
                    fields[prop] = Decl("dyn")
        return decl

    @staticmethod
    def _element(field: Any, element: Decl) -> None:
        if element.kind == "object":
            field.type, field.type_name = _Field.TYPE_MESSAGE, f".{element.message}"
        else:
            field.type = _SCALARS[element.kind]

    def pool(self) -> Any:
        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(struct_pb2.DESCRIPTOR.serialized_pb)
        pool.Add(self.file)
        return pool


@dataclasses.dataclass
class Rule:
    rule: str
    message: str
    reason: str
    field_path: str
    program: Any
    transition: bool  # names oldSelf: checked on updates only


@dataclasses.dataclass
class Node:
    """A schema node with its type, its compiled rules and the nodes below it that have rules."""

    decl: Decl | None
    rules: list[Rule]
    properties: dict[str, "Node"]
    additional: "Node | None"
    items: "Node | None"


class Validator:
    """The compiled rules of one structural schema (a CRD version's openAPIV3Schema)."""

    def __init__(self, schema: dict[str, Any], where: str = "openAPIV3Schema"):
        self._builder = _Builder("crd")
        self._problems: list[FieldError] = []
        self._pending: list[tuple[Node, dict[str, Any], str]] = []
        self.root = self._node(schema, where, resource_root=True)
        pool = self._builder.pool()
        for node, schema_node, where in self._pending:
            self._compile(node, schema_node, where, pool)
        if self._problems:
            raise RuleError(self._problems)

    def _node(self, schema: dict[str, Any], where: str, resource_root: bool = False) -> Node | None:
        properties = {}
        for name, sub in (schema.get("properties") or {}).items():
            child = self._node(sub, f"{where}.properties[{name}]", sub.get("x-kubernetes-embedded-resource", False))
            if child is not None:
                properties[name] = child
        additional = schema.get("additionalProperties")
        additional = self._node(additional, f"{where}.additionalProperties") if isinstance(additional, dict) else None
        items = self._node(schema["items"], f"{where}.items") if isinstance(schema.get("items"), dict) else None
        rules = schema.get("x-kubernetes-validations") or []
        if not (rules or properties or additional or items):
            return None
        decl = self._builder.derive(schema, resource_root) if rules else None
        node = Node(decl, [], properties, additional, items)
        if rules:
            if decl is None:
                self._problems.append(
                    FieldError(
                        "Internal error", "InternalError", f"{where}.x-kubernetes-validations", errors.OMIT, UNTYPED
                    )
                )
            else:
                self._pending.append((node, schema, where))
        return node

    def _compile(self, node: Node, schema: dict[str, Any], where: str, pool: Any) -> None:
        self_type = node.decl.cel_type()
        typed = cel.NewEnv(pool, variables={"self": self_type, "oldSelf": self_type})
        for index, validation in enumerate(schema["x-kubernetes-validations"]):
            rule = validation.get("rule", "")
            try:
                program = typed.compile(rule)
            except RuntimeError as error:
                detail = str(error).removeprefix("INVALID_ARGUMENT: ").removesuffix(" [INVALID_ARGUMENT]")
                self._problems.append(
                    errors.invalid(
                        f"{where}.x-kubernetes-validations[{index}].rule", rule, f"compilation failed: {detail}"
                    )
                )
                continue
            if program.return_type() != cel.Type.BOOL:
                self._problems.append(
                    errors.invalid(f"{where}.x-kubernetes-validations[{index}].rule", rule, "must evaluate to a bool")
                )
                continue
            node.rules.append(
                Rule(
                    rule,
                    validation.get("message") or f"failed rule: {rule}",
                    validation.get("reason", "FieldValueInvalid"),
                    validation.get("fieldPath", ""),
                    _UNTYPED_ENV.compile(rule),
                    re.search(r"\boldSelf\b", rule) is not None,
                )
            )

    def validate(self, new: Any, old: Any = None) -> list[FieldError]:
        """A field error for every rule the object breaks (transition rules where an old value exists)."""
        found: list[FieldError] = []
        self._walk(self.root, new, old, "", found)
        return found

    def _walk(self, node: Node | None, new: Any, old: Any, path: str, found: list[FieldError]) -> None:
        if node is None or new is None:
            return
        if node.rules:
            data = {"self": new} if old is None else {"self": new, "oldSelf": old}
            for rule in node.rules:
                if rule.transition and old is None:
                    continue
                result = rule.program.eval(data=data)
                if result.value() is not True:
                    # A runtime error (a missing key, ...) fails the rule, with the error said.
                    error = result.type() == cel.Type.ERROR
                    detail = f"{rule.message}: {result.value()}" if error else rule.message
                    found.append(_rule_error(rule, path, new, detail))
        if isinstance(new, dict):
            olds = old if isinstance(old, dict) else {}
            for key, value in new.items():
                child = node.properties.get(key) or node.additional
                self._walk(child, value, olds.get(key), f"{path}.{key}" if path else key, found)
        elif isinstance(new, list) and node.items is not None:
            for index, item in enumerate(new):
                self._walk(node.items, item, None, f"{path}[{index}]", found)


def _rule_error(rule: Rule, path: str, value: Any, detail: str) -> FieldError:
    field = (path + rule.field_path).lstrip(".")  # fieldPath: a JSON path below the rule's node, ".a.b"
    # The API server shows the type of the value, not the value: `spec: Invalid value: "object": ...`.
    shown = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), "null"
    )
    match rule.reason:
        case "FieldValueForbidden":
            return errors.forbidden(field, detail)
        case "FieldValueRequired":
            return errors.required(field, detail)
        case "FieldValueDuplicate":
            return FieldError("Duplicate value", "FieldValueDuplicate", field, shown, detail)
    return errors.invalid(field or "<nil>", shown, detail)


_validators: dict[int, tuple[dict[str, Any], Validator]] = {}


def validator(schema: dict[str, Any]) -> Validator:
    """The validator of a schema that lives on (a registered kind's), compiled once."""
    entry = _validators.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _validators[id(schema)] = (schema, Validator(schema))
    return entry[1]


def rules(schema: dict[str, Any]) -> list[str]:
    """Every rule in a schema, depth first."""
    found = [validation["rule"] for validation in schema.get("x-kubernetes-validations", [])]
    for child in [*(schema.get("properties") or {}).values(), schema.get("additionalProperties"), schema.get("items")]:
        if isinstance(child, dict):
            found += rules(child)
    return found
