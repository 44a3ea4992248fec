"""An IPython InteractiveShell with %load_ext jupyter_substratus, pointed at the emulator; a real
Jupyter server whose kernels run the magics (jupyter_kernel.py)."""

import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from tests.extension.gcs import OperatorUploadStep
from tests.magics.jupyter_kernel import JupyterServer


@pytest.fixture
def shell(kube_emulator, kube_namespace):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_substratus")
    ip.run_line_magic(
        "substratus", f"use --backend kubernetes --namespace {kube_namespace} --kubeconfig {kube_emulator.kubeconfig}"
    )
    yield ip
    ip.magics_manager.registry["SubstratusMagics"].session.close()


@pytest.fixture
def operator_upload(fake_gcs):
    return OperatorUploadStep(fake_gcs, "magics-uploads")


class Later:
    """Act as a controller from a thread: when the object exists (and `when` holds), run `then`."""

    def __init__(self):
        self.threads = []
        self.errors = []

    def __call__(self, cluster, plural, name, namespace, then, when=lambda obj: True, timeout=20):
        def run():
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    obj = cluster.get(plural, name, namespace)
                except Exception:  # noqa: BLE001 - not there yet
                    obj = None
                if obj is not None and when(obj):
                    try:
                        then(obj)
                    except Exception as e:  # noqa: BLE001 - reported by the fixture
                        self.errors.append(e)
                    return
                time.sleep(0.02)
            self.errors.append(TimeoutError(f"{plural}/{name} never appeared"))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)


@pytest.fixture
def later():
    helper = Later()
    yield helper
    for thread in helper.threads:
        thread.join(30)
    assert not helper.errors, helper.errors


@pytest.fixture
def jupyter_server(tmp_path):
    server = JupyterServer(tmp_path)
    yield server
    server.stop()
