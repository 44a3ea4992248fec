"""Build contexts: ignore rules, rejections, the size limit, determinism and the golden hash."""

import gzip
import io
import os
import tarfile
import time

import pytest

from jupyter_substratus.export import ExportError, build_context, generated_dockerfile, prepare_export

# sha256 of the uncompressed tar of `_golden_tree`: the same on every machine and every run.
# If the archive format changes on purpose, update it and say why in the commit.
GOLDEN_SHA256 = "ee219f7f8040f6be7803303429b04c1604b328653e77a682246a3d19b1272fa9"


def _golden_tree(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}\n')
    (root / "lib").mkdir()
    (root / "lib" / "util.py").write_text("def f():\n    return 1\n")
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "data.csv").write_text("a,b\n1,2\n")
    return root


def _names(context):
    with tarfile.open(fileobj=io.BytesIO(context.data)) as tar:
        return [m.name for m in tar.getmembers()]


def test_golden_hash_and_determinism(tmp_path):
    one = build_context(_golden_tree(tmp_path / "one"), "train.ipynb")
    # Another place, other mtimes, other umask for non-executables: the same content hash.
    other = _golden_tree(tmp_path / "elsewhere" / "two")
    past = time.time() - 86400 * 400
    for path in other.rglob("*"):
        os.utime(path, (past, past))
    (other / "data.csv").chmod(0o600)
    two = build_context(other, "train.ipynb")
    assert one.sha256 == two.sha256 == GOLDEN_SHA256
    assert one.data == two.data and one.md5 == two.md5
    assert one.name == f"context-{GOLDEN_SHA256[:16]}.tar.gz"


def test_archive_is_normalised(tmp_path):
    context = build_context(_golden_tree(tmp_path), "train.ipynb")
    assert context.data[4:8] == b"\0\0\0\0"  # gzip header mtime
    assert gzip.decompress(context.data)
    with tarfile.open(fileobj=io.BytesIO(context.data)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(m.name for m in members)
    assert [m.name for m in members] == ["Dockerfile", "data.csv", "lib/util.py", "run.sh", "train.ipynb"]
    for member in members:
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
        assert member.isfile()
    modes = {m.name: m.mode for m in members}
    assert modes["run.sh"] == 0o755 and modes["data.csv"] == 0o644


def test_generated_dockerfile(tmp_path):
    (tmp_path / "my notebook.ipynb").write_text("{}")
    context = build_context(tmp_path, "my notebook.ipynb")
    assert context.dockerfile_generated
    with tarfile.open(fileobj=io.BytesIO(context.data)) as tar:
        dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert dockerfile == generated_dockerfile("my notebook.ipynb")
    assert dockerfile.splitlines() == [
        "FROM substratusai/model-trainer-huggingface",
        "COPY . /content/src",
        'ENV TRAINER_NOTEBOOK="/content/src/my notebook.ipynb"',
    ]


def test_own_dockerfile_is_kept(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\n")
    context = build_context(tmp_path, "nb.ipynb")
    assert not context.dockerfile_generated
    with tarfile.open(fileobj=io.BytesIO(context.data)) as tar:
        assert tar.extractfile("Dockerfile").read() == b"FROM python:3.12\n"


def test_ignore_rules(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / ".dockerignore").write_text("*.env\n!keep.env\nbig/\n# comment\n")
    (tmp_path / ".gitignore").write_text("/out\n*.ckpt\n")
    for name in [
        "a.env",
        "keep.env",
        "big/w.bin",
        "out/x",
        "sub/out/y",
        "m.ckpt",
        "sub/n.ckpt",
        ".git/config",
        "sub/.git/HEAD",
        ".ipynb_checkpoints/nb-checkpoint.ipynb",
        "sub/.ipynb_checkpoints/x",
        "__pycache__/m.pyc",
        "sub/file.py",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    context = build_context(tmp_path, "nb.ipynb")
    assert list(context.files) == [
        ".dockerignore",
        ".gitignore",
        "Dockerfile",
        "keep.env",
        "nb.ipynb",
        "sub/file.py",
        "sub/out/y",
    ]


def test_dockerignore_has_dockers_meaning(tmp_path):
    """Rooted patterns (`*.md` is the top folder's only, `data` is not `src/data`), `**` for any
    depth, and `!` re-including a file inside an excluded folder, as `docker build` reads them."""
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / ".dockerignore").write_text("*.md\n**/*.tmp\n./data\nlogs/\n!logs/keep.txt\n")
    for name in ["README.md", "docs/guide.md", "a.tmp", "sub/b.tmp", "data/x", "src/data/y", "logs/a", "logs/keep.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    assert list(build_context(tmp_path, "nb.ipynb").files) == [
        ".dockerignore",
        "Dockerfile",
        "docs/guide.md",
        "logs/keep.txt",
        "nb.ipynb",
        "src/data/y",
    ]


def test_symlinks_are_rejected(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / "link.txt").symlink_to("/etc/hostname")
    with pytest.raises(ExportError, match="link.txt.*symlink"):
        build_context(tmp_path, "nb.ipynb")
    (tmp_path / "link.txt").unlink()
    (tmp_path / "dir").symlink_to(tmp_path.parent)
    with pytest.raises(ExportError, match="dir.*symlink"):
        build_context(tmp_path, "nb.ipynb")
    (tmp_path / ".dockerignore").write_text("dir\n")
    assert "dir" not in build_context(tmp_path, "nb.ipynb").files  # an ignored symlink is fine


def test_notebook_outside_the_directory_is_rejected(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "outside.ipynb").write_text("{}")
    with pytest.raises(ExportError, match="leaves the directory"):
        build_context(project, "../outside.ipynb")
    with pytest.raises(ExportError, match="not inside"):
        build_context(project, tmp_path / "outside.ipynb")
    with pytest.raises(ExportError, match="no notebook"):
        build_context(project, "missing.ipynb")
    (project / "nb.ipynb").symlink_to(tmp_path / "outside.ipynb")
    with pytest.raises(ExportError, match="symlink"):
        build_context(project, "nb.ipynb")
    with pytest.raises(ExportError, match="not a directory"):
        build_context(tmp_path / "outside.ipynb", "x.ipynb")


def test_size_limit(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    (tmp_path / "weights.bin").write_bytes(b"\0" * 5000)
    with pytest.raises(ExportError, match=r"over the limit of 0.0 MB.*weights.bin.*\.dockerignore"):
        build_context(tmp_path, "nb.ipynb", max_bytes=4000)
    (tmp_path / ".dockerignore").write_text("*.bin\n")
    assert build_context(tmp_path, "nb.ipynb", max_bytes=4000).files


def test_prepare_export_builds_a_valid_model(tmp_path):
    (tmp_path / "nb.ipynb").write_text("{}")
    model = {"metadata": {"name": "ft"}, "spec": {"image": "ignored", "model": {"name": "base"}}}
    context, manifest = prepare_export(tmp_path, "nb.ipynb", model)
    assert manifest["kind"] == "Model" and "image" not in manifest["spec"]
    assert manifest["spec"]["build"]["upload"]["md5Checksum"] == context.md5
    assert model["spec"]["image"] == "ignored"  # the caller's dict is left alone
