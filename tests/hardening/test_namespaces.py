"""Issue 12, item 3: a namespace is a DNS-1123 label everywhere one is taken, so nothing is read
or written outside the state directory."""

import json

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jupyter_substratus.backends import BadRequest
from tests.hardening.conftest import files_under, loader

ESCAPES = ["../../x", "/tmp/x", "..", "a/b", "UPPER", "x" * 64, "", "bad\nname"]


@pytest.mark.parametrize("namespace", ESCAPES)
async def test_rest_refuses_a_namespace_that_is_no_label(rest, backend, tmp_path, jp_root_dir, namespace):
    before = files_under(tmp_path)
    body = loader("escape")
    body["metadata"]["namespace"] = namespace
    created = await rest("POST", "/{plural}", plural="models", body=body)
    assert created.status in (400, 422), created.json
    assert "namespace" in json.dumps(created.json)
    replaced = await rest("PUT", "/{plural}/{name}", plural="models", name="escape", body=body)
    assert replaced.status in (400, 404, 422)
    (jp_root_dir / "nb.ipynb").write_text("{}")
    exported = await rest("POST", "/export", body={"path": "nb.ipynb", "model": body})
    assert exported.status in (400, 422) and "namespace" in json.dumps(exported.json), exported.json
    assert files_under(tmp_path) - before <= {jp_root_dir / "nb.ipynb"}


@pytest.mark.parametrize("namespace", ["../x", "/tmp", "a b", "A"])
async def test_the_query_and_proxy_namespaces_are_labels(rest, backend, namespace):
    listed = await rest("GET", "/{plural}", plural="models", params={"namespace": namespace})
    assert listed.status == 400
    proxied = await rest(
        "GET", "/namespaces/{namespace}/servers/{name}/proxy/{path}", namespace=namespace, name="s", path="v1/models"
    )
    assert proxied.status == 404 and "namespace" in proxied.json["message"]


async def test_the_store_takes_labels_only(backend, tmp_path):
    for namespace in ("..", "../../etc", "/tmp/x"):
        with pytest.raises(BadRequest, match="namespace"):
            await backend.create(loader("escape"), namespace)
        with pytest.raises(BadRequest, match="namespace"):
            await backend.get("models", "escape", namespace)
    with pytest.raises(BadRequest, match="name"):
        backend.store.directory("default", "models", "../../x")


def test_the_magics_refuse_a_namespace_that_is_no_label():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_substratus")
    for namespace in ("../x", "/tmp/x", "UPPER"):
        with pytest.raises(UsageError, match="not a namespace"):
            ip.run_line_magic("substratus", f"use --backend local --namespace {namespace}")
