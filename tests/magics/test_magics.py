"""The %substratus magics through IPython's InteractiveShell, against the emulator."""

import io
import json
import tarfile
import time

from jupyter_substratus.api.workloads import CANCEL_ANNOTATION, server_service

STAMP = "2026-11-22T12:00:00Z"
TRAINER_STATUS = {"currentStep": 10, "totalSteps": 20, "currentEpoch": 0.5, "loss": 1.25, "progressPercentage": 50,
                  "estimatedRemainingSeconds": 10, "lastUpdatedTime": STAMP}  # fmt: skip
FINE_TUNE = {
    "apiVersion": "substratus.ai/v1",
    "kind": "Model",
    "metadata": {"name": "ft"},
    "spec": {"image": "substratusai/model-trainer-huggingface", "model": {"name": "opt"}, "dataset": {"name": "d"}},
}


def _ready(cluster, plural, namespace, **status):
    def then(obj):
        cluster.patch_status(plural, obj["metadata"]["name"], {"ready": True, "phase": "Ready", **status}, namespace)

    return then


def _get_when(shell, kind, name, predicate, timeout=10.0):
    """%substratus get, once the watch shows what the emulator was told (it may lag a moment)."""
    deadline = time.monotonic() + timeout
    while not predicate(table := shell.run_line_magic("substratus", f"get {kind} {name}")):
        assert time.monotonic() < deadline, repr(table)
        time.sleep(0.05)
    return table


def test_help_and_bad_arguments(shell, capsys):
    shell.run_cell("%substratus --help")
    assert "list" in capsys.readouterr().out
    for line, expected in [
        ("%substratus", "required: COMMAND"),
        ("%substratus frobnicate", "invalid choice"),
        ("%substratus list widgets", "unknown kind 'widgets'"),
        ("%substratus import x", "required: source"),
        ("%substratus import x facebook/opt-125m --gpu nvidia-x:1", "GPU type 'nvidia-x'"),
        ("%substratus import x facebook/opt-125m --gpu nvidia-l4:many", "not a whole number"),
        ("%substratus import Bad_Name facebook/opt-125m", "metadata.name: must be lowercase"),
        ("%substratus dataset d --url u --param novalue", "is not key=value"),
        ("%substratus finetune ft --model m --dataset d", "finetune is a cell magic"),
        ("%substratus list 'unbalanced", "cannot read the arguments"),
        ("%substratus cancel", "required: name"),
        ("%substratus notebook nb --suspend-after-idle 30", "spec.suspendAfterIdle: must be a whole number and s"),
    ]:
        result = shell.run_cell(line)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err, line
        assert expected in captured.err, (line, captured.err)
        assert result.error_in_exec is None or "UsageError" in type(result.error_in_exec).__name__


