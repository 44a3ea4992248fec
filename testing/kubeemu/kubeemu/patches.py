"""PATCH bodies by Content-Type: JSON patch, JSON merge patch, strategic merge patch, apply.

The patch type comes from the Content-Type header, as on a real server, so a client that sends
the wrong one fails here as it would there (e.g. a dict sent as json-patch+json).

Strategic merge patch is simplified: lists of objects that the built-in schemas merge by a
key (containers, env, ports, volumes, conditions, ...) are merged by that key, `$patch:
delete`/`replace` directives are honoured in such lists and in maps; every other list is
replaced, as in a merge patch. Server-side apply (apply-patch+yaml) is approximated as a merge
patch that creates the object when it is absent: field ownership and conflicts are not tracked.
"""

import json
from typing import Any

import jsonpatch
import jsonpointer
import yaml

from kubeemu import errors
from kubeemu.jsoncopy import copy_json

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# The patchMergeKey of the built-in lists that strategic merge patches merge rather than replace.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "tolerations": "key",
    "hostAliases": "ip",
    "ownerReferences": "uid",
}


def accepted_types(builtin: bool) -> list[str]:
    return [JSON_PATCH, MERGE_PATCH, *([STRATEGIC_PATCH] if builtin else []), APPLY_PATCH]


def parse(content_type: str, body: bytes, builtin: bool) -> tuple[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind not in accepted_types(builtin):
        raise errors.unsupported_media_type(kind, accepted_types(builtin))
    try:
        data = yaml.safe_load(body) if kind == APPLY_PATCH else json.loads(body)
    except (ValueError, yaml.YAMLError) as e:
        raise errors.bad_request(f"error decoding patch: {e}") from e
    if kind == JSON_PATCH and not isinstance(data, list):
        raise errors.bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    if kind != JSON_PATCH and not isinstance(data, dict):
        raise errors.bad_request(f"error decoding patch: a {kind} body must be a JSON object")
    return kind, data


def apply(kind: str, target: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The patched copy of `target`; a JSON patch whose `test` fails answers 422 like the real server."""
    if kind == JSON_PATCH:
        try:
            return jsonpatch.apply_patch(target, patch, in_place=False)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
            raise errors.status(
                422,
                "Invalid",
                "the server rejected our request due to an error in our request",
                {"causes": [{"type": "UnexpectedServerResponse", "message": str(e)}]},
            ) from e
    if kind == STRATEGIC_PATCH:
        return strategic_merge(target, patch)
    return merge(target, patch)


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy_json(patch)
    result = copy_json(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def strategic_merge(target: Any, patch: Any, key: str | None = None) -> Any:
    if isinstance(patch, dict):
        if patch.get("$patch") == "replace":
            return {k: copy_json(v) for k, v in patch.items() if k != "$patch"}
        if patch.get("$patch") == "delete":
            return None
        result = copy_json(target) if isinstance(target, dict) else {}
        for field, value in patch.items():
            if field.startswith("$"):
                continue
            if value is None:
                result.pop(field, None)
                continue
            merged = strategic_merge(result.get(field), value, field)
            if merged is None:
                result.pop(field, None)
            else:
                result[field] = merged
        return result
    if isinstance(patch, list) and key in MERGE_KEYS and isinstance(target, list):
        return _merge_list(target, patch, MERGE_KEYS[key])
    return copy_json(patch)


def _merge_list(target: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    result = copy_json(target)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            result.append(copy_json(item))
            continue
        position = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(merge_key) == item[merge_key]), None
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append({k: copy_json(v) for k, v in item.items() if not k.startswith("$")})
        else:
            result[position] = strategic_merge(result[position], item)
    return result
