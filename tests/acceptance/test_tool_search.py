"""Tool search per client: in search mode `/mcp` lists `search_tools` and `call_tool` (and the
tools the user keeps always listed) instead of every tool, and a call through `call_tool`
passes the same pipeline as a direct call.

Clients: the Python SDK (`mcp` 2.3) in legacy mode (2025-11-25 session) and in its default
mode (2026-07-28, stateless), and the TypeScript SDK: `@modelcontextprotocol/sdk` (v1,
2025-11-25) and `@modelcontextprotocol/client` (v2) pinned to 2026-07-28. Each finds a tool
by a phrase from its description, calls it through `call_tool` and gets its result; a denied
tool is neither found nor callable; an `ask` tool waits for the person at the panel; the
audit record names the real server and tool. Servers: server-everything over stdio and the
`probe-server` fixture (its `wait` stays in flight until approved).
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from conftest import EV_STDIO, add_everything_stdio
from helpers import paths
from helpers.eras import Era
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of

PROBE = "probe"
POLICY_DENIED = -32010
TS_CLIENT = paths.TESTS / "acceptance" / "helpers" / "ts_client.mjs"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]

# The phrase a model would search with, and the tool it must find first.
PHRASE = "echoes back the input string"
ECHO = f"{EV_STDIO}__echo"
# Denied for everyone: reads the server's environment.
DENIED = f"{EV_STDIO}__get-env"


@pytest.fixture(scope="module")
def gateway(make_gateway, session_dir) -> Iterator[Gateway]:
    ran = session_dir / f"probe-ran-search-{uuid.uuid4().hex[:6]}" / "ran.txt"
    tokens: dict[str, str] = {}

    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_stdio(PROBE, paths.PROBE_SERVER, "--stdio", "--ran", str(ran))
        switchboard.allow_write(PROBE, ran.parent)
        for server in (EV_STDIO, PROBE):
            switchboard.trust(server)
        switchboard.cli("tools", "set", EV_STDIO, "get-env", "deny")
        switchboard.cli("tools", "set", PROBE, "wait", "ask")
        for client in ("py-legacy", "py-modern", "ts-sdk", "ts-client", "budgeted", "plain", "hidden"):
            tokens[client] = switchboard.add_client(client)
        for client in ("py-legacy", "py-modern", "ts-sdk", "ts-client", "hidden"):
            switchboard.cli("clients", "set", client, "--tool-mode", "search")
        # Hidden's profile leaves the probe out.
        switchboard.cli("profiles", "add", "no-probe", "--server", EV_STDIO)
        switchboard.cli("profiles", "assign", "hidden", "no-probe")

    gateway = make_gateway("gateway-search", configure, ready=[EV_STDIO, PROBE])
    gateway.tokens = tokens
    yield gateway


def token(gateway: Gateway, client: str) -> str:
    return gateway.tokens[client]


class Approver:
    """Approves the first pending call of `tool` by `client` from the panel's API."""

    def __init__(self, gateway: Gateway, client: str, tool: str) -> None:
        self.seen: dict[str, Any] = {}
        self.thread = threading.Thread(target=self.run, args=(gateway, client, tool), daemon=True)
        self.thread.start()

    def run(self, gateway: Gateway, client: str, tool: str) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pending = [
                a
                for a in gateway.rpc("approvals_list", {"pending_only": True})
                if a["client"] == client and a["tool"] == tool
            ]
            if pending:
                self.seen = pending[0]
                gateway.cli("approvals", "approve", str(pending[0]["id"]))
                return
            time.sleep(0.1)

    def join(self) -> dict[str, Any]:
        self.thread.join(70)
        return self.seen


def audit(gateway: Gateway, client: str, tool: str) -> list[dict[str, Any]]:
    out = gateway.cli("logs", "--json", "--client", client, "--tool", tool, "--limit", "20").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()] if not out.lstrip().startswith("[") else json.loads(out)


def check_audit(gateway: Gateway, client: str) -> None:
    records = audit(gateway, client, "echo")
    assert any(r.get("server") == EV_STDIO and r.get("name") == "echo" for r in records), records[:3]
    waits = audit(gateway, client, "wait")
    assert any(r.get("server") == PROBE and str(r.get("decision", "")).startswith("asked") for r in waits), waits[:3]
    denied = audit(gateway, client, "get-env")
    assert denied and all(r.get("decision") == "denied" for r in denied), denied[:3]


def structured(result: Any) -> dict[str, Any]:
    """The structured content of a tool result: raw JSON or an SDK's model."""
    if not isinstance(result, dict):
        result = result.model_dump(by_alias=True)
    return result.get("structuredContent") or {}


def found_names(result: Any) -> list[str]:
    return [t["name"] for t in structured(result).get("tools", [])]


