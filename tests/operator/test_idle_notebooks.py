"""A Notebook with spec.suspendAfterIdle under the real operator: it reads the activity of the
Notebook's Jupyter server (a real `jupyter server` behind the Notebook's Service, reached through
the emulator's service proxy with the token of the operator's Secret), keeps it running while a
user works, and suspends it once it has been idle that long."""

import base64
import time
import urllib.request

import yaml

from tests.operator.conftest import PVC_CONFIG, RBAC, install_rbac, running_operator, wait_for
from tests.operator.test_models import condition, manifest, ready, reason
from tests.pod_jupyter import running_jupyter_server

LIMIT_SECONDS = 4


def test_activity_keeps_it_running_and_idleness_suspends_it(kube_emulator, kube_namespace, sim, tmp_path):
    notebooks = "notebooks.substratus.ai"
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        kube_emulator.create(
            manifest("Notebook", "nb", image="substratusai/notebook-base", suspendAfterIdle=f"{LIMIT_SECONDS}s"),
            kube_namespace,
        )
        token = base64.b64decode(sim.wait("secrets", "nb-notebook-token")["data"]["token"]).decode()
        with running_jupyter_server(tmp_path, token) as pod:
            # The endpoint first: a first look at a ready pod without one waits a minute for the next.
            sim.wait("services", "nb-notebook")
            kube_emulator.serve_service(kube_namespace, "nb-notebook", pod.address)
            sim.ready_pod("nb-notebook")
            ready(sim, notebooks, "nb")

            # A user at work (API requests) for twice the limit: it keeps running.
            working_until = time.monotonic() + 2 * LIMIT_SECONDS
            while time.monotonic() < working_until:
                request = urllib.request.Request(f"{pod.url}api/contents", headers={"Authorization": f"token {token}"})
                urllib.request.urlopen(request, timeout=5).close()
                assert not sim.get(notebooks, "nb")["spec"].get("suspend")
                time.sleep(0.5)
            assert "lastActivity" in sim.get(notebooks, "nb")["status"]

            # Then nobody: suspended, with the reason in its condition, the pod stopped.
            wait_for(lambda: sim.get(notebooks, "nb")["spec"].get("suspend"), timeout=LIMIT_SECONDS + 15)
            reason(sim, notebooks, "nb", "Serving", "Suspended")
            suspended = wait_for(
                lambda: (
                    "without activity" in condition(sim.get(notebooks, "nb"), "Serving")["message"]
                    and sim.get(notebooks, "nb")
                ),
                what="the idle suspension's message",
            )
            assert f"after {LIMIT_SECONDS}s without activity" in condition(suspended, "Serving")["message"]
            assert suspended["status"]["idleSuspendedAt"] and "lastActivity" in suspended["status"]
            wait_for(lambda: sim.get("pods", "nb-notebook") is None, what="the pod stopped")

        # Resumed: a plain running Notebook again, the suspension forgotten.
        kube_emulator.patch(notebooks, "nb", {"spec": {"suspend": False}}, kube_namespace)
        sim.ready_pod("nb-notebook")
        resumed = ready(sim, notebooks, "nb")
        assert "idleSuspendedAt" not in resumed["status"]


def test_activity_it_may_not_read_is_said_in_its_condition(kube_emulator, kube_namespace, sim, tmp_path):
    """An install whose ClusterRole lacks services/proxy: never suspended, and the Notebook says why."""
    notebooks = "notebooks.substratus.ai"
    with running_operator(kube_emulator, kube_namespace, PVC_CONFIG):
        documents = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
        role = next(d for d in documents if d["kind"] == "ClusterRole")
        role["rules"] = [r for r in role["rules"] if "services/proxy" not in r["resources"]]
        install_rbac(kube_emulator, documents)
        kube_emulator.create(
            manifest("Notebook", "nb", image="substratusai/notebook-base", suspendAfterIdle="1s"), kube_namespace
        )
        token = base64.b64decode(sim.wait("secrets", "nb-notebook-token")["data"]["token"]).decode()
        with running_jupyter_server(tmp_path, token) as pod:
            # The endpoint first: a first look at a ready pod without one waits a minute for the next.
            sim.wait("services", "nb-notebook")
            kube_emulator.serve_service(kube_namespace, "nb-notebook", pod.address)
            sim.ready_pod("nb-notebook")
            ready(sim, notebooks, "nb")
            unread = wait_for(
                lambda: (
                    "cannot read its activity" in condition(sim.get(notebooks, "nb"), "Serving")["message"]
                    and sim.get(notebooks, "nb")
                ),
                what="why its activity cannot be read",
            )
            message = condition(unread, "Serving")["message"]
            assert 'cannot get resource "services/proxy"' in message, message
            time.sleep(3)
            assert sim.get(notebooks, "nb")["status"]["ready"] and not sim.get(notebooks, "nb")["spec"].get("suspend")
