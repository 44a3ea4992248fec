"""The sync of `kubectl notebook` against a real Jupyter server (the pod's stand-in): both
directions, ignore rules, temp files, a conflict, a deletion, and a resumed sync."""

import json
import os
import socket
import time
import urllib.parse

import nbformat
import pytest

from jupyter_substratus.backends.portforward import PortForward
from jupyter_substratus.cli.sync import Contents, Sync, SyncError


def _notebook(source: str) -> str:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)]))


@pytest.fixture
def local(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def sync(local, pod_jupyter, tmp_path):
    return Sync(local, Contents(pod_jupyter.url, pod_jupyter.token), tmp_path / "state" / "sync.json")


def _touch_later(path):
    """Jupyter's last_modified has a resolution: make a change there visibly newer."""
    time.sleep(0.02)
    stamp = time.time() + 2
    os.utime(path, (stamp, stamp))


def test_local_files_reach_the_pod_with_the_rules(sync, local, pod_jupyter):
    (local / "train.ipynb").write_text(_notebook("print(1)"))
    (local / "lib").mkdir()
    (local / "lib" / "util.py").write_text("X = 1\n")
    (local / ".gitignore").write_text("outputs/\n*.log\n")
    (local / ".dockerignore").write_text("secret.txt\n")
    (local / "outputs").mkdir()
    (local / "outputs" / "big.bin").write_bytes(b"0" * 100)
    (local / "run.log").write_text("noise")
    (local / "secret.txt").write_text("s3cret")
    for temp in ("notes.txt~", ".#train.ipynb", "draft.swp", "~$doc.docx", "4913", "x.tmp"):
        (local / temp).write_text("temp")
    (local / ".ipynb_checkpoints").mkdir()
    (local / ".ipynb_checkpoints" / "train-checkpoint.ipynb").write_text("{}")
    (local / "data").mkdir()  # the Dataset's mount in the pod: never synced
    (local / "data" / "rows.csv").write_text("a,b\n")
    (pod_jupyter.root / "lost+found").mkdir()  # a volume's own: never synced back
    (pod_jupyter.root / "lost+found" / "#12").write_text("x")

    report = sync.once()

    assert sorted(report.pushed) == ["lib/util.py", "train.ipynb"]
    pod = pod_jupyter.root
    assert (pod / "train.ipynb").read_text() == (local / "train.ipynb").read_text()
    assert (pod / "lib" / "util.py").read_text() == "X = 1\n"
    for absent in ("outputs", "run.log", "secret.txt", "notes.txt~", "x.tmp", "4913", "data", ".gitignore"):
        assert not (pod / absent).exists(), absent
    assert not (local / "lost+found").exists()
    assert not sync.once(), "a second round with nothing changed does nothing"


def test_the_pods_edits_come_back_and_deletions_go_both_ways(sync, local, pod_jupyter):
    (local / "train.ipynb").write_text(_notebook("print(1)"))
    (local / "old.py").write_text("gone soon\n")
    (local / "keep.py").write_text("kept\n")
    sync.once()
    pod = pod_jupyter.root

    (pod / "train.ipynb").write_text(_notebook("print('edited in Jupyter')"))  # saved in the pod
    _touch_later(pod / "train.ipynb")
    (pod / "new.py").write_text("made in the pod\n")
    (pod / ".~temp.py").write_text("hidden temp")
    (local / "old.py").unlink()  # deleted here
    report = sync.once()
    assert sorted(report.pulled) == ["new.py", "train.ipynb"]
    assert report.deleted_there == ["old.py"]
    assert "edited in Jupyter" in (local / "train.ipynb").read_text()
    assert (local / "new.py").read_text() == "made in the pod\n"
    assert not (pod / "old.py").exists()
    assert not (local / ".~temp.py").exists()

    (pod / "keep.py").unlink()  # deleted in the pod
    report = sync.once()
    assert report.deleted_here == ["keep.py"]
    assert not (local / "keep.py").exists()


def test_a_conflict_keeps_both_versions(sync, local, pod_jupyter):
    (local / "train.ipynb").write_text(_notebook("print(1)"))
    sync.once()
    pod = pod_jupyter.root
    (pod / "train.ipynb").write_text(_notebook("print('theirs')"))
    _touch_later(pod / "train.ipynb")
    (local / "train.ipynb").write_text(_notebook("print('mine')"))

    report = sync.once()

    [copy] = report.conflicts
    assert copy.startswith("train.ipynb.conflict-")
    assert "theirs" in (local / copy).read_text(), "the pod's version is kept beside the local one"
    assert "mine" in (local / "train.ipynb").read_text()
    assert "mine" in (pod / "train.ipynb").read_text()
    assert not (pod / copy).exists(), "conflict copies stay here"
    assert not sync.once()


def test_a_later_run_knows_what_changed_meanwhile(local, pod_jupyter, tmp_path):
    state = tmp_path / "state.json"
    (local / "a.py").write_text("1\n")
    Sync(local, Contents(pod_jupyter.url, pod_jupyter.token), state).once()
    (local / "a.py").write_text("2\n")  # edited while the Notebook was suspended

    report = Sync(local, Contents(pod_jupyter.url, pod_jupyter.token), state).once()

    assert report.pushed == ["a.py"] and not report.conflicts
    assert (pod_jupyter.root / "a.py").read_text() == "2\n"
    assert json.loads(state.read_text())["a.py"]["sha256"]


def test_a_wrong_token_is_one_clear_error(local, pod_jupyter, tmp_path):
    with pytest.raises(SyncError, match="403"):
        Sync(local, Contents(pod_jupyter.url, "wrong"), tmp_path / "s.json").once()


def test_sync_through_a_port_forward(local, pod_jupyter, tmp_path):
    """The forward's byte copying, with a plain TCP connection where the cluster gives a
    port-forward stream (the kubernetes client's, which the emulator cannot serve)."""
    address = urllib.parse.urlsplit(pod_jupyter.url)
    forward = PortForward(lambda: socket.create_connection((address.hostname, address.port)))
    try:
        (local / "a.ipynb").write_text(_notebook("print(2)"))
        contents = Contents(f"http://127.0.0.1:{forward.local_port}/", pod_jupyter.token)
        assert Sync(local, contents, tmp_path / "s.json").once().pushed == ["a.ipynb"]
        assert (pod_jupyter.root / "a.ipynb").read_text() == (local / "a.ipynb").read_text()
    finally:
        forward.close()
