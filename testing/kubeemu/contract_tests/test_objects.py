"""Writes and reads through the official client: the API server's answers, codes and messages."""

import json

import kubernetes
import pytest
from kubernetes.client import ApiException

from .conftest import GROUP, PLURAL, VERSION, widget

MERGE = "application/merge-patch+json"


def create(custom, namespace, body):
    return custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)


def failure(call) -> tuple[int, dict]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def test_create_answers_201_with_server_fields(kube_api_client, kube_namespace, widget_crd):
    _, status, _ = kubernetes.client.CustomObjectsApi(kube_api_client).create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, kube_namespace, PLURAL, widget("w1")
    )
    obj = kubernetes.client.CustomObjectsApi(kube_api_client).get_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1"
    )
    meta = obj["metadata"]
    assert status == 201
    assert meta["namespace"] == kube_namespace
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1 and int(meta["resourceVersion"]) > 0
    assert obj["spec"]["size"] == "small"  # defaulted from the schema


def test_resource_versions_grow_cluster_wide(core, kube_namespace):
    first = core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "a"}})
    second = core.create_namespaced_secret(kube_namespace, {"metadata": {"name": "b"}, "stringData": {"k": "v"}})
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    assert second.data == {"k": "dg=="}  # stringData is merged into data


def test_create_twice_is_409_already_exists(custom, kube_namespace):
    create(custom, kube_namespace, widget("w1"))
    code, body = failure(lambda: create(custom, kube_namespace, widget("w1")))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    assert body["message"] == f'{PLURAL}.{GROUP} "w1" already exists'


def test_create_in_a_missing_namespace_is_404(custom):
    code, body = failure(lambda: create(custom, "no-such-namespace", widget("w1")))
    assert (code, body["message"]) == (404, 'namespaces "no-such-namespace" not found')


def test_schema_violation_is_422_naming_the_field(custom, kube_namespace):
    code, body = failure(lambda: create(custom, kube_namespace, widget("w1", image="busybox", size="huge", replicas=9)))
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["message"] == (
        'Widget.kubeemu.test "w1" is invalid: [spec.size: Unsupported value: "huge": supported values: "small", '
        '"large", spec.replicas: Invalid value: 9: spec.replicas in body should be less than or equal to 5]'
    )
    causes = {c["field"]: c for c in body["details"]["causes"]}
    assert causes["spec.size"]["reason"] == "FieldValueNotSupported"
    assert causes["spec.replicas"]["reason"] == "FieldValueInvalid"


@pytest.mark.parametrize(
    "spec, field, message",
    [
        ({"image": "a b"}, "spec.image", r"""Invalid value: "a b": spec.image in body should match '^\S+$'"""),
        (
            {"image": "x", "replicas": "2"},
            "spec.replicas",
            'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
        ),
        ({"image": "x", "note": "far too long a note"}, "spec.note", "Too long: may not be longer than 10"),
        ({"image": "x", "tags": ["a", "b", "c", "d"]}, "spec.tags", "Too many: 4: must have at most 3 items"),
        (
            {"image": "x", "env": {"A": 1}},
            "spec.env.A",
            'Invalid value: "integer": spec.env.A in body must be of type string: "integer"',
        ),
        (
            {"size": "small"},
            "<nil>",
            'Invalid value: "": "spec" must validate one and only one schema (oneOf). Found none valid',
        ),
    ],
)
def test_schema_messages_match_the_api_server(custom, kube_namespace, spec, field, message):
    _, body = failure(lambda: create(custom, kube_namespace, widget("w1", **spec)))
    assert {"field": field, "message": message} in [
        {"field": c["field"], "message": c["message"]} for c in body["details"]["causes"]
    ]


def test_schema_accepts_what_it_declares(custom, kube_namespace):
    obj = create(custom, kube_namespace, widget("w1", image="x", port=8080, note=None, extra={"any": {"x": 1}}))
    assert obj["spec"] == {"image": "x", "port": 8080, "note": None, "extra": {"any": {"x": 1}}, "size": "small"}


def test_unknown_fields_are_pruned_or_refused_when_strict(custom, kube_namespace):
    obj = create(custom, kube_namespace, widget("w1", image="x", imagee="typo"))
    assert "imagee" not in obj["spec"]

    _, _, headers = custom.create_namespaced_custom_object_with_http_info(
        GROUP, VERSION, kube_namespace, PLURAL, widget("w2", image="x", imagee="typo")
    )
    assert headers["Warning"] == '299 - "unknown field \\"spec.imagee\\""'

    code, body = failure(
        lambda: custom.create_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, widget("w3", image="x", imagee="typo"), field_validation="Strict"
        )
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    assert body["message"].endswith('strict decoding error: unknown field "spec.imagee"')


