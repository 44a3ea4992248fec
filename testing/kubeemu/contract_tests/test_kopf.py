"""kopf can be served: a trivial operator reacts to a custom resource's creation and change."""

import sys
import textwrap
import time

import kopf
import kubernetes
from kopf.testing import KopfRunner
from kubernetes.client import ApiException

from .conftest import GROUP, PLURAL, VERSION, widget

OPERATOR = textwrap.dedent(f"""
    import kopf

    @kopf.on.login()  # a fresh registry has none of kopf's default login handlers
    def login(**kwargs):
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup()
    def configure(settings, **_):
        settings.watching.server_timeout = 30

    @kopf.on.create("{GROUP}", "{VERSION}", "{PLURAL}")
    def created(body, patch, **_):
        patch.status["phase"] = "Created"
        kopf.info(body, reason="Seen", message="a widget was created")

    @kopf.on.field("{GROUP}", "{VERSION}", "{PLURAL}", field="spec.image")
    def image_changed(old, new, patch, **_):
        if old is not None:
            patch.status["phase"] = f"Image {{new}}"

    @kopf.on.delete("{GROUP}", "{VERSION}", "{PLURAL}")
    def deleted(**_):
        pass
""")


def wait_for(check, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(0.05)
    return result


def test_kopf_reacts_to_create_and_change_and_releases_on_delete(
    kube_api_client, custom, kube_namespace, tmp_path, monkeypatch
):
    # kopf puts the file's folder on sys.path for good; pytest-jupyter hands sys.path to
    # subprocesses as PYTHONPATH, so later tests' programs would import from there.
    monkeypatch.setattr(sys, "path", list(sys.path))
    operator = tmp_path / "widget_operator.py"
    operator.write_text(OPERATOR)
    core = kubernetes.client.CoreV1Api(kube_api_client)

    def phase() -> str | None:
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
        return obj.get("status", {}).get("phase")

    def absent() -> bool:
        try:
            custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
        except ApiException as e:
            return e.status == 404
        return False

    args = ["run", "-A", "--standalone", str(operator)]
    with KopfRunner(args, registry=kopf.OperatorRegistry(), timeout=30) as runner:
        custom.create_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, widget("w1", image="busybox"))
        assert wait_for(lambda: phase() == "Created")
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, kube_namespace, PLURAL, "w1", {"spec": {"image": "nginx"}}
        )
        assert wait_for(lambda: phase() == "Image nginx")
        obj = custom.get_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
        assert obj["metadata"]["finalizers"] == ["kopf.zalando.org/KopfFinalizerMarker"]
        custom.delete_namespaced_custom_object(GROUP, VERSION, kube_namespace, PLURAL, "w1")
        assert wait_for(absent)  # kopf removed its finalizer (a JSON patch guarded by a `test` op)
        events = wait_for(
            lambda: core.list_namespaced_event(kube_namespace, field_selector="involvedObject.name=w1").items
        )  # posted by kopf in the background
        assert [(e.reason, e.message, e.involved_object.kind) for e in events] == [
            ("Seen", "a widget was created", "Widget")
        ]

    assert runner.exit_code == 0 and runner.exception is None
