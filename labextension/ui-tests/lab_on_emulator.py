"""jupyter lab for the UI tests, with the Kubernetes API it talks to.

No kube-apiserver can run here, so the project's Kubernetes API emulator (tests/kubeemu, test
infrastructure that never ships) serves the API on 127.0.0.1 in a thread of this process, with
the generated CRDs of crds/ registered. KUBECONFIG points at it before anything imports the
kubernetes client; then jupyter lab (with the jupyter_substratus server extension) runs in the
same process, with the arguments given to this script.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

work = Path(os.environ.get("SUBSTRATUS_UI_WORK") or tempfile.mkdtemp(prefix="substratus-ui-"))
os.environ["KUBECONFIG"] = str(work / "kubeconfig")

from tests.kubeemu.harness import KubeCluster  # noqa: E402

cluster = KubeCluster(kubeconfig=work / "kubeconfig").start()
for path in sorted((ROOT / "crds").glob("*.yaml")):
    cluster.post_crds(path)
print(f"lab_on_emulator: Kubernetes API emulator on {cluster.url}", flush=True)

from jupyterlab.labapp import main  # noqa: E402

try:
    main(sys.argv[1:])
finally:
    cluster.stop()
