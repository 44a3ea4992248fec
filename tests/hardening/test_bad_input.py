"""Issue 12, item 10 (the extension's half): input that used to be a 500 is a 400 with a message."""

import pytest

from tests.hardening.conftest import loader

DEEP = 100_000


def nested(depth: int, opening: str = "[", closing: str = "]") -> bytes:
    return (opening * depth + closing * depth).encode()


@pytest.mark.parametrize(
    "body",
    [nested(DEEP), nested(200), b'{"a":' * 5000 + b"1" + b"}" * 5000],
    ids=["arrays-100k", "arrays-200", "objects-5k"],
)
@pytest.mark.parametrize("method,template", [("POST", "/{plural}"), ("PUT", "/{plural}/{name}"), ("POST", "/export")])
async def test_deeply_nested_bodies_are_a_400(rest, method, template, body):
    answer = await rest(method, template, plural="models", name="m", raw=body)
    assert answer.status == 400 and "nests" in answer.json["message"], answer.body[:300]


async def test_a_body_inside_the_limit_is_read_as_usual(rest):
    answer = await rest("POST", "/{plural}", plural="models", raw=nested(60))
    assert answer.status == 400 and "must be a JSON object" in answer.json["message"]


@pytest.mark.parametrize("tail", ["²", "٣", "9223372036854775808", "1" * 30, "-1", "1e3"])
async def test_a_tail_that_is_no_int64_line_count_is_a_400(rest, tail):
    assert (await rest("POST", "/{plural}", plural="models", body=loader("logged"))).status == 201
    answer = await rest("GET", "/{plural}/{name}/logs", plural="models", name="logged", params={"tail": tail})
    assert answer.status == 400 and "tail" in answer.json["message"]


async def test_the_largest_tail_is_taken(rest, backend):
    assert (await rest("POST", "/{plural}", plural="models", body=loader("logged"))).status == 201
    log = backend.store.log_file("default", "models", "logged")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("one\ntwo\n")
    answer = await rest("GET", "/{plural}/{name}/logs", plural="models", name="logged", params={"tail": str(2**63 - 1)})
    assert answer.status == 200 and "one\ntwo\n" in answer.body.decode()  # all of it (the stand-in may add lines)


@pytest.mark.parametrize("path", ["x" * 100_000, "a/" * 3000 + "nb.ipynb", "d" * 300 + "/nb.ipynb"])
async def test_an_export_path_too_long_for_a_file_is_a_400(rest, path):
    answer = await rest("POST", "/export", body={"path": path, "model": loader("exported")})
    assert answer.status == 400 and "path" in answer.json["message"]
