"""What the API server does to an object between decoding and storage, for every kind.

Object metadata is validated like ObjectMeta (names, labels, owner references, finalizers).
Built-in kinds are checked against their real OpenAPI schemas (builtin_schemas.py) and get the
few server defaults and Go-side checks that an operator's output runs into first (a Job's
restartPolicy and immutable template, a Deployment's selector, a Service's clusterIP, a Secret's
stringData).
Custom resources are pruned, defaulted and validated against their CRD (see schema.py).
"""

import base64
import dataclasses
import re
from typing import Any

from kubeemu import builtin_schemas, cel, errors, schema
from kubeemu.errors import FieldError
from kubeemu.jsoncopy import copy_json
from kubeemu.kinds import ResourceKind

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

DNS_LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)

# Kinds whose names must be DNS labels rather than subdomains.
_LABEL_NAMED = {("", "namespaces"), ("", "services")}

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _qualified_name(field: str, key: str) -> list[FieldError]:
    prefix, _, name = key.rpartition("/")
    found = []
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        found.append(errors.invalid(field, key, "prefix part " + DNS_SUBDOMAIN_MESSAGE))
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        detail = "name part must be no more than 63 characters" if len(name) > 63 else QUALIFIED_NAME_MESSAGE
        found.append(errors.invalid(field, key, detail))
    return found


def validate_metadata(kind: ResourceKind, meta: dict[str, Any]) -> list[FieldError]:
    found: list[FieldError] = []
    name = meta.get("name", "")
    if not name:
        found.append(errors.required("metadata.name", "name or generateName is required"))
    elif kind.storage in _LABEL_NAMED:
        if len(name) > 63 or not _DNS_LABEL.match(name):
            found.append(errors.invalid("metadata.name", name, DNS_LABEL_MESSAGE))
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        found.append(errors.invalid("metadata.name", name, DNS_SUBDOMAIN_MESSAGE))
    for key, value in (meta.get("labels") or {}).items():
        found += _qualified_name("metadata.labels", key)
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            detail = (
                "must be no more than 63 characters"
                if isinstance(value, str) and len(value) > 63
                else LABEL_VALUE_MESSAGE
            )
            found.append(errors.invalid("metadata.labels", value, detail))
    for key in meta.get("annotations") or {}:
        found += _qualified_name("metadata.annotations", key)
    for index, finalizer in enumerate(meta.get("finalizers") or []):
        found += _qualified_name(f"metadata.finalizers[{index}]", finalizer)
    references = meta.get("ownerReferences") or []
    for index, reference in enumerate(references):
        for field in ("apiVersion", "kind", "name", "uid"):
            if not reference.get(field):
                found.append(
                    errors.invalid(f"metadata.ownerReferences[{index}].{field}", "", f"{field} must not be empty")
                )
    if sum(1 for r in references if r.get("controller")) > 1:
        found.append(
            errors.invalid(
                "metadata.ownerReferences", copy_json(references), "Only one reference can have Controller set to true"
            )
        )
    return found


@dataclasses.dataclass
class Decoded:
    """An object as decoding leaves it: unknown fields dropped (for custom resources, defaults
    applied), the warnings for the response, and for a built-in kind its schema's errors, found
    in the same pass (the defaults and server-set fields added after it cannot add any)."""

    obj: dict[str, Any]
    warnings: list[str]
    schema_errors: list[FieldError] | None = None  # None: to be checked (a custom resource: after its defaults)


def prepare(kind: ResourceKind, obj: dict[str, Any], field_validation: str) -> Decoded:
    schema_errors = None
    if kind.schema is not None:
        unknown: list[str] = []
        prepared = schema.prune(obj, kind.schema, unknown)
        schema.apply_defaults(prepared, kind.schema)
    else:
        # `obj` is the caller's to change (a request's body, a patch's result, a status write's
        # copy): a copy only when fields are dropped.
        found = builtin_schemas.check(obj)
        if found.undecodable:
            raise errors.bad_request(
                f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: {found.undecodable[0]}'
            )
        prepared, schema_errors = obj, found.invalid
        if found.unknown:
            prepared = copy_json(obj)
            builtin_schemas.prune(prepared, found.unknown)
        unknown = [builtin_schemas.field_path(path) for path in found.unknown]
    if unknown and field_validation == "Strict":
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        raise errors.bad_request(
            f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: '
            f"strict decoding error: {listed}"
        )
    warnings = [f'unknown field "{path}"' for path in unknown] if field_validation != "Ignore" else []
    return Decoded(prepared, warnings, schema_errors)


