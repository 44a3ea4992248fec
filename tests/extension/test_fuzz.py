"""Random bodies and paths against the running API: never a 500, always a JSON message on 4xx.

Hypothesis runs in a worker thread and talks HTTP to the in-process server, whose loop stays
free to answer (the test itself only awaits the thread)."""

import asyncio
import http.client
import json
import os
import string
import urllib.parse

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

PHASES = [Phase.generate] if os.environ.get("SUBSTRATUS_FUZZ_NO_SHRINK") else list(Phase)
EXAMPLES = int(os.environ.get("SUBSTRATUS_FUZZ_EXAMPLES", "2000"))

PLURALS = st.sampled_from(["models", "datasets", "servers", "notebooks"]) | st.text(min_size=1, max_size=12)
NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True) | st.text(min_size=1, max_size=70)
SCALARS = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
KEYS = ["image", "build", "command", "env", "params", "resources", "model", "dataset", "suspend", "bogus"]
SPEC = st.fixed_dictionaries({}, optional={
    "image": st.sampled_from(["substratusai/model-server", "", "has space"]) | JSON,
    "build": st.fixed_dictionaries({}, optional={
        "git": st.fixed_dictionaries({"url": st.sampled_from(["https://github.com/a/b", "nope"]) | JSON}),
        "upload": st.fixed_dictionaries({"md5Checksum": st.text(string.hexdigits, max_size=33),
                                         "requestID": st.text(max_size=5)})}) | JSON,
    "command": st.lists(st.text(max_size=5), max_size=3) | JSON,
    "env": st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=3) | JSON,
    "params": st.dictionaries(st.text(max_size=8), SCALARS, max_size=3) | JSON,
    "resources": st.fixed_dictionaries({}, optional={
        "cpu": SCALARS, "memory": SCALARS, "disk": SCALARS,
        "gpu": st.fixed_dictionaries({}, optional={"type": st.sampled_from(["nvidia-l4", "amd"]) | JSON,
                                                   "count": st.integers(-2, 20) | JSON})}) | JSON,
    "model": st.fixed_dictionaries({"name": NAMES}) | JSON,
    "dataset": st.fixed_dictionaries({"name": NAMES}) | JSON,
    "suspend": SCALARS,
})
MANIFESTS = st.fixed_dictionaries({"metadata": st.fixed_dictionaries({"name": NAMES}) | JSON, "spec": SPEC},
                                  optional={"apiVersion": st.sampled_from(["substratus.ai/v1", "v1"]) | JSON,
                                            "kind": st.sampled_from(["Model", "Dataset", "Server", "Notebook",
                                                                     "Pod"]) | JSON,
                                            "status": JSON})
BODIES = MANIFESTS | JSON | st.fixed_dictionaries({"path": NAMES | JSON, "model": MANIFESTS | JSON})
ROUTES = st.sampled_from([("GET", "/"), ("GET", "/{p}"), ("POST", "/{p}"), ("GET", "/{p}/{n}"), ("PUT", "/{p}/{n}"),
                          ("DELETE", "/{p}/{n}"), ("GET", "/{p}/{n}/logs"), ("POST", "/export"),
                          ("GET", "/export/{n}")])
QUERIES = st.fixed_dictionaries({}, optional={"namespace": st.sampled_from(["", "other", "Bad NS", "x" * 64]) | NAMES,
                                              "tail": st.text(max_size=4),
                                              "follow": st.sampled_from(["true", "false", "x"])})


async def test_random_requests_never_500(jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header,
                                         kube_namespace):
    counted = []
    errors = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False, phases=PHASES,
              suppress_health_check=list(HealthCheck))
    @given(route=ROUTES, plural=PLURALS, name=NAMES, body=BODIES, query=QUERIES)
    def one_request(route, plural, name, body, query):
        method, template = route
        path = template.format(p=urllib.parse.quote(plural, safe=""), n=urllib.parse.quote(name, safe=""))
        if query.get("namespace") and len(counted) % 4:  # mostly the test's namespace, some others
            query = {**query, "namespace": kube_namespace}
        url = f"{jp_base_url}substratus/api/v1{path}?{urllib.parse.urlencode(query)}"
        payload = json.dumps(body).encode() if method in ("POST", "PUT") else None
        connection = http.client.HTTPConnection("127.0.0.1", jp_http_port, timeout=30)
        if os.environ.get("FUZZ_TRACE"):
            print("REQ", method, url, json.dumps(body)[:200], file=open(os.environ["FUZZ_TRACE"], "a"))
        try:
            connection.request(method, url, body=payload, headers=dict(jp_auth_header))
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        counted.append(1)
        if response.status >= 500 and response.status != 503:
            errors.append((method, url, body, response.status, data[:300]))
        assert response.status < 500 or response.status == 503, (method, url, body, response.status, data[:300])
        if 400 <= response.status:
            reply = json.loads(data)
            assert isinstance(reply["message"], str) and reply["message"], reply

    await asyncio.get_running_loop().run_in_executor(None, one_request)
    assert len(counted) >= EXAMPLES
    assert not errors
