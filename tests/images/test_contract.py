"""images/common/substratus_contract.py: the helpers every workload image shares."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.images.fixtures import IMAGES

_spec = importlib.util.spec_from_file_location("substratus_contract", IMAGES / "common" / "substratus_contract.py")
contract = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(contract)


@pytest.fixture
def content(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith("PARAM_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("CONTENT_DIR", str(tmp_path))
    monkeypatch.setenv("TERMINATION_LOG", str(tmp_path / "termination-log"))
    return tmp_path


def test_paths_follow_content_dir(content, monkeypatch):
    assert contract.model_dir() == content / "model" and contract.data_dir() == content / "data"
    assert contract.artifacts_dir() == content / "artifacts" and (content / "artifacts").is_dir()
    monkeypatch.delenv("CONTENT_DIR")
    assert str(contract.content_dir()) == "/content"


def test_params_from_env_and_file_file_wins(content, monkeypatch):
    monkeypatch.setenv("PARAM_LEARNING_RATE", "0.001")
    monkeypatch.setenv("PARAM_MAX_STEPS", "10")
    monkeypatch.setenv("PARAM_MERGE_ADAPTER", "false")
    monkeypatch.setenv("PARAM_NAME", "org/model")
    monkeypatch.setenv("PARAM_LIST", "[1, 2]")  # only scalars are decoded
    assert contract.params() == {
        "learning_rate": 0.001,
        "max_steps": 10,
        "merge_adapter": False,
        "name": "org/model",
        "list": "[1, 2]",
    }
    (content / "params.json").write_text(json.dumps({"max_steps": 20, "lora_r": 8}))
    found = contract.params()
    assert found["max_steps"] == 20 and found["lora_r"] == 8 and found["name"] == "org/model"


@pytest.mark.parametrize(
    "kind, value, expected",
    [
        (int, "12", 12),
        (int, 3.0, 3),
        (float, "0.5", 0.5),
        (float, 2, 2.0),
        (bool, "yes", True),
        (bool, "0", False),
        (bool, True, True),
        (list, "a, b,,c", ["a", "b", "c"]),
        (list, ["x", 1], ["x", "1"]),
        (str, 5, "5"),
    ],
)
def test_param_types(kind, value, expected):
    assert contract.param({"key": value}, "key", kind) == expected


def test_param_default_when_absent_or_null():
    assert contract.param({}, "key", int, 7) == 7
    assert contract.param({"key": None}, "key", str, "d") == "d"


@pytest.mark.parametrize(
    "kind, value, words",
    [
        (int, "ten", "an integer"),
        (int, 1.5, "an integer"),
        (int, True, "an integer"),
        (float, False, "a number"),
        (bool, "maybe", "a boolean"),
    ],
)
def test_param_of_the_wrong_type_fails_naming_it(content, capsys, kind, value, words):
    with pytest.raises(SystemExit) as exited:
        contract.param({"max_steps": value}, "max_steps", kind)
    assert exited.value.code == 1
    reason = (content / "termination-log").read_text()
    assert reason.count("\n") == 1 and "param max_steps" in reason and words in reason
    assert capsys.readouterr().err == f"error: {reason}"


def test_fail_is_one_line_and_survives_an_unwritable_log(content, monkeypatch, capsys):
    with pytest.raises(SystemExit):
        contract.run(lambda: (_ for _ in ()).throw(contract.ContractError("two\nlines  here")))
    assert (content / "termination-log").read_text() == "two lines here\n"
    monkeypatch.setenv("TERMINATION_LOG", str(content / "no-such-dir" / "log"))
    with pytest.raises(SystemExit):
        contract.fail("still reported")
    assert "error: still reported" in capsys.readouterr().err


def test_bad_params_json_is_a_clean_failure(content):
    (content / "params.json").write_text("[1, 2]")
    with pytest.raises(SystemExit):
        contract.params()
    assert "must hold a JSON object" in (content / "termination-log").read_text()


def test_completion_marker_lists_files_with_sha256(content):
    artifacts = contract.artifacts_dir()
    (artifacts / "weights.bin").write_bytes(b"\x00" * 1000)
    (artifacts / "sub").mkdir()
    (artifacts / "sub" / "a.txt").write_text("a")
    contract.write_manifest(artifacts, kind="model", parameters=3)
    assert not contract.is_complete(artifacts)
    contract.mark_complete(artifacts)
    marker = json.loads((artifacts / ".complete").read_text())
    assert set(marker["files"]) == {"weights.bin", "sub/a.txt", "manifest.json"}
    assert marker["files"]["weights.bin"] == {"size": 1000, "sha256": hashlib.sha256(b"\x00" * 1000).hexdigest()}
    assert marker["finished_at"].endswith("Z") and not (artifacts / ".complete.tmp").exists()
    assert contract.is_complete(artifacts) and contract.read_manifest(artifacts)["parameters"] == 3


def test_require_complete(content):
    with pytest.raises(SystemExit):
        contract.require_complete(content / "model")
    assert "does not exist" in (content / "termination-log").read_text()
    (content / "model").mkdir()
    with pytest.raises(SystemExit):
        contract.require_complete(content / "model")
    assert "incomplete" in (content / "termination-log").read_text()
    contract.mark_complete(content / "model")
    contract.require_complete(content / "model")


def test_progress_lines_go_to_stdout_and_the_file(content, capsys):
    contract.progress(step=1, loss=2.5)
    contract.progress(step=2, loss=1.5)
    lines = (content / "artifacts" / "progress.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2]
    assert capsys.readouterr().out.splitlines() == lines


def test_model_name_and_adapter_base(content):
    model = content / "model"
    model.mkdir()
    assert contract.model_name(model) == "model" and contract.base_model_dir(model) is None
    contract.write_manifest(model, source="org/tiny")
    (model / "base").mkdir()
    assert contract.model_name(model) == "org/tiny" and contract.base_model_dir(model) == model / "base"


def test_a_program_failing_in_a_subprocess(tmp_path):
    """The whole path as an image runs it: exit code 1, the reason in the log, no traceback."""
    program = "import substratus_contract as c\nc.run(lambda: c.param({'x': 'y'}, 'x', int))\n"
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={
            "PYTHONPATH": str(IMAGES / "common"),
            "TERMINATION_LOG": str(tmp_path / "log"),
            "CONTENT_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert (tmp_path / "log").read_text() == "param x must be an integer, not 'y'\n"
