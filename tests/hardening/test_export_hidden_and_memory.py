"""Issue 12, items 6 and 9 (exports): hidden files stay out unless re-included, the dry run lists
what goes in, and an export's bytes are let go once uploaded or deleted."""

import asyncio
import os

import pytest

from jupyter_substratus.backends import Unavailable
from jupyter_substratus.export import ExportManager, build_context, launch, prepare_export
from jupyter_substratus.export import fine_tune as launch_fine_tune
from tests.hardening.conftest import manifest

SECRETS = {
    ".ssh/id_rsa": "PRIVATE KEY",
    ".env": "HF_TOKEN=x",
    ".bash_history": "export TOKEN=y",
    "sub/.cache/blob": "z",
    ".config/app/settings.json": "{}",
}


def project(root, ignore: str | None = None):
    (root / "train.ipynb").write_text("{}")
    (root / "helpers.py").write_text("x = 1\n")
    for path, text in SECRETS.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    if ignore is not None:
        (root / ".dockerignore").write_text(ignore)
    return root


def test_hidden_files_stay_out(tmp_path):
    context = build_context(project(tmp_path), "train.ipynb")
    assert context.files == ("Dockerfile", "helpers.py", "train.ipynb")


def test_a_negation_in_an_ignore_file_brings_one_back(tmp_path):
    context = build_context(project(tmp_path, "!.env\n!.config/app/settings.json\n"), "train.ipynb")
    assert context.files == (
        ".config/app/settings.json",
        ".dockerignore",
        ".env",
        "Dockerfile",
        "helpers.py",
        "train.ipynb",
    )
    (tmp_path / ".dockerignore").unlink()
    (tmp_path / ".gitignore").write_text("!sub/.cache/\n")
    assert "sub/.cache/blob" in build_context(tmp_path, "train.ipynb").files


async def test_the_dry_run_lists_what_goes_in_and_creates_nothing(rest, jp_root_dir):
    project(jp_root_dir)
    answer = await rest("POST", "/export", body={"path": "train.ipynb", "dryRun": True})
    assert answer.status == 200
    assert answer.json["files"] == ["Dockerfile", "helpers.py", "train.ipynb"]
    assert answer.json["dockerfileGenerated"] and answer.json["notebook"] == "train.ipynb"
    assert (await rest("GET", "/{plural}", plural="models")).json["items"] == []


def fine_tune(name: str) -> dict:
    return manifest("Model", name, model={"name": "base"})


async def wait_until(predicate, timeout: float = 30.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_an_export_lets_its_bytes_go_once_uploaded_and_is_forgotten_on_delete(
    rest, backend, jp_root_dir, jp_serverapp
):
    project(jp_root_dir)
    (jp_root_dir / "weights.bin").write_bytes(os.urandom(2_000_000))
    created = await rest("POST", "/export", body={"path": "train.ipynb", "model": fine_tune("tuned")})
    assert created.status == 201
    exports = jp_serverapp.web_app.settings["substratus"].exports()
    export = exports.get("default", "tuned")
    await wait_until(lambda: export.task.done())
    assert export.progress.step == "done" and exports.pending_bytes == 0
    status = await rest("GET", "/export/{name}", name="tuned")
    assert status.status == 200 and status.json["bytesTotal"] > 2_000_000  # still told, no longer held
    assert (await rest("DELETE", "/{plural}/{name}", plural="models", name="tuned")).status == 204
    assert exports.get("default", "tuned") is None
    assert (await rest("GET", "/export/{name}", name="tuned")).status == 404


async def test_the_bytes_waiting_to_upload_are_bounded(backend, tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    project(folder)
    (folder / "weights.bin").write_bytes(os.urandom(300_000))
    manager = ExportManager(backend, upload_timeout=0.5, max_pending_bytes=500_000, max_kept=3)

    async def export(name: str):
        return manager.start(await launch(backend, *prepare_export(folder, "train.ipynb", fine_tune(name))))

    await export("one")
    # "one" holds 300 kB until its upload ends: a second one would pass the bound.
    second, _ = prepare_export(folder, "train.ipynb", fine_tune("two"))
    with pytest.raises(Unavailable, match="still uploading"):
        manager.admit(second)
    await asyncio.gather(manager.exports[("default", "one")].task, return_exceptions=True)
    assert manager.pending_bytes == 0
    for name in ("two", "three", "four", "five"):
        await export(name)
        await asyncio.gather(manager.exports[("default", name)].task, return_exceptions=True)
    assert len(manager.exports) <= 4  # the 3 kept finished ones and the newest
    await manager.close()


async def test_a_refused_export_creates_nothing(backend, tmp_path):
    def refuse(context):
        raise Unavailable("no room")

    with pytest.raises(Unavailable, match="no room"):
        await launch_fine_tune(backend, project(tmp_path), "train.ipynb", fine_tune("refused"), admit=refuse)
    assert await backend.list("models") == []