def test_rerun(shell, capsys, kube_emulator, kube_namespace):
    shell.run_line_magic("substratus", "dataset colors --url https://e.com/a.jsonl")
    first = kube_emulator.get("datasets", "colors", kube_namespace)
    failed = {"type": "Complete", "status": "False", "reason": "JobFailed", "message": "HTTP 503",
              "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip
    kube_emulator.patch_status("datasets", "colors", {"phase": "Failed", "conditions": [failed]}, kube_namespace)
    shell.run_line_magic("substratus", "rerun dataset colors")
    assert "Created Dataset colors again" in capsys.readouterr().out
    again = kube_emulator.get("datasets", "colors", kube_namespace)
    assert again["metadata"]["uid"] != first["metadata"]["uid"] and again["spec"] == first["spec"]
    shell.run_line_magic("substratus", "rerun server colors")
    assert "only Models and Datasets run again" in capsys.readouterr().err


def test_cancel(shell, capsys, kube_emulator, kube_namespace):
    shell.run_line_magic("substratus", "import opt facebook/opt-125m")
    shell.run_line_magic("substratus", "cancel opt")  # a Model unless the kind is given
    requested = kube_emulator.get("models", "opt", kube_namespace)["metadata"]["annotations"][CANCEL_ANNOTATION]
    out = capsys.readouterr().out
    assert f"Cancel of Model opt requested at {requested}" in out and "%substratus rerun model opt" in out

    shell.run_line_magic("substratus", "dataset colors --url https://e.com/a.jsonl")
    shell.run_line_magic("substratus", "cancel dataset colors")
    assert CANCEL_ANNOTATION in kube_emulator.get("datasets", "colors", kube_namespace)["metadata"]["annotations"]
    assert "Cancel of Dataset colors requested" in capsys.readouterr().out

    kube_emulator.patch_status("datasets", "colors", {"ready": True, "phase": "Ready"}, kube_namespace)
    _get_when(shell, "dataset", "colors", lambda table: table.rows[0][2] == "Ready")
    capsys.readouterr()
    for line, expected in [
        ("cancel dataset colors", "Dataset colors is complete: nothing runs to cancel"),
        ("cancel server colors", "only Models and Datasets are cancelled"),
        ("cancel nope", "nope"),
        ("cancel widget x", "unknown kind 'widget'"),
        ("cancel notebook colors", "only Models and Datasets are cancelled"),
        ("cancel dataset missing", "missing"),
        ("cancel model Bad_Name", "Bad_Name"),
        ("cancel model a b", "unrecognized arguments: b"),
    ]:
        result = shell.run_cell(f"%substratus {line}")
        captured = capsys.readouterr()
        assert expected in captured.err and "Traceback" not in captured.out + captured.err, (line, captured.err)
        assert result.error_in_exec is None or "UsageError" in type(result.error_in_exec).__name__
    # The refused lines made nothing and changed nothing: opt keeps its one cancel request.
    assert kube_emulator.get("models", "opt", kube_namespace)["metadata"]["annotations"] == {
        CANCEL_ANNOTATION: requested
    }


def test_get_shows_the_phase_and_the_training_progress(shell, kube_emulator, kube_namespace):
    kube_emulator.create(FINE_TUNE, kube_namespace)
    kube_emulator.patch_status("models", "ft", {"phase": "Running", "trainerStatus": TRAINER_STATUS}, kube_namespace)
    table = _get_when(shell, "model", "ft", lambda table: table.notes)
    assert table.rows[0][2] == "Running"
    assert table.notes == ["Progress: step 10/20 (50%), epoch 0.5, loss 1.25, about 10 s left"]
    assert repr(table).splitlines()[-1] == table.notes[0]
    assert "<p>Progress: step 10/20 (50%)" in table._repr_html_()

    stalled = {"type": "Complete", "status": "False", "reason": "DependencyNotFound",
               "message": "Model opt does not exist (yet)", "lastTransitionTime": STAMP}  # fmt: skip
    kube_emulator.patch_status("models", "ft", {"phase": "Stalled", "conditions": [stalled]}, kube_namespace)
    table = _get_when(shell, "model", "ft", lambda table: table.rows[0][2] == "Stalled")
    assert table.rows[0][3] == "Model opt does not exist (yet)"


def test_wait_shows_the_training_progress(shell, capsys, kube_emulator, kube_namespace, later):
    def train(obj):
        running = {"phase": "Running", "trainerStatus": TRAINER_STATUS}
        kube_emulator.patch_status("models", "opt", running, kube_namespace)
        time.sleep(0.5)
        kube_emulator.patch_status("models", "opt", {"ready": True, "phase": "Ready"}, kube_namespace)

    later(kube_emulator, "models", "opt", kube_namespace, train)
    shell.run_line_magic("substratus", "import opt facebook/opt-125m --wait")
    out = capsys.readouterr().out
    assert "Model opt: Running: step 10/20, epoch 0.5, loss 1.25, about 10 s left [50%]" in out, out
    assert "Model opt: ready" in out


def test_list_get_delete(shell, capsys, kube_emulator, kube_namespace):
    empty = shell.run_line_magic("substratus", "list")
    assert repr(empty) == "No resources." and len(empty) == 0

    shell.run_line_magic("substratus", "dataset colors --url https://e.com/a.jsonl --url https://e.com/b.jsonl")
    assert "Created Dataset colors." in capsys.readouterr().out
    dataset = kube_emulator.get("datasets", "colors", kube_namespace)
    assert dataset["spec"] == {
        "image": "substratusai/dataset-loader-http",
        "params": {"urls": "https://e.com/a.jsonl,https://e.com/b.jsonl"},
    }
    shell.run_line_magic("substratus", "import opt facebook/opt-125m --gpu nvidia-t4:1 --param dtype=float16")
    model = kube_emulator.get("models", "opt", kube_namespace)
    assert model["spec"]["params"] == {"name": "facebook/opt-125m", "dtype": "float16"}
    assert model["spec"]["resources"] == {"gpu": {"type": "nvidia-t4", "count": 1}}
    shell.run_line_magic("substratus", "import any-gpu facebook/opt-125m --gpu 2")
    assert kube_emulator.get("models", "any-gpu", kube_namespace)["spec"]["resources"] == {"gpu": {"count": 2}}

    shell.run_line_magic("substratus", "delete model any-gpu")
    table = shell.run_line_magic("substratus", "list")
    assert [row[:3] for row in table.rows] == [("Model", "opt", "Pending"), ("Dataset", "colors", "Pending")]
    text = repr(table)
    assert text.splitlines()[0].split() == ["Kind", "Name", "State", "Detail", "Age"]
    assert "<table" in table._repr_html_() and "<td>colors</td>" in table._repr_html_()
    assert len(shell.run_line_magic("substratus", "list ds")) == 1

    kube_emulator.patch_status(
        "models", "opt", {"ready": True, "phase": "Ready", "artifacts": {"url": "gs://b/opt"}}, kube_namespace
    )
    got = shell.run_line_magic("substratus", "get model opt")
    assert got.rows[0][2:4] in {("Ready", "gs://b/opt"), ("Pending", "")}  # the watch may lag a moment

    shell.run_line_magic("substratus", "delete model opt")
    assert "Deleted Model opt." in capsys.readouterr().out
    assert shell.run_line_magic("substratus", "get model opt") is None
    assert "substratus:" in capsys.readouterr().err
    shell.run_line_magic("substratus", "delete dataset nope")
    assert "nope" in capsys.readouterr().err


def test_logs(shell, capsys, kube_emulator, kube_namespace):
    shell.run_line_magic("substratus", "import opt facebook/opt-125m")
    shell.run_line_magic("substratus", "logs model opt")
    assert "no workload running yet" in capsys.readouterr().err
    kube_emulator.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "opt-load",
                "labels": {"substratus.ai/owner-kind": "Model", "substratus.ai/owner-name": "opt"},
            },
            "spec": {"containers": [{"name": "main", "image": "x"}]},
        },
        kube_namespace,
    )
    kube_emulator.set_pod_log(kube_namespace, "opt-load", "downloading\ndone\n")
    shell.run_line_magic("substratus", "logs model opt --follow")
    assert capsys.readouterr().out.splitlines()[-2:] == ["downloading", "done"]


