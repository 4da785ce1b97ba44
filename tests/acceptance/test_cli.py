"""The `switchboard` command: admin commands with and without a running gateway, and the
`connect` stdio bridge driven by the Python SDK's stdio client."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import EV_STDIO, add_everything_stdio
from helpers import paths
from helpers.gateway import Gateway, Switchboard, check_one_line_error
from helpers.mcp_client import connect, text_of
from helpers.procs import children, cmdline, is_running, kill_pids, run


@pytest.fixture
def switchboard(tmp_path: Path, sandbox_env, log_dir) -> Switchboard:
    """The CLI on a fresh data dir, with no gateway running."""
    return Switchboard(tmp_path / "data", sandbox_env, log_dir)


def by_name(entries: list[dict]) -> dict[str, dict]:
    return {entry["name"]: entry for entry in entries}


# Without a running gateway.


def test_servers_add_list_enable_disable_remove(switchboard: Switchboard, tmp_path: Path) -> None:
    switchboard.cli(
        "servers", "add", "local",
        "--command", paths.NODE,
        "--arg", paths.SERVER_EVERYTHING, "--arg", "stdio",
        "--env", "GREETING=hello",
        "--cwd", tmp_path,
    )  # fmt: skip
    switchboard.cli("servers", "add", "remote", "--url", "http://127.0.0.1:9/mcp", "--header", "X-Team=blue")
    switchboard.cli("servers", "add", "legacy", "--url", "http://127.0.0.1:9/sse", "--sse")

    servers = by_name(switchboard.servers())
    assert set(servers) == {"local", "remote", "legacy"}
    assert servers["local"]["transport"]["type"] == "stdio"
    assert servers["remote"]["transport"]["type"] == "http"
    assert servers["legacy"]["transport"]["type"] == "sse"
    assert str(paths.NODE) in json.dumps(servers["local"]["transport"])
    assert "http://127.0.0.1:9/mcp" in json.dumps(servers["remote"]["transport"])
    for entry in servers.values():
        assert entry["enabled"] is True
        assert entry["status"] is None, "no gateway runs, so there is no status"

    switchboard.cli("servers", "disable", "remote")
    assert by_name(switchboard.servers())["remote"]["enabled"] is False
    switchboard.cli("servers", "enable", "remote")
    assert by_name(switchboard.servers())["remote"]["enabled"] is True

    plain = switchboard.cli("servers", "list").stdout
    for name in ("local", "remote", "legacy"):
        assert name in plain

    switchboard.cli("servers", "remove", "legacy")
    assert set(by_name(switchboard.servers())) == {"local", "remote"}


def test_clients_add_list_remove(switchboard: Switchboard) -> None:
    first = switchboard.add_client("desktop")
    second = switchboard.add_client("editor")
    assert first != second and len(first) >= 16 and re.fullmatch(r"\S+", first), first

    listed = switchboard.cli("clients", "list", "--json")
    assert {entry["name"] for entry in listed.json()} == {"desktop", "editor"}
    plain = switchboard.cli("clients", "list").stdout
    for token in (first, second):
        assert token not in listed.stdout and token not in plain, "tokens are shown once, at creation"

    switchboard.cli("clients", "remove", "desktop")
    assert {entry["name"] for entry in switchboard.cli("clients", "list", "--json").json()} == {"editor"}


def test_import_claude_desktop_config(switchboard: Switchboard, tmp_path: Path) -> None:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "everything": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-everything"],
                    },
                    "files": {
                        "command": "node",
                        "args": ["/srv/files/index.js", "/home/user/docs"],
                        "env": {"LOG_LEVEL": "debug"},
                    },
                }
            }
        )
    )
    switchboard.cli("servers", "import", config)
    servers = by_name(switchboard.servers())
    assert set(servers) == {"everything", "files"}
    assert {entry["transport"]["type"] for entry in servers.values()} == {"stdio"}
    assert "/srv/files/index.js" in json.dumps(servers["files"]["transport"])


def test_import_vscode_config(switchboard: Switchboard, tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {
                "inputs": [],
                "servers": {
                    "everything": {
                        "type": "stdio",
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-everything"],
                    },
                    "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
                    "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
                },
            }
        )
    )
    switchboard.cli("servers", "import", config)
    servers = by_name(switchboard.servers())
    assert {name: entry["transport"]["type"] for name, entry in servers.items()} == {
        "everything": "stdio",
        "remote": "http",
        "old": "sse",
    }


def test_errors_are_one_line_and_non_zero(switchboard: Switchboard, tmp_path: Path) -> None:
    switchboard.cli("servers", "add", "taken", "--url", "http://127.0.0.1:9/mcp")
    switchboard.add_client("taken")
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"mcpServers": {')
    unknown_shape = tmp_path / "unknown.json"
    unknown_shape.write_text('{"something": {}}')

    failing = [
        ("servers", "remove", "nope"),
        ("servers", "enable", "nope"),
        ("servers", "disable", "nope"),
        ("servers", "add", "taken", "--url", "http://127.0.0.1:9/other"),
        ("servers", "add", "bad-url", "--url", "not a url"),
        ("servers", "import", tmp_path / "missing.json"),
        ("servers", "import", malformed),
        ("servers", "import", unknown_shape),
        ("clients", "remove", "nope"),
        ("clients", "add", "taken"),
        ("connect", "--token", "whatever"),  # no gateway is running
    ]
    for args in failing:
        result = switchboard.cli(*args, check=False, timeout=30)
        check_one_line_error(result)
        print(f"switchboard {' '.join(map(str, args))}: exit {result.returncode}: {result.stderr.strip()}")


# With a running gateway.


@pytest.fixture(scope="module")
def gateway(make_gateway) -> Gateway:
    return make_gateway("gateway-cli", add_everything_stdio, ready=[EV_STDIO])


def test_serve_announces_itself(gateway: Gateway) -> None:
    ready = next(line for line in gateway.startup_lines if "Switchboard is ready" in line)
    assert re.fullmatch(r"Switchboard is ready \(\d+ ms\)", ready.strip()), ready
    info = gateway.info()
    assert gateway.info_mode() == 0o600, oct(gateway.info_mode())
    assert info["listen"] == f"127.0.0.1:{gateway.port}"
    assert info["mcp_url"] == f"http://127.0.0.1:{gateway.port}/mcp"
    assert info["control_url"] == f"http://127.0.0.1:{gateway.port}/api/"
    assert isinstance(info["control_token"], str) and len(info["control_token"]) >= 16
    print(ready.strip())


def test_servers_list_shows_live_status(gateway: Gateway) -> None:
    status = gateway.server(EV_STDIO)["status"]
    assert status["state"] == "ready" and status["error"] is None, status
    assert isinstance(status["tools"], int) and status["tools"] >= 13, status
    assert status["restarts"] == 0, status
    assert EV_STDIO in gateway.cli("servers", "list").stdout


def test_upstream_stderr_is_captured(gateway: Gateway) -> None:
    deadline = time.monotonic() + 10
    while "Starting default (STDIO) server..." not in gateway.server_log(EV_STDIO):
        assert time.monotonic() < deadline, gateway.server_log(EV_STDIO)
        time.sleep(0.1)


@pytest.mark.anyio
async def test_server_added_while_running_becomes_ready(gateway: Gateway) -> None:
    pid = gateway.pid
    gateway.add_stdio("ev-late", paths.NODE, paths.SERVER_EVERYTHING, "stdio")
    added = time.monotonic()
    await anyio.to_thread.run_sync(lambda: gateway.wait_until("ev-late", "ready", timeout=30))
    print(f"ev-late ready {time.monotonic() - added:.2f} s after `servers add`")
    assert gateway.pid == pid and gateway.proc.alive(), "picked up without a restart"

    async with connect(gateway.url("ev-late"), gateway.token) as client:
        assert text_of(await client.call_tool("echo", {"message": "late"})) == "Echo: late"
    async with connect(gateway.url(), gateway.token) as client:
        assert "ev-late__echo" in {tool.name for tool in (await client.list_tools()).tools}

    gateway.cli("servers", "disable", "ev-late")
    deadline = time.monotonic() + 10
    while True:
        async with connect(gateway.url(), gateway.token) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
        if not any(name.startswith("ev-late__") for name in names):
            break
        assert time.monotonic() < deadline, f"a disabled server's tools are still listed: {sorted(names)}"
        await anyio.sleep(0.2)
    assert f"{EV_STDIO}__echo" in names

    gateway.cli("servers", "remove", "ev-late")
    assert "ev-late" not in by_name(gateway.servers())


def tool_names(listing: object) -> set[str]:
    """Tool names anywhere in `tools list --json` output (tools are the objects with an inputSchema)."""
    if isinstance(listing, list):
        return set().union(*(tool_names(item) for item in listing))
    if isinstance(listing, dict):
        if isinstance(listing.get("name"), str) and "inputSchema" in listing:
            return {listing["name"]}
        return set().union(*(tool_names(value) for value in listing.values()))
    return set()


def test_tools_list_with_and_without_a_gateway(make_gateway) -> None:
    gateway = make_gateway("gateway-tools-list", add_everything_stdio, ready=[EV_STDIO])
    running = tool_names(gateway.cli("tools", "list", "--server", EV_STDIO, "--json").json())
    assert {"echo", "get-sum"} <= {name.split("__")[-1] for name in running}, running
    assert "echo" in gateway.cli("tools", "list").stdout

    assert gateway.stop() == 0, "SIGTERM drains and exits 0"
    assert all(entry["status"] is None for entry in gateway.servers()), "no gateway runs any more"
    stopped = tool_names(gateway.cli("tools", "list", "--server", EV_STDIO, "--json").json())
    assert stopped == running
    print(f"tools list: {len(running)} tools with the gateway running, {len(stopped)} without")


def bridge_processes() -> list[int]:
    """`switchboard connect` processes we (through the SDK) started and that are still running."""
    return [
        pid
        for pid in children(os.getpid())
        if is_running(pid) and str(paths.SWITCHBOARD) in cmdline(pid) and "connect" in cmdline(pid)
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "server,token_via,mode",
    [(EV_STDIO, "env", "auto"), (None, "env", "auto"), (EV_STDIO, "flag", "auto"), (None, "env", "legacy")],
    ids=["server-env", "all-env", "server-flag", "all-env-legacy"],
)
async def test_connect_bridge(gateway: Gateway, sandbox_env, log_dir, server, token_via, mode) -> None:
    """Over stdio too, the SDK's default mode speaks 2026-07-28 (the bridge adds the HTTP
    headers such requests carry) and its legacy mode 2025-11-25."""
    args = ["--data-dir", str(gateway.data_dir), "connect"]
    if server:
        args += ["--server", server]
    env = dict(sandbox_env)
    if token_via == "env":
        env["SWITCHBOARD_TOKEN"] = gateway.token
    else:
        args += ["--token", gateway.token]
    params = StdioServerParameters(command=str(paths.SWITCHBOARD), args=args, env=env)
    echo = "echo" if server else f"{EV_STDIO}__echo"
    with (log_dir / "connect-bridge.stderr.log").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            version = client.session.protocol_version
            assert version == ("2026-07-28" if mode == "auto" else "2025-11-25"), version
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert echo in names, sorted(names)
            result = await client.call_tool(echo, {"message": "bridged ✓"})
            assert text_of(result) == "Echo: bridged ✓"
    deadline = time.monotonic() + 5
    while bridge_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    leftovers = bridge_processes()
    kill_pids(leftovers, signal.SIGKILL)
    assert not leftovers, f"`switchboard connect` kept running after its client left: {leftovers}"
    print(f"connect bridge ({'--server ' + server if server else 'all servers'}): {len(names)} tools")


def test_connect_with_a_wrong_token_fails(gateway: Gateway, sandbox_env) -> None:
    initialize = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "t", "version": "0"}}}
    )  # fmt: skip
    done = run(
        gateway.argv("connect", "--server", EV_STDIO),
        env={**sandbox_env, "SWITCHBOARD_TOKEN": "wrong-token"},
        input=initialize + "\n",
        timeout=30,
    )
    assert done.returncode != 0, (done.returncode, done.stdout, done.stderr)
    assert '"result"' not in done.stdout, done.stdout
    assert done.stderr.strip(), "the reason goes to stderr"
