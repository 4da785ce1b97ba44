"""Protocol eras both ways: every kind of client against upstreams of both eras.

Clients: the Python SDK in its default mode (probes `server/discover`, so it speaks
2026-07-28 with the gateway) and in legacy mode (`initialize`, 2025-11-25), and an rmcp client
(tests/fixtures `mcp-client`) speaking 2026-07-28 or 2025-11-25. Upstreams: the conformance
fixture serving 2026-07-28, and the same fixture forced to 2025-11-25. Each pair lists and
calls tools, answers an elicitation the upstream asks for mid-call (an InputRequiredResult on
one side becomes a classic `elicitation/create` on the other when the eras differ), and gets
a resource update after subscribing (`subscriptions/listen` or `resources/subscribe`).
"""

from __future__ import annotations

import json
import uuid

import anyio
import mcp.types as types
import pytest

from conftest import HttpPeer
from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc, run

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
WATCHED = "test://watched-resource"
# Upstream name in the gateway -> the version it serves.
UPSTREAMS = {"up-2026": MODERN, "up-2025": LEGACY}


def start_fixture(name: str, args: list[str], env, log_dir) -> HttpPeer:
    proc = Proc(name, [paths.CONFORMANCE_SERVER, "--port", "0", *args], env=env, log_dir=log_dir)
    url = proc.wait_for(r"listening on (http://\S+)", 30).group(1)
    return HttpPeer(proc, url)


@pytest.fixture(scope="module")
def matrix_gateway(make_gateway, sandbox_env, log_dir) -> Gateway:
    modern = start_fixture("fixture-2026", [], sandbox_env, log_dir)
    legacy = start_fixture("fixture-2025", ["--protocol-version", LEGACY], sandbox_env, log_dir)

    def configure(switchboard) -> None:
        switchboard.add_http("up-2026", modern.url)
        switchboard.add_http("up-2025", legacy.url)
        for name in UPSTREAMS:
            switchboard.trust(name)

    gateway = make_gateway("gateway-matrix", configure, ready=list(UPSTREAMS))
    yield gateway
    modern.proc.stop()
    legacy.proc.stop()


def test_upstreams_speak_their_newest_version(matrix_gateway: Gateway) -> None:
    """The gateway probes with `server/discover` and falls back to `initialize`, per server."""
    listed = {s["name"]: (s.get("status") or {}).get("protocol_version") for s in matrix_gateway.servers()}
    assert {name: listed.get(name) for name in UPSTREAMS} == UPSTREAMS, listed
    table = matrix_gateway.cli("servers", "list").stdout
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:] if line.strip()}
    assert "PROTOCOL" in table.splitlines()[0], table
    for name, version in UPSTREAMS.items():
        assert version in rows[name], table


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
@pytest.mark.parametrize("aggregated", [False, True], ids=["direct", "aggregate"])
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_python_sdk(mode: str, upstream: str, aggregated: bool, matrix_gateway: Gateway) -> None:
    """Through `/mcp/SERVER` (names as the server gives them) and `/mcp` (`SERVER__TOOL`,
    `SERVER+URI`)."""
    url = matrix_gateway.url(None if aggregated else upstream)

    def tool(name: str) -> str:
        return f"{upstream}__{name}" if aggregated else name

    watched = f"{upstream}+{WATCHED}" if aggregated else WATCHED
    name = f"user-{uuid.uuid4().hex[:8]}"
    asked: list[types.ElicitRequestParams] = []
    updates: list[str] = []

    async def elicitation(context, params: types.ElicitRequestParams):
        asked.append(params)
        return types.ElicitResult(action="accept", content={"username": name, "email": "m@example.com"})

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    async with connect(
        url, matrix_gateway.token, mode=mode, elicitation_callback=elicitation, message_handler=on_message
    ) as client:
        version = client.session.protocol_version
        assert version == (MODERN if mode == "auto" else LEGACY), version
        # /mcp/SERVER presents the server itself, /mcp the gateway (discover and initialize alike).
        identity = client.server_info.name if client.server_info else None
        assert identity == ("switchboard" if aggregated else "switchboard-conformance-server"), identity

        tools = {tool.name for tool in (await client.list_tools()).tools}
        wanted = {tool("test_simple_text"), tool("test_elicitation"), tool("test_update_watched_resource")}
        assert wanted <= tools, sorted(tools)

        simple = await client.call_tool(tool("test_simple_text"), {})
        assert "simple text" in text_of(simple).lower()

        elicited = await client.call_tool(tool("test_elicitation"), {"message": "Who is calling?"})
        assert len(asked) == 1, asked
        assert "accept" in text_of(elicited) and name in text_of(elicited), text_of(elicited)

        if mode == "auto":
            async with client.listen(resource_subscriptions=[watched]) as subscription:
                await client.call_tool(tool("test_update_watched_resource"), {})
                with anyio.fail_after(30):
                    event = await subscription.__anext__()
                assert getattr(event, "uri", None) == watched, event
        else:
            await client.subscribe_resource(watched)
            await client.call_tool(tool("test_update_watched_resource"), {})
            with anyio.fail_after(30):
                while not updates:
                    await anyio.sleep(0.02)
            assert updates == [watched], updates
    via = "/mcp" if aggregated else f"/mcp/{upstream}"
    print(f"python {mode} ({version}) via {via} -> {upstream} ({UPSTREAMS[upstream]}): tools, elicitation, update ok")


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
@pytest.mark.parametrize("protocol", [MODERN, LEGACY])
def test_rmcp_client(protocol: str, upstream: str, matrix_gateway: Gateway, sandbox_env) -> None:
    argv = [
        paths.MCP_CLIENT,
        "--url", matrix_gateway.url(upstream),
        "--token", matrix_gateway.token,
        "--protocol", protocol,
    ]  # fmt: skip
    done = run(argv, env=sandbox_env, timeout=120)
    print(done.stdout)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    steps = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("ok ")]
    assert steps == ["connect", "list_tools", "call_tool", "elicitation", "subscribe", "updated"], steps


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_list_changes_reach_both_eras(mode: str, matrix_gateway: Gateway) -> None:
    """A 2026-07-28 server's list change (sent on the gateway's listen stream) reaches a
    2026-07-28 client's listen stream and a session client's notifications alike."""
    changes: list[str] = []

    async def on_message(message) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            changes.append("tools")

    async with connect(matrix_gateway.url(), matrix_gateway.token, mode=mode, message_handler=on_message) as client:
        if mode == "auto":
            async with client.listen(tools_list_changed=True) as subscription:
                await client.call_tool("up-2026__test_trigger_tool_change", {})
                with anyio.fail_after(30):
                    event = await subscription.__anext__()
                assert type(event).__name__ == "ToolsListChanged", event
        else:
            await client.call_tool("up-2026__test_trigger_tool_change", {})
            with anyio.fail_after(30):
                while not changes:
                    await anyio.sleep(0.02)
            assert changes[0] == "tools", changes