def validate(kind: ResourceKind, decoded: Decoded, old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid with every field error, the way the API server words them."""
    obj = decoded.obj
    found = validate_metadata(kind, obj.get("metadata", {}))
    if decoded.schema_errors is not None:
        found += decoded.schema_errors
    elif kind.schema is not None:
        found += schema.validate(obj, kind.schema)
        found += _rules(kind.schema, obj, old, found)
    else:
        found += builtin_schemas.check(obj).invalid
    found += _BUILTIN_CHECKS.get(kind.storage, lambda o, old: [])(obj, old)
    if found:
        raise errors.unprocessable(kind.group, kind.kind, obj.get("metadata", {}).get("name", ""), found)


def _rules(
    structural: dict[str, Any], obj: dict[str, Any], old: dict[str, Any] | None, found: list[FieldError]
) -> list[FieldError]:
    """The CRD's CEL rules, unless a value has the wrong type (the API server skips them then)."""
    if any(error.reason == "FieldValueTypeInvalid" for error in found):
        return [errors.invalid("<nil>", errors.OMIT, cel.NOT_CHECKED)]
    return cel.validator(structural).validate(obj, old)


def _job_checks(job: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    found = _job_status_checks(job, old) if old is not None else []
    policy = job.get("spec", {}).get("template", {}).get("spec", {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        found.append(
            errors.not_supported("spec.template.spec.restartPolicy", policy, ["OnFailure", "Never"])
            if policy
            else errors.required("spec.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"')
        )
    if old is not None:
        for field in ("template", "selector", "completions"):
            if job.get("spec", {}).get(field) != old.get("spec", {}).get(field):
                found.append(
                    errors.FieldError(
                        "Invalid value", "FieldValueInvalid", f"spec.{field}", errors.OMIT, "field is immutable"
                    )
                )
    return found


def _true_conditions(job: dict[str, Any]) -> set[str]:
    return {c.get("type") for c in (job.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}


def _job_status_checks(job: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """The Job status rules a Job controller's writes must follow (ValidateJobStatusUpdate in
    pkg/apis/batch/validation, with the options of a current API server)."""
    status, before = job.get("status") or {}, old.get("status") or {}
    true, was = _true_conditions(job), _true_conditions(old)
    complete, failed = "Complete" in true, "Failed" in true
    finished = complete or failed
    found = []

    def conditions(detail: str) -> None:
        found.append(errors.invalid("status.conditions", errors.OMIT, detail))

    if complete and failed:
        conditions("cannot set Complete=True and Failed=true conditions")
    if status.get("completionTime") and not complete:
        found.append(
            errors.invalid(
                "status.completionTime",
                status["completionTime"],
                "cannot set completionTime when there is no Complete=True condition",
            )
        )
    if complete and not status.get("completionTime"):
        found.append(errors.required("status.completionTime", "completionTime is required for Complete jobs"))
    if failed and "FailureTarget" not in true:
        conditions("cannot set Failed=True condition without the FailureTarget=true condition")
    if complete and "SuccessCriteriaMet" not in true:
        conditions("cannot set Complete=True condition without the SuccessCriteriaMet=true condition")
    if finished and status.get("active", 0) > 0:
        found.append(errors.invalid("status.active", status["active"], "active>0 is invalid for finished job"))
    if finished and not status.get("startTime"):
        found.append(errors.required("status.startTime", "startTime is required for finished job"))
    if status.get("ready", 0) > status.get("active", 0):
        found.append(errors.invalid("status.ready", status["ready"], "cannot set more ready pods than active"))
    for condition in ("Failed", "Complete", "FailureTarget", "SuccessCriteriaMet"):
        if condition in was and condition not in true:
            conditions(
                f"cannot disable the terminal {condition}=True condition"
                if condition != "SuccessCriteriaMet"
                else "cannot disable the SuccessCriteriaMet=True condition"
            )
    for counter in ("failed", "succeeded"):
        if status.get(counter, 0) < before.get(counter, 0):
            found.append(
                errors.invalid(f"status.{counter}", status.get(counter, 0), f"cannot decrease the {counter} counter")
            )
    if (
        status.get("completionTime")
        and before.get("completionTime")
        and status["completionTime"] != before["completionTime"]
    ):
        found.append(
            errors.invalid("status.completionTime", status["completionTime"], "completionTime cannot be mutated")
        )
    if (
        before.get("startTime")
        and status.get("startTime") != before["startTime"]
        and not job.get("spec", {}).get("suspend")
    ):
        found.append(errors.required("status.startTime", "startTime cannot be removed for unsuspended job"))
    return found


def _selector_checks(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = obj.get("spec", {})
    selector = (spec.get("selector") or {}).get("matchLabels")
    labels = spec.get("template", {}).get("metadata", {}).get("labels") or {}
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        return [errors.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")]
    return []


def _crd_checks(crd: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    found = []
    for field in ("group", "scope"):
        if not spec.get(field):
            found.append(errors.required(f"spec.{field}"))
    for field in ("plural", "kind"):
        if not names.get(field):
            found.append(errors.required(f"spec.names.{field}"))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if crd["metadata"].get("name") != expected:
        found.append(
            errors.invalid("metadata.name", crd["metadata"].get("name"), 'must be spec.names.plural+"."+spec.group')
        )
    versions = spec.get("versions") or []
    if not versions:
        found.append(errors.required("spec.versions", "must have exactly one version marked as storage version"))
    elif sum(1 for v in versions if v.get("storage")) != 1:
        found.append(
            errors.invalid(
                "spec.versions", copy_json(versions), "must have exactly one version marked as storage version"
            )
        )
    for index, version in enumerate(versions):
        structural = (version.get("schema") or {}).get("openAPIV3Schema")
        if not structural:
            found.append(errors.required(f"spec.versions[{index}].schema.openAPIV3Schema", "schemas are required"))
            continue
        try:
            cel.Validator(structural, f"spec.versions[{index}].schema.openAPIV3Schema")
        except cel.RuleError as error:
            found += error.problems
    return found


_BUILTIN_CHECKS = {
    ("batch", "jobs"): _job_checks,
    ("apps", "deployments"): _selector_checks,
    ("apps", "replicasets"): _selector_checks,
    ("apps", "statefulsets"): _selector_checks,
    ("apiextensions.k8s.io", "customresourcedefinitions"): _crd_checks,
}


def default_on_create(kind: ResourceKind, obj: dict[str, Any], cluster_ip: str) -> None:
    """The server-side defaults of the built-in kinds that an operator's tests look at."""
    meta = obj["metadata"]
    spec = obj.setdefault("spec", {}) if kind.storage in _SPEC_KINDS else {}
    match kind.storage:
        case ("", "namespaces"):
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        case ("", "pods"):
            spec.setdefault("restartPolicy", "Always")
            default_pod_spec(spec)
            obj["status"] = {"phase": "Pending"}
        case ("", "persistentvolumeclaims"):
            obj["status"] = {"phase": "Pending"}
        case ("", "services"):
            spec.setdefault("type", "ClusterIP")
            if spec.get("clusterIP") != "None":
                spec["clusterIP"] = cluster_ip
                spec["clusterIPs"] = [cluster_ip]
            for port in spec.get("ports", []):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            obj["status"] = {"loadBalancer": {}}
        case ("", "secrets"):
            obj.setdefault("type", "Opaque")
        case ("batch", "jobs"):
            for field, value in (
                ("completions", 1),
                ("parallelism", 1),
                ("backoffLimit", 6),
                ("completionMode", "NonIndexed"),
                ("suspend", False),
            ):
                spec.setdefault(field, value)
            labels = {
                "batch.kubernetes.io/controller-uid": meta["uid"],
                "batch.kubernetes.io/job-name": meta["name"],
                "controller-uid": meta["uid"],
                "job-name": meta["name"],
            }
            template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
            template_meta.setdefault("labels", {}).update(labels)
            spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": meta["uid"]}})
            default_pod_spec(spec["template"].setdefault("spec", {}))
            obj["status"] = {}
        case ("apps", "deployments"):
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
            )
            default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
            obj["status"] = {}
        case ("apiextensions.k8s.io", "customresourcedefinitions"):
            finalizers = meta.setdefault("finalizers", [])
            if CRD_CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CRD_CLEANUP_FINALIZER)


_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def default_pod_spec(spec: dict[str, Any]) -> None:
    """The defaults of a pod spec that an operator's children show first (SetDefaults_* in
    pkg/apis/core/v1): a port's protocol, a probe's scheme and thresholds; and what Go's
    `omitempty` drops on the way back, a volume mount's `readOnly: false`."""
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")
        for name in ("livenessProbe", "readinessProbe", "startupProbe"):
            probe = container.get(name)
            if isinstance(probe, dict):
                for field, value in _PROBE_DEFAULTS.items():
                    probe.setdefault(field, value)
                if isinstance(probe.get("httpGet"), dict):
                    probe["httpGet"].setdefault("scheme", "HTTP")
        for mount in container.get("volumeMounts") or []:
            if mount.get("readOnly") is False:
                del mount["readOnly"]


def normalize(kind: ResourceKind, obj: dict[str, Any]) -> None:
    """Conversions done on every write: a Secret's stringData is merged into its data."""
    if kind.storage == ("", "secrets") and "stringData" in obj:
        data = obj.setdefault("data", {})
        for key, value in (obj.pop("stringData") or {}).items():
            data[key] = base64.b64encode(value.encode()).decode()


_SPEC_KINDS = {("", "namespaces"), ("", "pods"), ("", "services"), ("batch", "jobs"), ("apps", "deployments")}


def crd_status(crd: dict[str, Any], now: str) -> dict[str, Any]:
    """What the apiextensions controllers report once a CRD is served."""
    spec = crd["spec"]
    condition = {"status": "True", "lastTransitionTime": now}
    return {
        "acceptedNames": copy_json(spec["names"]),
        "conditions": [
            {**condition, "type": "NamesAccepted", "reason": "NoConflicts", "message": "no conflicts found"},
            {
                **condition,
                "type": "Established",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
        "storedVersions": [v["name"] for v in spec["versions"] if v.get("storage")],
    }
