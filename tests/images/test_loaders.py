"""The model and dataset loaders, run as programs the way the local backend runs them."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import threading

import pytest

from tests.images.fixtures import run_program, termination_reason, toy_records, write_jsonl


def _manifest(content):
    return json.loads((content / "artifacts" / "manifest.json").read_text())


def _failed(result, content, *words):
    reason = termination_reason(content)
    assert result.returncode != 0, result.stdout
    assert reason and "\n" not in reason
    for word in words:
        assert word in reason, reason
    assert not (content / "artifacts" / ".complete").exists()
    return reason


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_model_loader_local_dir_and_gcs(model_artifacts, tiny_model_dirs, tmp_path, fake_gcs):
    from transformers import AutoModelForCausalLM

    artifacts = model_artifacts("llama")  # the loader's run on the tiny Llama's local dir, once per session
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["source"] == str(tiny_model_dirs["llama"])
    assert manifest["architecture"] == "LlamaForCausalLM" and manifest["dtype"] == "float32"
    model = AutoModelForCausalLM.from_pretrained(artifacts)
    assert manifest["parameters"] == sum(p.numel() for p in model.parameters())
    assert (artifacts / "model.safetensors").is_file() and (artifacts / "tokenizer.json").is_file()
    marker = json.loads((artifacts / ".complete").read_text())
    assert "manifest.json" in marker["files"] and "model.safetensors" in marker["files"]

    for path in tiny_model_dirs["opt"].iterdir():
        fake_gcs.upload("models", f"tiny/opt/{path.name}", path.read_bytes())
    content = tmp_path / "gcs"
    result = run_program("model-loader-huggingface", content, {"name": "gs://models/tiny/opt"}, env=fake_gcs.env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert _manifest(content)["source"] == "gs://models/tiny/opt"
    assert _manifest(content)["model_type"] == "opt"


@pytest.mark.slow  # converts SmolLM2-135M from GGUF, about 15-45 s
def test_model_loader_gguf(smollm2_dir):
    artifacts = smollm2_dir
    manifest = json.loads((artifacts / "manifest.json").read_text())
    assert manifest["architecture"] == "LlamaForCausalLM"
    assert manifest["gguf_file"].endswith(".gguf")
    assert 100e6 < manifest["parameters"] < 200e6
    assert "quantization_config" not in json.loads((artifacts / "config.json").read_text())
    assert (artifacts / ".complete").is_file()


def test_model_loader_failures(tmp_path):
    content = tmp_path / "missing"
    _failed(
        run_program("model-loader-huggingface", content, {"name": str(tmp_path / "nowhere")}), content, "does not exist"
    )
    content = tmp_path / "hub"  # hub code path, offline here: a clean failure naming the repo
    _failed(
        run_program("model-loader-huggingface", content, {"name": "some-org/no-such-model", "revision": "v1"}),
        content,
        "some-org/no-such-model",
        "v1",
    )
    content = tmp_path / "noname"
    _failed(run_program("model-loader-huggingface", content, {}), content, "name")
    content = tmp_path / "type"
    _failed(
        run_program("model-loader-huggingface", content, {"name": "x/y", "revision": ["a", "b"]}), content, "revision"
    )


def test_dataset_loader_sources(tmp_path, http_root, fake_gcs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root, base = http_root
    write_jsonl(root / "train.jsonl", toy_records())
    (root / "table.csv").write_text("prompt,completion\na,b\nc,d\n")
    pq.write_table(pa.table({"text": ["x", "y", "z"]}), root / "rows.parquet")
    local = write_jsonl(tmp_path / "extra" / "more.jsonl", toy_records()[:3])
    gcs_url = fake_gcs.upload("datasets", "toy/gcs.jsonl", (root / "train.jsonl").read_bytes())
    urls = [f"{base}/train.jsonl", f"{base}/table.csv", f"{base}/rows.parquet", local.as_uri(), gcs_url]
    content = tmp_path / "content"
    result = run_program("dataset-loader-http", content, {"urls": urls}, env=fake_gcs.env)
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = _manifest(content)
    files = {f["name"]: f for f in manifest["files"]}
    assert set(files) == {"train.jsonl", "table.csv", "rows.parquet", "more.jsonl", "gcs.jsonl"}
    assert files["train.jsonl"]["rows"] == 8 and files["table.csv"]["rows"] == 2
    assert files["rows.parquet"]["rows"] == 3 and files["more.jsonl"]["rows"] == 3
    artifacts = content / "artifacts"
    for name, entry in files.items():
        assert hashlib.sha256((artifacts / name).read_bytes()).hexdigest() == entry["sha256"]
    assert not list(artifacts.glob(".*.part")) and (artifacts / ".complete").is_file()

    # Again in the same dir, from a comma-separated string with a plain path: only these files remain.
    result = run_program("dataset-loader-http", content, {"urls": f"{local},{base}/train.jsonl"})
    assert result.returncode == 0, result.stderr[-2000:]
    kept = {path.name for path in artifacts.iterdir()}
    assert kept == {"more.jsonl", "train.jsonl", "manifest.json", ".complete"}


def test_dataset_loader_failures(tmp_path, http_root):
    root, base = http_root
    lines = [json.dumps(r) for r in toy_records()]
    lines.insert(4, '{"prompt": "broken", ')
    (root / "bad.jsonl").write_text("\n".join(lines) + "\n")
    content = tmp_path / "bad"
    _failed(
        run_program("dataset-loader-http", content, {"urls": [f"{base}/bad.jsonl"]}), content, "bad.jsonl", "line 5"
    )
    content = tmp_path / "404"
    _failed(run_program("dataset-loader-http", content, {"urls": f"{base}/absent.jsonl"}), content, "404")
    content = tmp_path / "none"
    _failed(run_program("dataset-loader-http", content, {}), content, "urls")
    content = tmp_path / "scheme"
    _failed(run_program("dataset-loader-http", content, {"urls": "ftp://example.invalid/x.csv"}), content, "ftp")
