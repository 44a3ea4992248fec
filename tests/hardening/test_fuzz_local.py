"""The property-based API test (tests/extension/test_fuzz.py) on the local backend, where bodies
and namespaces become files: never a 5xx but 503. SUBSTRATUS_FUZZ_LOCAL_EXAMPLES sets how many
(5,000 by default; the benchmark run asks for more)."""

import asyncio
import os

from tests.extension.test_fuzz import fuzz

EXAMPLES = int(os.environ.get("SUBSTRATUS_FUZZ_LOCAL_EXAMPLES", "5000"))


async def test_random_requests_never_500_on_the_local_backend(
    backend, http_server, jp_http_port, jp_base_url, jp_auth_header
):
    await asyncio.get_running_loop().run_in_executor(
        None, fuzz, jp_http_port, jp_base_url, jp_auth_header, "default", EXAMPLES
    )
