"""Bad input at the HTTP endpoint: clear JSON-RPC errors and status codes, never a 5xx,
and a gateway that still serves normal clients after a few thousand hostile messages."""

from __future__ import annotations

import asyncio
import collections
import os
import random
import time

import httpx2
import pytest

from conftest import EV_HTTP, EV_STDIO, add_everything_stdio, start_everything_http
from helpers import fuzz, raw
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of

PARSE_ERROR = -32700
METHOD_NOT_FOUND = -32601
BODY_CAP = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def gateway(make_gateway, sandbox_env, log_dir) -> Gateway:
    """A gateway of this module's own, so hostile input cannot disturb other tests."""
    upstream = start_everything_http("everything-http-bad-input", sandbox_env, log_dir)

    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_http(EV_HTTP, upstream.url)

    yield make_gateway("gateway-bad-input", configure, ready=[EV_STDIO, EV_HTTP])
    upstream.proc.stop()


@pytest.fixture
def http():
    with httpx2.Client(timeout=30) as client:
        yield client


def error_code(response: httpx2.Response, request_id=None) -> int:
    if request_id is None:
        messages = raw.messages(response)
        assert len(messages) == 1 and "error" in messages[0], (response.status_code, response.text)
        return messages[0]["error"]["code"]
    return raw.response_to(response, request_id)["error"]["code"]


@pytest.mark.parametrize("in_session", [False, True], ids=["no-session", "in-session"])
@pytest.mark.parametrize(
    "body", [b'{"jsonrpc": "2.0", "id": 1, "method": ', b"{not json}", b'{"jsonrpc":"2.0","id":1,]'],
    ids=["truncated", "garbage", "trailing-comma"],
)  # fmt: skip
def test_malformed_json_is_a_parse_error(gateway: Gateway, http, body: bytes, in_session: bool) -> None:
    session = raw.open_session(http, gateway.url(), gateway.token) if in_session else None
    response = http.post(gateway.url(), content=body, headers=raw.headers(gateway.token, session))
    assert response.status_code == 400, (response.status_code, response.text)
    assert error_code(response) == PARSE_ERROR


@pytest.mark.parametrize("server", [None, EV_STDIO], ids=["aggregate", "direct"])
def test_unknown_method_is_method_not_found(gateway: Gateway, http, server) -> None:
    url = gateway.url(server)
    session = raw.open_session(http, url, gateway.token)
    response = http.post(
        url,
        json={"jsonrpc": "2.0", "id": 41, "method": "no/such-method", "params": {}},
        headers=raw.headers(gateway.token, session),
    )
    assert response.status_code < 500, (response.status_code, response.text)
    assert error_code(response, 41) == METHOD_NOT_FOUND


def echo_body(size: int) -> bytes:
    """A valid tools/call of echo whose body is `size` bytes long."""
    head = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"'
    tail = b'"}}}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_413(gateway: Gateway, http, chunked: bool) -> None:
    url = gateway.url(EV_STDIO)
    session = raw.open_session(http, url, gateway.token)
    body = echo_body(BODY_CAP + 512 * 1024)
    content = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    response = http.post(url, content=content, headers=raw.headers(gateway.token, session))
    assert response.status_code == 413, (response.status_code, response.text[:300])


def test_body_under_the_cap_is_served(gateway: Gateway, http) -> None:
    url = gateway.url(EV_STDIO)
    session = raw.open_session(http, url, gateway.token)
    body = echo_body(BODY_CAP - 256 * 1024)
    response = http.post(url, content=body, headers=raw.headers(gateway.token, session))
    assert response.status_code == 200, (response.status_code, response.text[:300])
    text = raw.response_to(response, 7)["result"]["content"][0]["text"]
    assert text.startswith("Echo: aaa") and len(text) > BODY_CAP - 300 * 1024


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_unknown_server_is_404(gateway: Gateway, http, method: str) -> None:
    body = raw.initialize_request() if method == "POST" else None
    response = http.request(method, gateway.url("nope"), json=body, headers=raw.headers(gateway.token))
    assert response.status_code == 404, (response.status_code, response.text)
    message = response.json()
    assert message.get("jsonrpc") == "2.0" and isinstance(message["error"]["code"], int)
    assert message["error"]["message"], message


