"""A Notebook with spec.suspendAfterIdle under the real operator: it reads the activity of the
Notebook's Jupyter server (a real `jupyter server` behind the Notebook's Service, reached through
the emulator's service proxy with the token of the operator's Secret), keeps it running while a
user works, and suspends it once it has been idle that long."""

import base64
import contextlib
import time
import urllib.request

import yaml

from tests.operator.conftest import PVC_CONFIG, RBAC, install_rbac, running_operator, wait_for
from tests.operator.test_models import condition, manifest, ready, reason
from tests.pod_jupyter import running_jupyter_server

LIMIT_SECONDS = 4
NOTEBOOKS = "notebooks.substratus.ai"


@contextlib.contextmanager
def ready_watched_notebook(kube_emulator, namespace, sim, root, limit: str):
    """Notebook nb with suspendAfterIdle `limit`, ready, a real Jupyter server with its Secret's
    token behind its Service (the endpoint before the pod is ready: a first look without one
    waits a minute for the next); that server while the block runs."""
    kube_emulator.create(
        manifest("Notebook", "nb", image="substratusai/notebook-base", suspendAfterIdle=limit), namespace
    )
    token = base64.b64decode(sim.wait("secrets", "nb-notebook-token")["data"]["token"]).decode()
    with running_jupyter_server(root, token) as pod:
        sim.wait("services", "nb-notebook")
        kube_emulator.serve_service(namespace, "nb-notebook", pod.address)
        sim.ready_pod("nb-notebook")
        ready(sim, NOTEBOOKS, "nb")
        yield pod


def test_activity_keeps_it_running_and_idleness_suspends_it(kube_emulator, kube_namespace, sim, tmp_path):
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        with ready_watched_notebook(kube_emulator, kube_namespace, sim, tmp_path, f"{LIMIT_SECONDS}s") as pod:
            # A user at work (API requests) for twice the limit: it keeps running.
            working_until = time.monotonic() + 2 * LIMIT_SECONDS
            while time.monotonic() < working_until:
                auth = {"Authorization": f"token {pod.token}"}
                request = urllib.request.Request(f"{pod.url}api/contents", headers=auth)
                urllib.request.urlopen(request, timeout=5).close()
                assert not sim.get(NOTEBOOKS, "nb")["spec"].get("suspend")
                time.sleep(0.5)
            assert "lastActivity" in sim.get(NOTEBOOKS, "nb")["status"]

            # Then nobody: suspended, with the reason in its condition, the pod stopped.
            wait_for(lambda: sim.get(NOTEBOOKS, "nb")["spec"].get("suspend"), timeout=LIMIT_SECONDS + 15)
            reason(sim, NOTEBOOKS, "nb", "Serving", "Suspended")
            suspended = wait_for(
                lambda: (
                    "without activity" in condition(sim.get(NOTEBOOKS, "nb"), "Serving")["message"]
                    and sim.get(NOTEBOOKS, "nb")
                ),
                what="the idle suspension's message",
            )
            assert f"after {LIMIT_SECONDS}s without activity" in condition(suspended, "Serving")["message"]
            assert suspended["status"]["idleSuspendedAt"] and "lastActivity" in suspended["status"]
            wait_for(lambda: sim.get("pods", "nb-notebook") is None, what="the pod stopped")

        # Resumed: a plain running Notebook again, the suspension forgotten.
        kube_emulator.patch(NOTEBOOKS, "nb", {"spec": {"suspend": False}}, kube_namespace)
        sim.ready_pod("nb-notebook")
        resumed = ready(sim, NOTEBOOKS, "nb")
        assert "idleSuspendedAt" not in resumed["status"]


def test_activity_it_may_not_read_is_said_in_its_condition(kube_emulator, kube_namespace, sim, tmp_path):
    """An install whose ClusterRole lacks services/proxy: never suspended, and the Notebook says why."""
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        documents = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
        role = next(d for d in documents if d["kind"] == "ClusterRole")
        role["rules"] = [r for r in role["rules"] if "services/proxy" not in r["resources"]]
        install_rbac(kube_emulator, documents)
        with ready_watched_notebook(kube_emulator, kube_namespace, sim, tmp_path, "1s"):
            unread = wait_for(
                lambda: (
                    "cannot read its activity" in condition(sim.get(NOTEBOOKS, "nb"), "Serving")["message"]
                    and sim.get(NOTEBOOKS, "nb")
                ),
                what="why its activity cannot be read",
            )
            message = condition(unread, "Serving")["message"]
            assert 'cannot get resource "services/proxy"' in message, message
            time.sleep(3)
            assert sim.get(NOTEBOOKS, "nb")["status"]["ready"] and not sim.get(NOTEBOOKS, "nb")["spec"].get("suspend")