@pytest.mark.parametrize("mode", ["legacy", "auto"], ids=["2025-11-25", "2026-07-28"])
async def test_python_sdk_in_search_mode(gateway: Gateway, mode: str) -> None:
    client = "py-legacy" if mode == "legacy" else "py-modern"
    async with connect(gateway.url(), token(gateway, client), mode=mode) as session:
        version = session.session.protocol_version
        assert version == ("2025-11-25" if mode == "legacy" else "2026-07-28"), version
        listed = [t.name for t in (await session.list_tools()).tools]
        assert listed == ["search_tools", "call_tool"], listed

        found = await session.call_tool("search_tools", {"query": PHRASE, "limit": 3})
        names = found_names(found)
        assert names and names[0] == ECHO, names
        # The definitions come whole: name, description and input schema.
        first = structured(found)["tools"][0]
        assert "message" in first["inputSchema"]["properties"], first

        echoed = await session.call_tool("call_tool", {"name": ECHO, "arguments": {"message": f"via {client}"}})
        assert text_of(echoed) == f"Echo: via {client}", text_of(echoed)

        # A denied tool is not found, by any words, and cannot be called.
        for query in ("environment variables", "get env", DENIED):
            hidden = await session.call_tool("search_tools", {"query": query, "limit": 25})
            assert DENIED not in found_names(hidden), query
        with pytest.raises(Exception) as refused:
            await session.call_tool("call_tool", {"name": DENIED, "arguments": {}})
        assert str(POLICY_DENIED) in str(refused.value) or "denied" in str(refused.value), refused.value

        # An ask tool waits for the person at the panel.
        approver = Approver(gateway, client, "wait")
        waited = await session.call_tool("call_tool", {"name": f"{PROBE}__wait", "arguments": {"ms": 0}})
        assert approver.join(), "the call through call_tool never waited for approval"
        assert not waited.is_error, waited
    check_audit(gateway, client)
    print(f"python sdk {version}: listed 2 tools; found {ECHO} first; called it; {DENIED} hidden and refused; ask waited")


