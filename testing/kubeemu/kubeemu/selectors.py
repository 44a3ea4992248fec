"""Label selectors (=, ==, !=, in, notin, exists, !exists) and field selectors (=, ==, !=)."""

import re
from collections.abc import Callable
from typing import Any

from kubeemu import errors

Matcher = Callable[[dict[str, Any]], bool]

_SET_REQUIREMENT = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _split(selector: str) -> list[str]:
    """Requirements are comma-separated, except for the commas inside `in (a, b)` sets."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def label_matcher(selector: str | None) -> Matcher:
    if not selector:
        return lambda obj: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for requirement in _split(selector):
        if match := _SET_REQUIREMENT.match(requirement):
            key, operator, raw = match.groups()
            values = {v.strip() for v in raw.split(",") if v.strip()}
            if operator == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif match := _EQUALITY.match(requirement):
            key, operator, value = match.groups()
            if operator == "!=":
                checks.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                checks.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif match := _EXISTS.match(requirement):
            negated, key = match.groups()
            if negated:
                checks.append(lambda labels, k=key: k not in labels)
            else:
                checks.append(lambda labels, k=key: k in labels)
        else:
            raise errors.bad_request(f"unable to parse requirement: {requirement.strip()!r}")

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return matches


def field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    return str(node)


def field_matcher(selector: str | None, supported: tuple[str, ...]) -> Matcher:
    """Field selectors work only on the fields the kind declares selectable, like the real server."""
    if not selector:
        return lambda obj: True
    checks: list[tuple[str, bool, str]] = []
    for requirement in _split(selector):
        match = _EQUALITY.match(requirement)
        if not match:
            raise errors.bad_request(f"invalid selector: {selector!r}; can't understand {requirement.strip()!r}")
        path, operator, value = match.groups()
        if path not in ("metadata.name", "metadata.namespace", *supported):
            raise errors.bad_request(f"field label not supported: {path}")
        checks.append((path, operator != "!=", value))
    return lambda obj: all((field_value(obj, p) == v) == equal for p, equal, v in checks)
