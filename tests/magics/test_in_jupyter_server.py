"""The magics as a user of the Lab runs them: a notebook executed by nbclient in a kernel that a
real `jupyter server` (a subprocess, local backend, no cluster) started. The kernel talks to the
server's backend over its REST API and never owns the state directory; `%substratus serve`'s
client answers as returned; `--wait` returns within seconds of ready; a failed `use` keeps the
backend it had."""

from __future__ import annotations

import calendar
import json
import time

import pytest

from tests.images.fixtures import toy_records, write_jsonl
from tests.magics.jupyter_kernel import notebook, output_text, run_in_kernel

pytestmark = pytest.mark.slow


def test_the_magics_in_a_kernel_of_the_lab(jupyter_server, tmp_path, tiny_model_dirs):
    data = write_jsonl(tmp_path / "toy.jsonl", toy_records())
    base = tiny_model_dirs["gpt2"]
    nb = notebook(
        "%load_ext jupyter_substratus\n%substratus use",
        # a kernel of the server never owns its state directory: the server's backend does
        "%substratus use --backend local",
        "%substratus use --backend kubernetes --kubeconfig /nonexistent/kubeconfig",
        "%substratus list models",  # still the Jupyter server's backend
        f"%substratus import base {base} --wait\n%substratus dataset toy --url {data} --wait",
        "import time",
        "%%substratus finetune tuned --model base --dataset toy --wait --timeout 240\n"
        "import os, shutil\nfrom pathlib import Path\n"
        "content = Path(os.environ['CONTENT_DIR'])\n"
        "shutil.copytree(content / 'model', content / 'artifacts', dirs_exist_ok=True)",
        "wait_returned = time.time()",
        "client = %substratus serve srv --model base --param max_new_tokens=4",
        "completion = client.completions.create(prompt='Q: color of sky?', max_tokens=3)\n"
        "assert completion.choices[0].text is not None and completion.usage.completion_tokens >= 1\n"
        "streamed = list(client.completions.create(prompt='Q:', max_tokens=3, stream=True))\n"
        "assert streamed and all(chunk.choices for chunk in streamed)\n"
        "chat = list(client.chat.completions.create(messages=[{'role': 'user', 'content': 'hi'}], max_tokens=3,"
        " stream=True))\n"
        "assert chat and chat[0].choices[0].delta is not None\n"
        "print('answered', len(streamed), len(chat))",
        "import json\nprint(json.dumps({'base_url': str(client.base_url), 'wait_returned': wait_returned}))",
    )
    run_in_kernel(jupyter_server, nb)
    texts = [output_text(cell) for cell in nb.cells]
    assert "the Jupyter server's local backend" in texts[0], texts[0]
    assert "is owned by another process" in texts[1], texts[1]
    assert "no Kubernetes configuration" in texts[2], texts[2]
    assert "No resources." in texts[3], texts[3]
    assert "answered" in texts[9], texts[9]
    facts = json.loads(texts[10].strip().splitlines()[-1])
    assert facts["base_url"].startswith(
        jupyter_server.url + "substratus/api/v1/namespaces/default/servers/srv/proxy/v1"
    )

    tuned = jupyter_server.client.get("substratus/api/v1/models/tuned").json()
    assert tuned["status"]["ready"], tuned["status"]
    complete = next(c for c in tuned["status"]["conditions"] if c["type"] == "Complete")
    completed_at = calendar.timegm(time.strptime(complete["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ"))
    # --wait returned within seconds of the Model becoming complete (the timestamp has 1 s steps)
    assert facts["wait_returned"] - completed_at < 6, (facts, complete)
