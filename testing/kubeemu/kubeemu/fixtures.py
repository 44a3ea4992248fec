"""pytest plugin with the Kubernetes API emulator, loaded by pytest whenever kubeemu is installed
(the `pytest11` entry point). The CRDs to register come from the `kubeemu_crds` ini option: files
or folders of YAML, relative to the rootdir.

Importing this module points KUBECONFIG at a file of its own, before any test module imports
`kubernetes` (the client reads the variable at import time) and so that no test can reach a
real cluster. The file is written when `kube_emulator` starts.
"""

import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kubeemu.errors import ApiError
from kubeemu.harness import KubeCluster

if TYPE_CHECKING:
    import kubernetes

_KUBECONFIG_DIR = Path(tempfile.mkdtemp(prefix="kubeemu-"))
KUBECONFIG = _KUBECONFIG_DIR / "kubeconfig"
os.environ["KUBECONFIG"] = str(KUBECONFIG)
_namespaces = itertools.count(1)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("kubeemu_crds", "CRD files or folders of *.yaml the emulator registers", type="paths", default=[])


def _crd_files(config: pytest.Config) -> list[Path]:
    files: list[Path] = []
    for path in config.getini("kubeemu_crds"):
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_KUBECONFIG_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_emulator(pytestconfig: pytest.Config) -> Iterator[KubeCluster]:
    """The emulator for the whole session, with the CRDs of `kubeemu_crds` POSTed to it."""
    with KubeCluster(kubeconfig=KUBECONFIG) as cluster:
        for path in _crd_files(pytestconfig):
            cluster.post_crds(path)
        yield cluster


@pytest.fixture
def kube_namespace(kube_emulator: KubeCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for this test, deleted (with its content) after it; faults are cleared."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")
    name = f"t{next(_namespaces)}-{slug}"[:63].rstrip("-")
    kube_emulator.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    kube_emulator.faults.clear()
    try:
        kube_emulator.delete("namespaces", name)
    except ApiError as e:
        if e.status != 404:
            raise


@pytest.fixture
def kube_api_client(kube_emulator: KubeCluster) -> "Iterator[kubernetes.client.ApiClient]":
    """An official `kubernetes` client configured from the emulator's kubeconfig."""
    import kubernetes

    client = kubernetes.config.new_client_from_config(config_file=str(kube_emulator.kubeconfig))
    yield client
    client.close()