@pytest.mark.anyio
@pytest.mark.parametrize("upstream", list(UPSTREAMS))
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_log_messages_reach_both_eras(mode: str, upstream: str, matrix_gateway: Gateway) -> None:
    """A 2026-07-28 client hears the log messages of its call when it opts in with a log level
    (on the call's own stream); a session client hears them as its version promises."""
    logs: list[str] = []

    async def on_log(params: types.LoggingMessageNotificationParams) -> None:
        logs.append(str(params.data))

    options = {"log_level": "info"} if mode == "auto" else {}
    async with connect(
        matrix_gateway.url(upstream), matrix_gateway.token, mode=mode, logging_callback=on_log, **options
    ) as client:
        await client.call_tool("test_tool_with_logging", {})
        with anyio.fail_after(30):
            while len(logs) < 3:
                await anyio.sleep(0.02)
    assert len(logs) >= 3, logs


def stateless_call(http, url: str, token: str, request_id: int, method: str, params: dict, name_key: str | None):
    """One 2026-07-28 request, as raw HTTP: version and capabilities in `_meta`, standard headers."""
    from helpers import raw

    meta = {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "raw-tasks", "version": "0"},
        "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}},
    }
    extra = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name_key is not None:
        extra["Mcp-Name"] = params[name_key]
    body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": {**params, "_meta": meta}}
    response = http.post(url, json=body, headers=raw.headers(token, **extra))
    return raw.response_to(response, request_id)


def test_tasks_pass_through(matrix_gateway: Gateway) -> None:
    """The tasks extension between a 2026-07-28 client and server: the call becomes a task,
    and tasks/get on /mcp/SERVER reaches the server that holds it."""
    import time

    import httpx2

    url = matrix_gateway.url("up-2026")
    with httpx2.Client(timeout=30) as http:
        created = stateless_call(
            http, url, matrix_gateway.token, 1, "tools/call", {"name": "test_tool_with_task", "arguments": {}}, "name"
        )
        assert created.get("result", {}).get("resultType") == "task", created
        task_id = created["result"]["taskId"]
        deadline = time.monotonic() + 30
        while True:
            got = stateless_call(http, url, matrix_gateway.token, 2, "tasks/get", {"taskId": task_id}, "taskId")
            result = got.get("result")
            assert result is not None, got
            if result["status"] != "working" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert result["status"] == "completed", result
    assert "Task finished" in json.dumps(result), result