def test_status_is_apart_from_spec(custom, kube_namespace):
    created = create(custom, kube_namespace, {**widget("w1"), "status": {"ready": True}})
    assert "status" not in created  # ignored on create

    spec_write = custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1", {"spec": {"image": "nginx"}, "status": {"ready": True}}
    )
    assert spec_write["metadata"]["generation"] == 2 and "status" not in spec_write

    status_write = custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        kube_namespace,
        PLURAL,
        "w1",
        {"spec": {"image": "ignored"}, "metadata": {"labels": {"ignored": "yes"}}, "status": {"ready": True}},
    )
    assert status_write["status"] == {"ready": True}
    assert status_write["spec"]["image"] == "nginx" and "labels" not in status_write["metadata"]
    assert status_write["metadata"]["generation"] == 2  # status does not move the generation
    assert int(status_write["metadata"]["resourceVersion"]) > int(spec_write["metadata"]["resourceVersion"])


def test_metadata_changes_keep_the_generation_and_noops_keep_the_version(custom, kube_namespace):
    created = create(custom, kube_namespace, widget("w1"))
    labelled = custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1", {"metadata": {"labels": {"a": "b"}}}
    )
    again = custom.patch_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == created["metadata"]["generation"] == 1
    assert labelled["metadata"]["resourceVersion"] != created["metadata"]["resourceVersion"]
    assert again["metadata"]["resourceVersion"] == labelled["metadata"]["resourceVersion"]


def test_stale_resource_version_is_409(custom, kube_namespace):
    stale = create(custom, kube_namespace, widget("w1"))
    custom.patch_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1", {"spec": {"image": "b"}})

    code, body = failure(
        lambda: custom.replace_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, "w1", {**stale, "spec": {"image": "c"}}
        )
    )
    assert (code, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        f'Operation cannot be fulfilled on {PLURAL}.{GROUP} "w1": the object has been '
        f"modified; please apply your changes to the latest version and try again"
    )

    code, _ = failure(
        lambda: custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            kube_namespace,
            PLURAL,
            "w1",
            {"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}, "spec": {"image": "d"}},
        )
    )
    assert code == 409


def test_put_replaces_the_object(custom, kube_namespace):
    current = create(custom, kube_namespace, widget("w1", image="a", replicas=1))
    replaced = custom.replace_namespaced_custom_object(
        GROUP, VERSION, kube_namespace, PLURAL, "w1", {**current, "spec": {"image": "b"}}
    )
    assert replaced["spec"] == {"image": "b", "size": "small"}
    assert replaced["metadata"]["generation"] == 2
    code, body = failure(
        lambda: custom.replace_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, "w1", widget("w1", image="c")
        )
    )
    assert code == 422 and "must be specified for an update" in body["message"]


def test_failed_json_patch_test_is_422(custom, kube_namespace):
    create(custom, kube_namespace, widget("w1"))
    patch = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "replace", "path": "/spec/image", "value": "x"},
    ]
    code, body = failure(
        lambda: custom.patch_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, "w1", patch, _content_type="application/json-patch+json"
        )
    )
    assert (code, body["reason"]) == (422, "Invalid")


def test_patch_type_comes_from_the_content_type(kube_emulator, core, kube_namespace):
    core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    path = f"/api/v1/namespaces/{kube_namespace}/configmaps/cm"
    code, _ = kube_emulator.request("PATCH", path, {"data": {"b": "2"}}, "application/json-patch+json")
    assert code == 400  # a dict is not a JSON patch: a client sending the wrong type fails here as there
    code, body = kube_emulator.request("PATCH", path, {"data": {"b": "2"}}, MERGE)
    assert (code, body["data"]) == (200, {"a": "1", "b": "2"})


def test_strategic_merge_is_for_built_in_kinds_only(custom, core, kube_namespace):
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    core.create_namespaced_pod(kube_namespace, pod)
    patched = core.patch_namespaced_pod(
        "p",
        kube_namespace,
        {"spec": {"containers": [{"name": "b", "image": "y"}]}},
        _content_type="application/strategic-merge-patch+json",
    )
    assert [c.name for c in patched.spec.containers] == ["a", "b"]  # merged by name, not replaced
    create(custom, kube_namespace, widget("w1"))
    code, body = failure(
        lambda: custom.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            kube_namespace,
            PLURAL,
            "w1",
            {"spec": {"image": "z"}},
            _content_type="application/strategic-merge-patch+json",
        )
    )
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")


def test_delete_collection_by_label(custom, kube_namespace):
    for name, team in (("a", "red"), ("b", "red"), ("c", "blue")):
        create(custom, kube_namespace, {**widget(name), "metadata": {"name": name, "labels": {"team": team}}})
    custom.delete_collection_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, label_selector="team=red")
    left = custom.list_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL)["items"]
    assert [w["metadata"]["name"] for w in left] == ["c"]


@pytest.mark.parametrize(
    "selector, expected",
    [
        ("team=red", ["a", "b"]),
        ("team==red,tier=web", ["a"]),
        ("team!=red", ["c", "d"]),
        ("team in (red, blue)", ["a", "b", "c"]),
        ("team notin (red)", ["c", "d"]),
        ("tier", ["a", "c"]),
        ("!tier", ["b", "d"]),
    ],
)
def test_label_selectors(core, kube_namespace, selector, expected):
    labels = {"a": {"team": "red", "tier": "web"}, "b": {"team": "red"}, "c": {"team": "blue", "tier": "db"}, "d": {}}
    for name, these in labels.items():
        core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": name, "labels": these}})
    found = core.list_namespaced_config_map(kube_namespace, label_selector=selector).items
    assert [cm.metadata.name for cm in found] == expected


