"""Upstream transports and the life of upstreams in a running gateway.

- A legacy HTTP+SSE upstream (server-everything's `sse` mode): tools, calls, and a sampling
  request the server sends mid-call, through `/mcp/SERVER` and `/mcp`.
- A streamable HTTP upstream whose sessions vanish (its process replaced by a new one on
  the same port): the gateway recovers, and the client's own session goes on working.
- A stdio upstream's stderr in `<data dir>/logs/servers/NAME.log`.
- A stdio server whose command does not exist: reported as failed, named in call errors,
  while the other servers go on serving.
- Servers added, disabled and enabled with the CLI while the gateway runs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import mcp.types as types
import pytest
from mcp import MCPError

from conftest import EV_STDIO, HttpPeer, add_everything_stdio
from helpers import paths, raw
from helpers.gateway import Gateway
from helpers.mcp_client import connect, http_client, text_of
from helpers.procs import Proc, ProcessExited, free_port, is_running

pytestmark = pytest.mark.anyio

EV_SSE = "ev-sse"
EV_EXPIRY = "ev-expiry"
BROKEN = "absent-cmd"
EV_LATE = "ev-late"
EV_TOGGLE = "ev-toggle"

# Bounds for the waits below (each test also runs under pytest-timeout).
CALL_TIMEOUT = 30.0
ATTEMPT_TIMEOUT = 10.0
RECOVERY_TIMEOUT = 30.0
STATUS_TIMEOUT = 30.0


# Peers on ports of their own.

PORT_CLASH = ("EADDRINUSE", "already in use")
SDK_HTTP_SERVER = paths.HELPERS / "sdk_http_server.py"

# How to run each HTTP peer on a given port, and the line it prints once it listens.
PEERS: dict[str, tuple[Callable[[int], list], str]] = {
    "everything-sse": (
        lambda port: [paths.NODE, paths.SERVER_EVERYTHING, "sse"],
        r"Server is running on port \d+",
    ),
    "everything-http": (
        lambda port: [paths.NODE, paths.SERVER_EVERYTHING, "streamableHttp"],
        r"listening on port \d+",
    ),
    "sdk-http": (lambda port: [paths.PYTHON, SDK_HTTP_SERVER, str(port)], r"Uvicorn running on"),
}


def start_peer_on(kind: str, name: str, port: int, env: dict[str, str], log_dir: Path) -> Proc:
    """Start peer `kind` on `port` and wait until it listens."""
    argv, ready = PEERS[kind]
    proc = Proc(name, argv(port), env={**env, "PORT": str(port)}, log_dir=log_dir)
    proc.wait_for(ready, 30)
    return proc


def start_peer(kind: str, name: str, env: dict[str, str], log_dir: Path) -> tuple[Proc, int]:
    """As above on a free port, retrying on a clash (server-everything cannot bind port 0)."""
    for _attempt in range(5):
        port = free_port()
        try:
            return start_peer_on(kind, name, port, env, log_dir), port
        except ProcessExited as exited:
            if not any(marker in str(exited) for marker in PORT_CLASH):
                raise
    raise RuntimeError(f"{kind} found no free port in 5 attempts")


@pytest.fixture
def own_gateway(make_gateway) -> Iterator[Callable[..., Gateway]]:
    """`make_gateway`, but each gateway is stopped when the test ends."""
    made: list[Gateway] = []

    def make(*args, **kwargs) -> Gateway:
        gateway = make_gateway(*args, **kwargs)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        gateway.stop()


async def in_thread(fn: Callable[[], object]):
    """Run a blocking CLI call without stalling the open MCP sessions' event loop."""
    return await anyio.to_thread.run_sync(fn)


# A legacy HTTP+SSE upstream.


@pytest.fixture(scope="module")
def sse_peer(sandbox_env, log_dir) -> Iterator[HttpPeer]:
    proc, port = start_peer("everything-sse", "everything-sse", sandbox_env, log_dir)
    yield HttpPeer(proc, f"http://127.0.0.1:{port}/sse")
    proc.stop()


@pytest.fixture(scope="module")
def gateway(make_gateway, sse_peer: HttpPeer) -> Gateway:
    """server-everything over legacy SSE (`ev-sse`) and over stdio (`ev-stdio`)."""

    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_http(EV_SSE, sse_peer.url, sse=True)
        switchboard.trust(EV_SSE)

    return make_gateway("gateway-transports", configure, ready=[EV_STDIO, EV_SSE])


