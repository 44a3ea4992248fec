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
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
KEYS = ["image", "build", "command", "env", "params", "resources", "model", "dataset", "suspend", "bogus"]
SPEC = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(["substratusai/model-server", "", "has space"]) | JSON,
        "build": st.fixed_dictionaries(
            {},
            optional={
                "git": st.fixed_dictionaries({"url": st.sampled_from(["https://github.com/a/b", "nope"]) | JSON}),
                "upload": st.fixed_dictionaries(
                    {"md5Checksum": st.text(string.hexdigits, max_size=33), "requestID": st.text(max_size=5)}
                ),
            },
        )
        | JSON,
        "command": st.lists(st.text(max_size=5), max_size=3) | JSON,
        "env": st.dictionaries(st.text(max_size=8), st.text(max_size=30), max_size=3) | JSON,
        "params": st.dictionaries(st.text(max_size=8), SCALARS, max_size=3) | JSON,
        "resources": st.fixed_dictionaries(
            {},
            optional={
                "cpu": SCALARS,
                "memory": SCALARS,
                "disk": SCALARS,
                "gpu": st.fixed_dictionaries(
                    {},
                    optional={
                        "type": st.sampled_from(["nvidia-l4", "amd"]) | JSON,
                        "count": st.integers(-2, 20) | JSON,
                    },
                ),
            },
        )
        | JSON,
        "model": st.fixed_dictionaries({"name": NAMES}) | JSON,
        "dataset": st.fixed_dictionaries({"name": NAMES}) | JSON,
        "suspend": SCALARS,
    },
)
MANIFESTS = st.fixed_dictionaries(
    {"metadata": st.fixed_dictionaries({"name": NAMES}) | JSON, "spec": SPEC},
    optional={
        "apiVersion": st.sampled_from(["substratus.ai/v1", "v1"]) | JSON,
        "kind": st.sampled_from(["Model", "Dataset", "Server", "Notebook", "Pod"]) | JSON,
        "status": JSON,
    },
)
# Deep nesting, past the API's limit of 64 levels and past Python's recursion limit.
# Sent as bytes: the test's own json module would not write or read the deepest.
NESTED = st.integers(1, 3000).map(
    lambda depth: b'{"metadata": {"name": "deep"}, "spec": {"params": {"x": ' + b"[" * depth + b"]" * depth + b"}}}"
)
BODIES = (
    MANIFESTS
    | JSON
    | NESTED
    | st.fixed_dictionaries(
        {
            "path": NAMES
            | JSON
            | st.text(max_size=300)
            | st.integers(250, 100_000).map(lambda n: "d/" * n + "x.ipynb"),
            "model": MANIFESTS | JSON,
        },
        optional={"dryRun": st.booleans() | JSON},
    )
)
NAMESPACES = (
    st.sampled_from(["", "other", "Bad NS", "x" * 64, "..", "../../x", "/tmp/x", "a/b", "a\nb", "default"]) | NAMES
)
ROUTES = st.sampled_from(
    [
        ("GET", "/"),
        ("GET", "/{p}"),
        ("POST", "/{p}"),
        ("GET", "/{p}/{n}"),
        ("PUT", "/{p}/{n}"),
        ("DELETE", "/{p}/{n}"),
        ("GET", "/{p}/{n}/logs"),
        ("POST", "/{p}/{n}/rerun"),
        ("POST", "/{p}/{n}/cancel"),
        ("POST", "/export"),
        ("GET", "/export/{n}"),
        ("GET", "/events"),
        ("GET", "/servers/{n}/proxy/{x}"),
        ("POST", "/namespaces/{ns}/servers/{n}/proxy/{x}"),
    ]
)
PROXIED = st.text(max_size=20) | st.sampled_from(["v1/models", "a%0d%0ab", "%00", "a%2Fb", "", "../.."])
TAILS = (
    st.text(max_size=4)
    | st.sampled_from(["²", "٣", "-1", str(2**63), str(2**63 - 1), "1" * 40])
    | st.integers(0, 2**70).map(str)
)
QUERIES = st.fixed_dictionaries(
    {},
    optional={
        "namespace": NAMESPACES,
        "tail": TAILS,
        "follow": st.sampled_from(["true", "false", "x"]),
        "kinds": st.sampled_from(["models", "Model,servers", "pods", ",,"]) | st.text(max_size=8),
        "token": st.text(max_size=5),
        "_xsrf": st.text(max_size=5),
    },
)
STREAMS = {"/events", "/{p}/{n}/logs"}  # a 200 here is a stream that may not end: the headers are enough


def fuzz(port: int, base_url: str, auth: dict, namespace: str, examples: int) -> None:
    """`examples` random requests against the API at 127.0.0.1:`port`: never a 5xx but 503,
    always a JSON message with a 4xx."""
    counted = []
    errors = []
    connections: list[http.client.HTTPConnection] = []  # one kept alive between requests

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=PHASES,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        route=ROUTES, plural=PLURALS, name=NAMES, body=BODIES, query=QUERIES, proxied=PROXIED, path_namespace=NAMESPACES
    )
    def one_request(route, plural, name, body, query, proxied, path_namespace):
        method, template = route
        path = template.format(
            p=urllib.parse.quote(plural, safe=""),
            n=urllib.parse.quote(name, safe=""),
            ns=urllib.parse.quote(path_namespace, safe=""),
            x=urllib.parse.quote(proxied),
        )
        if query.get("namespace") and len(counted) % 4:  # mostly the test's namespace, some others
            query = {**query, "namespace": namespace}
        url = f"{base_url}substratus/api/v1{path}?{urllib.parse.urlencode(query)}"
        payload = (
            (body if isinstance(body, bytes) else json.dumps(body).encode()) if method in ("POST", "PUT") else None
        )
        if os.environ.get("FUZZ_TRACE"):
            print("REQ", method, url, str(body)[:200], file=open(os.environ["FUZZ_TRACE"], "a"))
        if not connections:
            connections.append(http.client.HTTPConnection("127.0.0.1", port, timeout=30))
        reconnect = True  # after an error, or a stream left unread
        try:
            connections[0].request(method, url, body=payload, headers=dict(auth))
            response = connections[0].getresponse()
            streaming = response.status == 200 and template in STREAMS
            data = b"" if streaming else response.read()
            reconnect = streaming or response.will_close
        finally:
            if reconnect:
                connections.pop().close()
        counted.append(1)
        if response.status >= 500 and response.status != 503:
            errors.append((method, url, body, response.status, data[:300]))
        assert response.status < 500 or response.status == 503, (
            method,
            url,
            str(body)[:300],
            response.status,
            data[:300],
        )
        if 400 <= response.status and "/proxy" not in template:
            reply = json.loads(data)
            assert isinstance(reply["message"], str) and reply["message"], reply

    try:
        one_request()
    finally:
        for connection in connections:
            connection.close()
    assert len(counted) >= examples
    assert not errors


async def test_random_requests_never_500(
    jp_serverapp, http_server, jp_http_port, jp_base_url, jp_auth_header, kube_namespace
):
    await asyncio.get_running_loop().run_in_executor(
        None, fuzz, jp_http_port, jp_base_url, jp_auth_header, kube_namespace, EXAMPLES
    )