def test_field_selectors(core, kube_namespace):
    for name in ("a", "b"):
        core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": name}})
    everywhere = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={kube_namespace}")
    assert [cm.metadata.name for cm in everywhere.items] == ["a", "b"]
    named = core.list_namespaced_config_map(kube_namespace, field_selector="metadata.name!=a")
    assert [cm.metadata.name for cm in named.items] == ["b"]
    code, _ = failure(lambda: core.list_namespaced_config_map(kube_namespace, field_selector="data.x=1"))
    assert code == 400


def test_list_in_pages(core, kube_namespace):
    for index in range(5):
        core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": f"cm{index}"}})
    first = core.list_namespaced_config_map(kube_namespace, limit=3)
    rest = core.list_namespaced_config_map(kube_namespace, limit=3, _continue=first.metadata.var_continue)
    assert [cm.metadata.name for cm in first.items + rest.items] == [f"cm{i}" for i in range(5)]
    assert rest.metadata.var_continue is None


def test_invalid_names_and_labels_are_422(core, kube_namespace):
    code, body = failure(lambda: core.create_namespaced_config_map(kube_namespace, {"metadata": {"name": "Bad_Name"}}))
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.name"
    code, body = failure(
        lambda: core.create_namespaced_config_map(
            kube_namespace, {"metadata": {"name": "ok", "labels": {"model": "Has Spaces"}}}
        )
    )
    assert code == 422 and body["details"]["causes"][0]["field"] == "metadata.labels"


def test_job_gets_server_defaults_and_checks(kube_api_client, kube_namespace):
    batch = kubernetes.client.BatchV1Api(kube_api_client)
    template = {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Always"}}
    code, body = failure(
        lambda: batch.create_namespaced_job(kube_namespace, {"metadata": {"name": "j"}, "spec": {"template": template}})
    )
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy"
    template["spec"]["restartPolicy"] = "Never"
    job = batch.create_namespaced_job(kube_namespace, {"metadata": {"name": "j"}, "spec": {"template": template}})
    assert job.spec.backoff_limit == 6
    assert job.spec.template.metadata.labels["job-name"] == "j"


def test_built_in_kinds_follow_their_real_schemas(kube_emulator, kube_namespace):
    # Sent raw: kubernetes 37 checks these bodies client-side too, but other clients (kopf) do not.
    pods = f"/api/v1/namespaces/{kube_namespace}/pods"
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x", "gpus": 1}]}}
    code, created = kube_emulator.request("POST", pods, pod, "application/json")
    assert code == 201 and "gpus" not in created["spec"]["containers"][0]  # dropped, as by Go decoding

    pod["metadata"]["name"] = "q"
    pod["spec"]["containers"][0] = {"name": "c", "image": "x", "ports": [{"containerPort": "80"}]}
    code, body = kube_emulator.request("POST", pods, pod, "application/json")
    assert (code, body["reason"]) == (400, "BadRequest") and "containerPort" in body["message"]

    pod["spec"]["containers"][0] = {"image": "x"}
    code, body = kube_emulator.request("POST", pods, pod, "application/json")
    assert code == 422 and body["details"]["causes"][0]["field"] == "spec.containers[0].name"


def test_writes_leave_the_stored_object_they_replace_untouched(kube_emulator, kube_namespace):
    # Watch events and earlier answers hold the stored objects themselves: a write makes new ones.
    template = {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}
    kube_emulator.create(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": template}},
        kube_namespace,
    )
    store, kind = kube_emulator.emulator.store, kube_emulator.kind("jobs.batch")
    stored = kube_emulator.call(store.get, kind, kube_namespace, "j")
    snapshot = json.loads(json.dumps(stored))
    kube_emulator.complete_job(kube_namespace, "j")
    kube_emulator.patch("jobs.batch", "j", {"metadata": {"labels": {"a": "b"}}}, kube_namespace)
    assert stored == snapshot
    assert kube_emulator.get("jobs.batch", "j", kube_namespace)["metadata"]["labels"]["a"] == "b"


def test_an_update_is_not_refused_for_a_status_it_does_not_write(kube_emulator, kube_namespace):
    template = {"spec": {"containers": [{"name": "c", "image": "x"}], "restartPolicy": "Never"}}
    job = kube_emulator.create(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": template}},
        kube_namespace,
    )
    job["metadata"]["labels"] = {"a": "b"}
    job["status"] = {"conditions": [{}]}  # type and status are required: invalid, but not written here
    code, body = kube_emulator.request("PUT", f"/apis/batch/v1/namespaces/{kube_namespace}/jobs/j", job)
    assert code == 200 and body["metadata"]["labels"] == {"a": "b"} and body["status"] == {}
    job["metadata"]["resourceVersion"] = body["metadata"]["resourceVersion"]
    code, body = kube_emulator.request("PUT", f"/apis/batch/v1/namespaces/{kube_namespace}/jobs/j/status", job)
    assert code == 422 and body["details"]["causes"][0]["field"] == "status.conditions[0].type"