def test_wait_shows_progress_and_failure(shell, capsys, kube_emulator, kube_namespace, later):
    def fail(obj):
        kube_emulator.patch_status(
            "datasets",
            "colors",
            {
                "phase": "Running",
                "conditions": [
                    {
                        "type": "Complete",
                        "status": "Unknown",
                        "reason": "Running",
                        "message": "downloading",
                        "lastTransitionTime": STAMP,
                    }
                ],
            },
            kube_namespace,
        )
        kube_emulator.patch_status(
            "datasets",
            "colors",
            {
                "phase": "Failed",
                "conditions": [
                    {
                        "type": "Complete",
                        "status": "False",
                        "reason": "JobFailed",
                        "message": "404 from the URL",
                        "lastTransitionTime": STAMP,
                    }
                ],
            },
            kube_namespace,
        )

    later(kube_emulator, "datasets", "colors", kube_namespace, fail)
    assert shell.run_line_magic("substratus", "dataset colors --url https://e.com/a --wait") is None
    captured = capsys.readouterr()
    assert "Dataset colors: Pending" in captured.out
    assert "Dataset colors failed: JobFailed: 404 from the URL" in captured.err


def test_finetune_from_the_cell(shell, capsys, kube_emulator, kube_namespace, later, operator_upload):
    code = "import json\nparams = json.load(open('/content/params.json'))\nprint('training', params)\n"
    later(
        kube_emulator,
        "models",
        "ft",
        kube_namespace,
        lambda obj: operator_upload.answer(kube_emulator, "models", "ft", kube_namespace),
    )
    table = shell.run_cell_magic(
        "substratus",
        "finetune ft --model opt --dataset colors --gpu nvidia-l4:2 --param epochs=3 --param lr=0.001",
        code,
    )
    captured = capsys.readouterr()
    out = captured.out
    assert "Model ft: uploading" in out and "building and training in the background" in out
    assert "warning: no Model named opt yet; the fine-tune will wait for it" in captured.err
    assert "warning: no Dataset named colors yet; the fine-tune will wait for it" in captured.err
    assert table.rows[0][1] == "ft"
    model = kube_emulator.get("models", "ft", kube_namespace)
    spec = model["spec"]
    assert spec["model"] == {"name": "opt"} and spec["dataset"] == {"name": "colors"}
    assert spec["params"] == {"epochs": 3, "lr": 0.001}
    assert spec["resources"] == {"gpu": {"type": "nvidia-l4", "count": 2}}
    md5 = spec["build"]["upload"]["md5Checksum"]
    assert operator_upload.verify(md5)
    blob = operator_upload.bucket.blob(operator_upload.object_name(md5)).download_as_bytes()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        notebook = json.load(tar.extractfile("substratus-finetune.ipynb"))
        dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert notebook["cells"][0]["source"] == code
    assert 'TRAINER_NOTEBOOK="/content/src/substratus-finetune.ipynb"' in dockerfile

    # The same cell again under another name: the content is stored, nothing is sent.
    signed = operator_upload.signed
    later(
        kube_emulator,
        "models",
        "ft2",
        kube_namespace,
        lambda obj: operator_upload.answer(kube_emulator, "models", "ft2", kube_namespace),
    )
    shell.run_cell_magic(
        "substratus",
        "finetune ft2 --model opt --dataset colors --param epochs=3 --param lr=0.001 --gpu nvidia-l4:2",
        code,
    )
    assert "already uploaded" in capsys.readouterr().out
    assert operator_upload.signed == signed

    shell.run_cell("%%substratus finetune ft3 --model opt\nprint(1)\n")
    assert "required: --dataset" in capsys.readouterr().err


