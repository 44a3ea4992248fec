"""A Server's `adapters`: adapter Models it waits for and mounts at /content/adapters/<name> beside
its base model, on both backends (the plan), laid out by the local backend as the server reads them."""

from __future__ import annotations

import pytest

from jupyter_substratus.api import parse
from jupyter_substratus.api import workloads as w
from jupyter_substratus.backends.local import content
from jupyter_substratus.reconcile import verdicts


def server(**spec):
    body = {"apiVersion": "substratus.ai/v1", "kind": "Server", "metadata": {"name": "s"},
            "spec": {"image": "i", "model": {"name": "base"}, **spec}}  # fmt: skip
    return parse(body)


def test_adapters_are_dependencies_mounted_beside_the_base():
    served = server(adapters=[{"name": "colors"}, {"name": "shapes"}])
    assert w.dependencies(served) == [("Model", "base"), ("Model", "colors"), ("Model", "shapes")]
    plan = w.plan(served, w.Inputs("ns", "img"))
    assert [(m.path, m.artifact.name, m.read_only) for m in plan.mounts] == [
        ("/content/model", "base", True),
        ("/content/adapters/colors", "colors", True),
        ("/content/adapters/shapes", "shapes", True),
    ]


def test_a_server_waits_for_its_adapters_too():
    complete = {"ready": True, "conditions": [{"type": "Complete", "status": "True", "reason": "Succeeded",
                                "lastTransitionTime": "2026-01-01T00:00:00Z"}]}  # fmt: skip
    base = parse({"apiVersion": "substratus.ai/v1", "kind": "Model", "metadata": {"name": "base"},
                  "spec": {"image": "i"}, "status": complete})  # fmt: skip
    verdict = verdicts.dependency_verdict(server(adapters=[{"name": "colors"}]), {("Model", "base"): base})
    assert verdict is not None and "colors" in verdict.message


def test_bad_adapter_names_are_refused():
    with pytest.raises(ValueError):
        server(adapters=[{"name": "Not_A_Name"}])


def test_the_local_backend_lays_out_what_the_spec_names_now(tmp_path):
    artifacts = {name: tmp_path / "store" / name for name in ("base", "colors", "shapes")}
    for directory in artifacts.values():
        directory.mkdir(parents=True)
    where = tmp_path / "content"
    for adapters in ([{"name": "colors"}, {"name": "shapes"}], [{"name": "shapes"}]):
        plan = w.plan(server(adapters=adapters), w.Inputs("ns", "img"))
        content.prepare(plan, where, lambda ref: artifacts[ref.name])
    assert (where / "model").resolve() == artifacts["base"]
    assert sorted(p.name for p in (where / "adapters").iterdir()) == ["shapes"]
    assert (where / "adapters" / "shapes").resolve() == artifacts["shapes"]