def ts(gateway: Gateway, client: str, sdk: str, era: str, steps: list[dict[str, Any]]) -> subprocess.Popen:
    argv = [str(paths.NODE), str(TS_CLIENT), "--sdk", sdk, "--era", era, "--url", gateway.url(),
            "--token", token(gateway, client), "--steps", json.dumps(steps)]  # fmt: skip
    return subprocess.Popen(argv, cwd=paths.TESTS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize(
    ("sdk", "era", "client", "version"),
    [("sdk", "legacy", "ts-sdk", "2025-11-25"), ("client", "modern", "ts-client", "2026-07-28")],
    ids=["sdk-v1-2025-11-25", "client-v2-2026-07-28"],
)
def test_typescript_sdk_in_search_mode(gateway: Gateway, sdk: str, era: str, client: str, version: str) -> None:
    steps = [
        {"list": True},
        {"call": "search_tools", "arguments": {"query": PHRASE, "limit": 3}},
        {"call": "call_tool", "arguments": {"name": ECHO, "arguments": {"message": f"via {client}"}}},
        {"call": "search_tools", "arguments": {"query": "environment variables", "limit": 25}},
        {"call": "call_tool", "arguments": {"name": DENIED}},
        {"call": "call_tool", "arguments": {"name": f"{PROBE}__wait", "arguments": {"ms": 0}}},
    ]
    approver = Approver(gateway, client, "wait")
    proc = ts(gateway, client, sdk, era, steps)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    connected, listed, found, echoed, hidden, denied, waited = lines
    assert connected["version"] == version, connected
    assert [t["name"] for t in listed["result"]["tools"]] == ["search_tools", "call_tool"], listed
    assert found_names(found["result"])[0] == ECHO, found
    assert echoed["result"]["content"][0]["text"] == f"Echo: via {client}", echoed
    assert DENIED not in found_names(hidden["result"]), hidden
    assert not denied["ok"] and denied["code"] == POLICY_DENIED, denied
    assert waited["ok"] and not waited["result"].get("isError"), waited
    assert approver.join(), "the call through call_tool never waited for approval"
    check_audit(gateway, client)
    print(f"typescript {sdk} {version}: listed 2 tools; found and called {ECHO}; {DENIED} hidden and refused; ask waited")


def test_auto_mode_searches_past_the_budget_and_keeps_always_listed_tools(gateway: Gateway) -> None:
    with httpx2.Client(timeout=60) as http:
        client = Era(http, gateway.url(), token(gateway, "budgeted"), modern=False).open()

        def listed() -> list[str]:
            _response, answer = client.request("tools/list", {})
            return [t["name"] for t in answer["result"]["tools"]]

        full = listed()
        assert ECHO in full and len(full) > 3, full
        gateway.cli("clients", "set", "budgeted", "--tool-mode", "auto", "--budget-tools", "3")
        wait_for(lambda: listed() == ["search_tools", "call_tool"])
        gateway.cli("clients", "set", "budgeted", "--always-list", ECHO)
        wait_for(lambda: listed() == ["search_tools", "call_tool", ECHO])
        # The view's size and the budget, as the CLI and the panel show them.
        (row,) = [r for r in gateway.cli("clients", "list", "--json").json() if r["name"] == "budgeted"]
        assert row["tool_mode"] == "auto" and row["budget_tools"] == 3, row
        assert row["view"]["tools"] == len(full) and row["view"]["searching"] and row["view"]["over_budget"], row
        assert row["view"]["listed_tools"] == 3, row
        doctor = gateway.cli("doctor", "--json", check=False).json()
        context = [c for c in doctor["checks"] if c["area"] == "context" and c["subject"] == "budgeted"]
        assert context and context[0]["severity"] == "info", context
        # Past the budget in passthrough: the doctor warns.
        gateway.cli("clients", "set", "budgeted", "--tool-mode", "passthrough")
        wait_for(lambda: len(listed()) == len(full))
        doctor = gateway.cli("doctor", "--json", check=False).json()
        context = [c for c in doctor["checks"] if c["area"] == "context" and c["subject"] == "budgeted"]
        assert context and context[0]["severity"] == "warning" and context[0]["fix"], context
        gateway.cli("clients", "set", "budgeted", "--tool-mode", "default", "--budget-tools", "default",
                    "--unlist", ECHO)  # fmt: skip
    print(f"auto: {len(full)} tools past a budget of 3 -> search_tools, call_tool (+ {ECHO} kept listed); doctor told")


def test_list_changes_reach_the_index_at_once(gateway: Gateway) -> None:
    with httpx2.Client(timeout=60) as http:
        client = Era(http, gateway.url(), token(gateway, "py-legacy"), modern=False).open()

        def search(query: str) -> list[str]:
            _response, answer = client.call("search_tools", {"query": query, "limit": 25})
            return found_names(answer["result"])

        assert f"{PROBE}__wait" in search("wait milliseconds"), search("wait milliseconds")
        gateway.cli("servers", "disable", PROBE)
        try:
            wait_for(lambda: not any(n.startswith(f"{PROBE}__") for n in search("wait milliseconds")))
        finally:
            gateway.cli("servers", "enable", PROBE)
            gateway.wait_until(PROBE, "ready")
        wait_for(lambda: f"{PROBE}__wait" in search("wait milliseconds"))
        # A denied tool leaves the results as soon as it is denied.
        assert ECHO in search(PHRASE)
        gateway.cli("tools", "set", EV_STDIO, "echo", "deny", "--client", "py-legacy")
        try:
            wait_for(lambda: ECHO not in search(PHRASE))
            _response, answer = client.call("call_tool", {"name": ECHO, "arguments": {"message": "x"}})
            assert answer["error"]["code"] == POLICY_DENIED, answer
        finally:
            gateway.cli("tools", "clear", EV_STDIO, "echo", "--client", "py-legacy")
    print("a server gone, back, and a tool denied: the search results followed each at once")


@pytest.mark.parametrize("modern", [False, True], ids=["session", "stateless"])
def test_a_server_outside_the_profile_is_never_found_nor_called(gateway: Gateway, modern: bool) -> None:
    with httpx2.Client(timeout=60) as http:
        client = Era(http, gateway.url(), token(gateway, "hidden"), modern=modern).open()
        for query in ("wait milliseconds", PROBE, f"{PROBE}__wait", "destroy"):
            _response, answer = client.call("search_tools", {"query": query, "limit": 25})
            names = found_names(answer["result"])
            assert not any(n.startswith(f"{PROBE}__") for n in names), (query, names)
        _response, answer = client.call("call_tool", {"name": f"{PROBE}__wait", "arguments": {"ms": 0}})
        assert "error" in answer and "profile" in answer["error"]["message"], answer
        # Its own servers are found as usual.
        _response, answer = client.call("search_tools", {"query": PHRASE})
        assert found_names(answer["result"])[0] == ECHO, answer
    print(f"({client.version}) a profile without {PROBE}: none of its tools found by any words, call_tool refused")


def test_bad_arguments_are_tool_errors_and_passthrough_lists_everything(gateway: Gateway) -> None:
    with httpx2.Client(timeout=60) as http:
        client = Era(http, gateway.url(), token(gateway, "py-legacy"), modern=True)
        for name, args in (
            ("search_tools", {}),
            ("search_tools", {"query": "x", "limit": 0}),
            ("search_tools", {"query": "x", "extra": 1}),
            ("call_tool", {}),
            ("call_tool", {"name": ECHO, "arguments": [1]}),
        ):
            _response, answer = client.call(name, args)
            assert answer["result"]["isError"], (name, args, answer)
        # A name that is not SERVER__TOOL, or names no server, is refused as before.
        _response, answer = client.call("call_tool", {"name": "nowhere__tool", "arguments": {}})
        assert "error" in answer or answer["result"].get("isError"), answer
        # In passthrough the client is listed every tool, not the search tools.
        plain = Era(http, gateway.url(), token(gateway, "plain"), modern=True)
        _response, answer = plain.request("tools/list", {})
        names = [t["name"] for t in answer["result"]["tools"]]
        assert ECHO in names and "search_tools" not in names, names
    print("bad search_tools / call_tool arguments are tool errors; passthrough lists every tool")


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