def test_serve_returns_an_openai_client_on_the_api_servers_service_proxy(
    shell, capsys, kube_emulator, kube_namespace, later, tiny_model_server
):
    """On the kubernetes backend (a terminal IPython with a kubeconfig) the client goes through the
    API server's service proxy with the kubeconfig's credentials, to the Service the operator puts
    in front of the Server (here: the test, with the real model server as its one endpoint)."""
    service, port = server_service("chat")

    def serving(obj):
        kube_emulator.create(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": service, "namespace": kube_namespace},
                "spec": {
                    "selector": {"substratus.ai/owner-name": "chat"},
                    "ports": [{"name": "http", "port": port, "targetPort": port}],
                },
            }
        )
        kube_emulator.serve_service(kube_namespace, service, ("127.0.0.1", tiny_model_server.port))
        _ready(kube_emulator, "servers", kube_namespace, url=f"http://{service}.{kube_namespace}.svc:{port}")(obj)

    later(kube_emulator, "servers", "chat", kube_namespace, serving)
    client = shell.run_line_magic("substratus", "serve chat --model opt --gpu nvidia-l4:1")
    import openai

    assert isinstance(client, openai.OpenAI)
    proxy = f"{kube_emulator.url}/api/v1/namespaces/{kube_namespace}/services/{service}:{port}/proxy"
    assert str(client.base_url).rstrip("/") == proxy + "/v1"
    out = capsys.readouterr().out
    assert "Server chat: Pending" in out and f"Server chat is serving at {proxy}" in out
    spec = kube_emulator.get("servers", "chat", kube_namespace)["spec"]
    assert spec["model"] == {"name": "opt"}
    assert "image" not in spec  # the operator picks vLLM for its GPU

    assert client.completions.create(prompt="Q: color of sky?", max_tokens=3).usage.completion_tokens >= 1
    streamed = list(client.completions.create(prompt="Q:", max_tokens=3, stream=True))
    assert streamed and all(chunk.choices for chunk in streamed)
    chat = list(client.chat.completions.create(messages=[{"role": "user", "content": "hi"}], max_tokens=3, stream=True))
    assert chat and chat[0].choices[0].delta.role == "assistant"


def test_open_a_notebook(shell, capsys, kube_emulator, kube_namespace, later):
    later(
        kube_emulator,
        "notebooks",
        "lab",
        kube_namespace,
        _ready(kube_emulator, "notebooks", kube_namespace, url="http://lab.example:8888/?token=t"),
    )
    shell.run_line_magic(
        "substratus", "notebook lab --model opt --dataset colors --gpu nvidia-t4:1 --suspend-after-idle 45m"
    )
    assert "Notebook lab is open at http://lab.example:8888/?token=t" in capsys.readouterr().out
    spec = kube_emulator.get("notebooks", "lab", kube_namespace)["spec"]
    assert spec["model"] == {"name": "opt"} and spec["dataset"] == {"name": "colors"}
    assert spec["suspendAfterIdle"] == "45m"