FUZZ_CASES = 3000
FUZZ_CONCURRENCY = 8
FUZZ_BUDGET_S = 150
REQUEST_TIMEOUT_S = 15


@pytest.mark.timeout(FUZZ_BUDGET_S + REQUEST_TIMEOUT_S + 120)
@pytest.mark.anyio
async def test_fuzz_then_still_serving(gateway: Gateway) -> None:
    seed = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    print(f"\nfuzz seed {seed} (rerun with FUZZ_SEED={seed})")
    cases = fuzz.cases(seed, FUZZ_CASES, tool_prefix=f"{EV_STDIO}__")
    url = gateway.url()
    # One session per worker, used by that worker alone: requests within a session never
    # overlap, so two in-flight requests cannot share an id (which a client must not do).
    with httpx2.Client(timeout=30) as http:
        sessions = [raw.open_session(http, url, gateway.token) for _ in range(FUZZ_CONCURRENCY)]

    statuses: collections.Counter[int] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    server_errors: list[str] = []
    transport_errors: list[str] = []
    deadline = time.monotonic() + FUZZ_BUDGET_S
    queue = collections.deque(cases)

    async def worker(client: httpx2.AsyncClient, own_session: str) -> None:
        while queue and time.monotonic() < deadline:
            case = queue.popleft()
            session = {"valid": own_session, "bogus": "bogus-session-id", "none": None}[case.session]
            headers = {**raw.headers(gateway.token, session), **case.headers}
            try:
                # A bound on the whole exchange: keep-alive events on an SSE body reset the
                # read timeout, so a request that is never answered would otherwise hang here.
                response = await asyncio.wait_for(
                    client.post(url, content=case.body, headers=headers), REQUEST_TIMEOUT_S
                )
            except (httpx2.HTTPError, asyncio.TimeoutError) as error:
                transport_errors.append(f"{type(error).__name__}: {case.preview()}")
                continue
            statuses[response.status_code] += 1
            kinds[case.kind] += 1
            if response.status_code >= 500:
                server_errors.append(f"{response.status_code} {response.text[:200]!r} <- {case.preview()}")

    started = time.monotonic()
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(REQUEST_TIMEOUT_S)) as client:
        await asyncio.gather(*(worker(client, session) for session in sessions))
    elapsed = time.monotonic() - started
    sent = sum(statuses.values()) + len(transport_errors)
    print(f"fuzz: {sent} messages in {elapsed:.1f} s, statuses {dict(sorted(statuses.items()))}")
    print(f"fuzz: by kind {dict(sorted(kinds.items()))}")

    assert not server_errors, f"{len(server_errors)} responses were 5xx:\n" + "\n".join(server_errors[:20])
    assert not transport_errors, f"{len(transport_errors)} requests failed:\n" + "\n".join(
        transport_errors[:20]
    )
    assert sent >= 2000, f"only {sent} of {FUZZ_CASES} messages went out within {FUZZ_BUDGET_S} s"

    assert gateway.proc.alive(), f"the gateway died:\n{gateway.proc.tail()}"
    for server in (EV_STDIO, EV_HTTP):
        assert gateway.server(server)["status"]["state"] == "ready"
    async with connect(gateway.url(), gateway.token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {f"{EV_STDIO}__echo", f"{EV_HTTP}__echo"} <= names
        for server in (EV_STDIO, EV_HTTP):
            result = await client.call_tool(f"{server}__echo", {"message": "still here"})
            assert text_of(result) == "Echo: still here"
    print(f"fuzz: gateway alive, {len(names)} tools listed, echo answered on both servers")