@pytest.mark.parametrize("aggregated", [False, True], ids=["direct", "aggregate"])
async def test_legacy_sse_upstream(gateway: Gateway, aggregated: bool) -> None:
    status = gateway.server(EV_SSE)["status"]
    assert status["state"] == "ready" and status["error"] is None, status
    url = gateway.url() if aggregated else gateway.url(EV_SSE)

    def name(tool: str) -> str:
        return f"{EV_SSE}__{tool}" if aggregated else tool

    marker = f"marker-{uuid.uuid4()}"
    answer = f"sampled-{uuid.uuid4()}"
    asked: list[types.CreateMessageRequestParams] = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        asked.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=answer),
            model="acceptance-model",
            stop_reason="endTurn",
        )

    with anyio.fail_after(CALL_TIMEOUT * 2):
        async with connect(url, gateway.token, sampling_callback=sampling) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            for tool in ("echo", "get-sum", "trigger-sampling-request"):
                assert name(tool) in names, f"{url}: {name(tool)} not in {sorted(names)}"

            message = f"over legacy SSE ✓ {uuid.uuid4()}"
            echoed = await client.call_tool(name("echo"), {"message": message})
            assert not echoed.is_error, echoed
            assert text_of(echoed) == f"Echo: {message}"

            result = await client.call_tool(
                name("trigger-sampling-request"), {"prompt": marker, "maxTokens": 21}
            )
    assert len(asked) == 1, asked
    assert marker in asked[0].messages[0].content.text
    assert asked[0].max_tokens == 21
    assert not result.is_error, result
    assert answer in text_of(result) and "acceptance-model" in text_of(result), text_of(result)
    print(f"{url}: {len(names)} tools, echo answered, sampling request answered mid-call")


# A stdio upstream's stderr.


def test_stdio_stderr_goes_to_the_server_log(gateway: Gateway) -> None:
    log = gateway.data_dir / "logs" / "servers" / f"{EV_STDIO}.log"
    startup = "Starting default (STDIO) server..."  # what server-everything writes to stderr
    deadline = time.monotonic() + 10
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        if startup in text.splitlines():
            break
        assert time.monotonic() < deadline, f"no {startup!r} line in {log} after 10 s:\n{text[-3000:]}"
        time.sleep(0.1)
    print(f"{log}: {len(text)} bytes, with the server's startup line")


# A streamable HTTP upstream whose sessions vanish.
#
# The upstream's process is replaced by a new one on the same port, so the session the
# gateway holds is unknown to it. server-everything answers a request for an unknown
# session with HTTP 400 and a JSON-RPC error without an id; the Python SDK's server
# answers 404, as the specification requires. Either way, the gateway must get a working
# session again by itself, and the clients' sessions must go on without reconnecting.


@pytest.mark.parametrize("kind", ["everything-http", "sdk-http"])
async def test_streamable_http_session_expiry(kind: str, own_gateway, sandbox_env, log_dir) -> None:
    first, port = start_peer(kind, f"{kind}-expiry-1", sandbox_env, log_dir)
    replacement: Proc | None = None
    try:
        gateway = own_gateway(
            f"gateway-expiry-{kind}",
            lambda sb: sb.add_http(EV_EXPIRY, f"http://127.0.0.1:{port}/mcp"),
            ready=[EV_EXPIRY],
        )
        restarts_before = gateway.server(EV_EXPIRY)["status"]["restarts"]
        async with (
            connect(gateway.url(EV_EXPIRY), gateway.token) as direct,
            connect(gateway.url(), gateway.token) as aggregate,
        ):
            sessions = {"direct": (direct, "echo"), "aggregate": (aggregate, f"{EV_EXPIRY}__echo")}
            with anyio.fail_after(CALL_TIMEOUT):
                for label, (client, tool) in sessions.items():
                    before = await client.call_tool(tool, {"message": f"before {label}"})
                    assert text_of(before) == f"Echo: before {label}"

            # Replace the server: same port, none of the old sessions.
            first.stop()
            replacement = start_peer_on(kind, f"{kind}-expiry-2", port, sandbox_env, log_dir)
            back = time.monotonic()

            # The server is back. Calls may fail while the gateway notices, but each must be
            # answered, and within RECOVERY_TIMEOUT one must succeed in the same session.
            for label, (client, tool) in sessions.items():
                failures: list[str] = []
                deadline = time.monotonic() + RECOVERY_TIMEOUT
                while True:
                    message = f"after {label} {uuid.uuid4()}"
                    sent = time.monotonic()
                    try:
                        with anyio.fail_after(ATTEMPT_TIMEOUT):
                            result = await client.call_tool(tool, {"message": message})
                        if not result.is_error and text_of(result) == f"Echo: {message}":
                            break
                        failures.append(f"tool error: {text_of(result)}")
                    except MCPError as error:
                        failures.append(f"JSON-RPC error {error.code}: {error}")
                    except TimeoutError:
                        failures.append(
                            f"no answer within {ATTEMPT_TIMEOUT} s (sent {sent - back:.1f} s after)"
                        )
                    if time.monotonic() >= deadline:
                        status = (await in_thread(lambda: gateway.server(EV_EXPIRY)))["status"]
                        pytest.fail(
                            f"{kind}, {label} session: no successful call within {RECOVERY_TIMEOUT} s "
                            f"after the server came back; attempts: {failures}; gateway status: {status}"
                        )
                    await anyio.sleep(0.5)
                print(
                    f"{kind}, {label} session: recovered {time.monotonic() - back:.2f} s after the server "
                    f"came back; failed attempts before: {failures}"
                )

        after = await in_thread(lambda: gateway.wait_until(EV_EXPIRY, "ready", timeout=STATUS_TIMEOUT))
        assert after["status"]["error"] is None, after
        assert gateway.proc.alive(), "the gateway process died"
        print(f"{kind}: status after recovery: {after['status']} (restarts before: {restarts_before})")
    finally:
        for proc in (first, replacement):
            if proc is not None:
                proc.stop()


