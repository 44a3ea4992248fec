"""openapi.yaml and the registered routes describe the same API."""

import re

from openapi_spec_validator import validate

from jupyter_substratus.handlers import API_PREFIX, ROUTES, handlers
from jupyter_substratus.proxy import ProxyHandler, proxy_handlers
from tests.extension import openapi_check

# The proxy routes (jupyter_substratus/proxy.py) as openapi.yaml writes them.
PROXY_ROUTES = {
    "/servers/{name}/proxy/{path}": ProxyHandler,
    "/namespaces/{namespace}/servers/{name}/proxy/{path}": ProxyHandler,
}
METHODS = ("get", "head", "post", "put", "patch", "delete")


def test_the_file_is_valid_openapi():
    validate(openapi_check.spec())


def test_every_route_is_described_and_every_description_is_a_route():
    routes = {template or "/": handler for template, _, handler in ROUTES} | PROXY_ROUTES
    paths = openapi_check.spec()["paths"]
    assert set(routes) == set(paths)
    for template, handler in routes.items():
        methods = {m for m in METHODS if m in vars(handler)}
        assert methods == set(paths[template]), template


def test_the_server_url_is_the_prefix():
    assert openapi_check.spec()["servers"][0]["url"] == API_PREFIX


def test_route_patterns_match_their_templates():
    for (template, _, _), (pattern, _) in zip(ROUTES, handlers("/base/"), strict=True):
        example = re.sub(r"\{(\w+)\}", lambda m: {"plural": "models"}.get(m.group(1), "abc"), template or "/")
        assert re.match(pattern, "/base" + API_PREFIX + example), (pattern, example)


async def test_the_served_routes_are_these(jp_serverapp):
    served = {
        rule.matcher.regex.pattern
        for rule in jp_serverapp.web_app.default_router.rules
        for rule in getattr(rule.target, "rules", [])
        if "/substratus/" in rule.matcher.regex.pattern
    }
    expected = handlers(jp_serverapp.base_url) + proxy_handlers(jp_serverapp.base_url)
    assert served == {pattern for pattern, _ in expected}
