"""Issue 12, item 2: one corrupt resource.json is shown, not fatal, and DELETE removes it."""

import asyncio

import pytest

from jupyter_substratus.backends.local import LocalBackend
from tests.hardening.conftest import loader

DAMAGE = [
    b'{"kind": "Model", "metadata": {"na',
    b"[1, 2]",
    b"\xff\xfe not utf-8",
    b'{"kind": "Model", "metadata": {"name": "other", "namespace": "default"}}',
]


async def completed(rest, name: str, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while not (obj := (await rest("GET", "/{plural}/{name}", plural="models", name=name)).json)["status"]["ready"]:
            await asyncio.sleep(0.1)
    return obj


@pytest.mark.parametrize("damage", DAMAGE, ids=["truncated", "not-an-object", "not-utf8", "another-resource"])
async def test_a_damaged_file_is_shown_and_everything_else_goes_on(rest, backend, damage):
    assert (await rest("POST", "/{plural}", plural="models", body=loader("broken"))).status == 201
    await completed(rest, "broken")
    damaged_file = backend.store.directory("default", "models", "broken") / "resource.json"
    damaged_file.write_bytes(damage)

    listed = await rest("GET", "/{plural}", plural="models")
    assert listed.status == 200
    [shown] = listed.json["items"]
    [condition] = shown["status"]["conditions"]
    assert condition["reason"] == "InvalidResourceFile" and str(damaged_file) in condition["message"]
    got = await rest("GET", "/{plural}/{name}", plural="models", name="broken")
    assert got.status == 200 and got.json["status"]["conditions"] == [condition]
    replaced = await rest("PUT", "/{plural}/{name}", plural="models", name="broken", body=loader("broken"))
    assert replaced.status == 409 and "damaged" in replaced.json["message"]
    assert damaged_file.read_bytes() == damage  # left for the user to look at

    # The reconciler goes on with everything else.
    assert (await rest("POST", "/{plural}", plural="models", body=loader("fresh"))).status == 201
    await completed(rest, "fresh")

    assert (await rest("DELETE", "/{plural}/{name}", plural="models", name="broken")).status == 204
    assert (await rest("GET", "/{plural}/{name}", plural="models", name="broken")).status == 404
    assert not damaged_file.parent.exists()


async def test_a_damaged_file_found_at_start_does_not_stop_the_reconciler(tmp_path, images):
    folder = tmp_path / "state" / "default" / "servers" / "old"
    folder.mkdir(parents=True)
    (folder / "resource.json").write_text("{not json")
    backend = LocalBackend(state_dir=tmp_path / "state", images_dir=images, kernels_dir=tmp_path / "kernels")
    try:
        [shown] = await backend.list("servers")
        assert shown["status"]["conditions"][0]["reason"] == "InvalidResourceFile"
        await backend.create(loader("model"))
        async with asyncio.timeout(30):
            while not (await backend.get("models", "model"))["status"]["ready"]:
                await asyncio.sleep(0.1)
    finally:
        await backend.close()