# A stdio server whose command does not exist.


async def test_missing_command_fails_clearly(own_gateway) -> None:
    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.cli("servers", "add", BROKEN, "--command", "no-such-program-xyz")

    gateway = own_gateway("gateway-broken", configure, ready=[EV_STDIO])
    broken = gateway.wait_until(BROKEN, "failed", timeout=STATUS_TIMEOUT)
    assert "command not found" in (broken["status"]["error"] or ""), broken
    assert "no-such-program-xyz" in broken["status"]["error"], broken
    assert gateway.server(EV_STDIO)["status"]["state"] == "ready"

    # The other server is served as usual, alone on /mcp.
    with anyio.fail_after(CALL_TIMEOUT):
        async with connect(gateway.url(), gateway.token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert f"{EV_STDIO}__echo" in names, sorted(names)
            assert not any(n.startswith(f"{BROKEN}__") for n in names), sorted(names)
            echoed = await client.call_tool(f"{EV_STDIO}__echo", {"message": "still here"})
            assert text_of(echoed) == "Echo: still here"

            # Calling the failed server through /mcp: an error that names it.
            started = time.monotonic()
            with pytest.raises(MCPError) as aggregated_error:
                await client.call_tool(f"{BROKEN}__echo", {"message": "x"})
            assert BROKEN in str(aggregated_error.value), aggregated_error.value
            assert time.monotonic() - started < 10, "the error took 10 s or more"
            print(f"/mcp {BROKEN}__echo -> {aggregated_error.value!r} in {time.monotonic() - started:.2f} s")

        async with connect(gateway.url(EV_STDIO), gateway.token) as client:
            assert text_of(await client.call_tool("echo", {"message": "direct"})) == "Echo: direct"

    # Calling it through /mcp/SERVER: a JSON-RPC error that names it, not a hang.
    started = time.monotonic()
    with anyio.fail_after(CALL_TIMEOUT):
        with pytest.raises(MCPError) as direct_error:
            async with connect(gateway.url(BROKEN), gateway.token) as client:
                await client.call_tool("echo", {"message": "x"})
    elapsed = time.monotonic() - started
    assert BROKEN in str(direct_error.value), direct_error.value
    assert elapsed < 10, f"the error took {elapsed:.1f} s"
    print(f"/mcp/{BROKEN} echo -> {direct_error.value!r} in {elapsed:.2f} s")
    assert gateway.proc.alive()


# A server added while the gateway runs.


async def test_server_added_while_running_reaches_open_session(own_gateway) -> None:
    gateway = own_gateway("gateway-add", add_everything_stdio, ready=[EV_STDIO])
    changes: list[float] = []

    async def on_message(message) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.append(time.monotonic())

    with anyio.fail_after(CALL_TIMEOUT * 3):
        async with connect(gateway.url(), gateway.token, message_handler=on_message, mode="legacy") as client:
            before = {tool.name for tool in (await client.list_tools()).tools}
            assert f"{EV_STDIO}__echo" in before and not any(n.startswith(f"{EV_LATE}__") for n in before)

            added = time.monotonic()
            await in_thread(lambda: gateway.add_stdio(EV_LATE, paths.NODE, paths.SERVER_EVERYTHING, "stdio"))
            ready = await in_thread(lambda: gateway.wait_until(EV_LATE, "ready", timeout=STATUS_TIMEOUT))
            assert ready["status"]["error"] is None, ready

            # The session hears that the tool list changed.
            with anyio.move_on_after(5):
                while not changes:
                    await anyio.sleep(0.05)
            assert changes, "the open /mcp session got no notifications/tools/list_changed"

            after = {tool.name for tool in (await client.list_tools(cache_mode="bypass")).tools}
            assert f"{EV_LATE}__echo" in after, sorted(after)
            assert before < after, sorted(after - before)
            assert {n.split("__", 1)[0] for n in after} == {EV_STDIO, EV_LATE}
            echoed = await client.call_tool(f"{EV_LATE}__echo", {"message": "late"})
            assert text_of(echoed) == "Echo: late"
    assert gateway.proc.alive(), "the gateway process died"
    print(
        f"{EV_LATE} ready {time.monotonic() - added:.2f} s after `servers add`; "
        f"list_changed {len(changes)}x, first {changes[0] - added:.2f} s after; "
        f"{len(after) - len(before)} new tools"
    )


# Disable and enable while the gateway runs.


async def test_disable_and_enable_while_running(own_gateway) -> None:
    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        # The trailing argument (ignored by the server) tells its process apart.
        switchboard.add_stdio(EV_TOGGLE, paths.NODE, paths.SERVER_EVERYTHING, "stdio", EV_TOGGLE)

    gateway = own_gateway("gateway-toggle", configure, ready=[EV_STDIO, EV_TOGGLE])
    [toggle_pid] = gateway.upstream_pids(EV_TOGGLE)

    async def initialize_status(server: str) -> tuple[int, str]:
        async with http_client(None) as http:
            response = await http.post(
                gateway.url(server), json=raw.initialize_request(), headers=raw.headers(gateway.token)
            )
            return response.status_code, response.text

    with anyio.fail_after(STATUS_TIMEOUT * 4):
        code, body = await initialize_status(EV_TOGGLE)
        assert code == 200, (code, body)

        await in_thread(lambda: gateway.cli("servers", "disable", EV_TOGGLE))
        deadline = time.monotonic() + STATUS_TIMEOUT
        while True:
            entry = await in_thread(lambda: gateway.server(EV_TOGGLE))
            status = entry["status"]
            if status is None or status["state"] == "stopped":
                break
            assert time.monotonic() < deadline, f"still {entry} {STATUS_TIMEOUT} s after disable"
            await anyio.sleep(0.2)
        assert entry["enabled"] is False, entry
        print(f"after disable: {entry}")

        code, body = await initialize_status(EV_TOGGLE)
        assert code == 404, (code, body)
        error = json.loads(body).get("error") or {}
        assert isinstance(error.get("code"), int) and EV_TOGGLE in error.get("message", ""), body
        print(f"/mcp/{EV_TOGGLE} after disable: {code} {body}")

        # Its process is stopped; the other server is unaffected.
        deadline = time.monotonic() + 10
        while is_running(toggle_pid):
            assert time.monotonic() < deadline, f"{EV_TOGGLE}'s process {toggle_pid} still runs after disable"
            await anyio.sleep(0.1)
        async with connect(gateway.url(), gateway.token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert not any(n.startswith(f"{EV_TOGGLE}__") for n in names), sorted(names)
            assert text_of(await client.call_tool(f"{EV_STDIO}__echo", {"message": "on"})) == "Echo: on"

        await in_thread(lambda: gateway.cli("servers", "enable", EV_TOGGLE))
        entry = await in_thread(lambda: gateway.wait_until(EV_TOGGLE, "ready", timeout=STATUS_TIMEOUT))
        assert entry["enabled"] is True and entry["status"]["error"] is None, entry
        code, body = await initialize_status(EV_TOGGLE)
        assert code == 200, (code, body)
        async with connect(gateway.url(EV_TOGGLE), gateway.token) as client:
            assert text_of(await client.call_tool("echo", {"message": "back"})) == "Echo: back"
        async with connect(gateway.url(), gateway.token) as client:
            echoed = await client.call_tool(f"{EV_TOGGLE}__echo", {"message": "back too"})
            assert text_of(echoed) == "Echo: back too"
    print(f"after enable: {entry['status']}")
