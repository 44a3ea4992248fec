"""Evaluate the CEL rules (x-kubernetes-validations) of a CRD schema against objects.

The API server evaluates these rules; the emulator does not. Here cel-python, an independent
CEL implementation, runs each rule against the node of the object it is attached to, the way
the API server does: `self` is that node, `oldSelf` the same node of the previous version
(transition rules run only on updates, where an old node exists).
"""

from functools import cache
from typing import Any

import celpy


@cache
def _program(rule: str):
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _evaluate(rule: str, new: Any, old: Any) -> bool:
    activation = {"self": celpy.json_to_cel(new)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    return bool(_program(rule).evaluate(activation))


def violations(schema: dict, new: Any, old: Any = None, path: str = "") -> list[tuple[str, str]]:
    """(path, message) for every rule that the object breaks."""
    found = []
    for validation in schema.get("x-kubernetes-validations", []):
        rule = validation["rule"]
        if "oldSelf" in rule and old is None:
            continue
        if not _evaluate(rule, new, old):
            found.append((path, validation["message"]))
    if isinstance(new, dict):
        old_dict = old if isinstance(old, dict) else {}
        for key, value in new.items():
            child = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
            if isinstance(child, dict):
                found += violations(child, value, old_dict.get(key), f"{path}.{key}".lstrip("."))
    elif isinstance(new, list) and "items" in schema:
        for index, item in enumerate(new):
            found += violations(schema["items"], item, None, f"{path}[{index}]")
    return found


def rules(schema: dict) -> list[str]:
    """Every rule in the schema, depth first."""
    found = [validation["rule"] for validation in schema.get("x-kubernetes-validations", [])]
    for child in list(schema.get("properties", {}).values()) + [
        schema.get("additionalProperties"),
        schema.get("items"),
    ]:
        if isinstance(child, dict):
            found += rules(child)
    return found
