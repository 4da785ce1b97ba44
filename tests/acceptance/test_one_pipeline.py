"""One enforcement point: every message passes bind, classify, decide, record and relay, on
every route and in both eras, and the ways around it that used to work are closed.

Each attack is replayed as an attacker would: a mistyped field in the params of a denied
tool's call, another client's session id (GET, DELETE, a posted answer, a cancel), a server
request while another client has a call in flight, a call of a tool the gateway has not seen
listed, a log message for a server a profile hides, another client's task. Then one call goes
down every route (stdio, streamable HTTP and legacy SSE server; `/mcp` and `/mcp/SERVER`;
2025-11-25 sessions and 2026-07-28 stateless requests) and must leave the same audit record
and the same error codes for deny, rate limit and cancel.

The upstreams are real (server-everything over stdio, HTTP and SSE; the conformance fixture
for tasks) plus `probe-server`, an rmcp fixture with calls that stay in flight, sampling
mid-call, session log messages and a tool it serves but does not list.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest

from conftest import EV_HTTP, EV_STDIO, HttpPeer, add_everything_stdio
from helpers import paths, raw
from helpers.eras import Era
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc, ProcessExited, free_port

EV_SSE = "ev-sse"
PROBE = "probe"
FIXTURE = "fixture"
POLICY_DENIED = -32010
RATE_LIMITED = -32029
INVALID_PARAMS = -32602
CANCELLED = -32800

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(600)]


def start_sse(env, log_dir) -> HttpPeer:
    for _attempt in range(5):
        port = free_port()
        proc = Proc("everything-sse-pipeline", [paths.NODE, paths.SERVER_EVERYTHING, "sse"],
                    env={**env, "PORT": str(port)}, log_dir=log_dir)  # fmt: skip
        try:
            proc.wait_for(r"Server is running on port \d+", 30)
            return HttpPeer(proc, f"http://127.0.0.1:{port}/sse")
        except ProcessExited:
            if "in use" not in proc.text():
                raise
    raise RuntimeError("server-everything (sse) found no free port")


def start_fixture(env, log_dir) -> HttpPeer:
    proc = Proc("fixture-pipeline", [paths.CONFORMANCE_SERVER, "--port", "0"], env=env, log_dir=log_dir)
    return HttpPeer(proc, proc.wait_for(r"listening on (http://\S+)", 30).group(1))


class Setup:
    def __init__(self, gateway: Gateway, tokens: dict[str, str], ran: Path) -> None:
        self.gateway = gateway
        self.tokens = tokens
        self.ran = ran

    def ran_tools(self) -> list[str]:
        return self.ran.read_text().split() if self.ran.exists() else []


@pytest.fixture(scope="module")
def setup(make_gateway, everything_http: HttpPeer, session_dir: Path, sandbox_env, log_dir) -> Iterator[Setup]:
    sse = start_sse(sandbox_env, log_dir)
    fixture = start_fixture(sandbox_env, log_dir)
    # The probe notes what ran from inside its sandbox: in a folder granted to it.
    ran = session_dir / f"probe-ran-{uuid.uuid4().hex[:6]}" / "ran.txt"
    tokens: dict[str, str] = {}

    def configure(switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_http(EV_HTTP, everything_http.url)
        switchboard.add_http(EV_SSE, sse.url, sse=True)
        switchboard.add_http(FIXTURE, fixture.url)
        switchboard.add_stdio(PROBE, paths.PROBE_SERVER, "--stdio", "--ran", str(ran))
        switchboard.allow_write(PROBE, ran.parent)
        for server in (EV_STDIO, EV_HTTP, EV_SSE, PROBE, FIXTURE):
            switchboard.trust(server)
        switchboard.cli("tools", "set", PROBE, "destroy", "deny")
        for client in ("alice", "bob", "carol", "dave"):
            tokens[client] = switchboard.add_client(client)
        # Dave's profile leaves the probe out.
        switchboard.cli("profiles", "add", "no-probe", "--server", EV_STDIO)
        switchboard.cli("profiles", "assign", "dave", "no-probe")
        # Carol's calls of `wait` ask the person at the panel.
        switchboard.cli("tools", "set", PROBE, "wait", "ask", "--client", "carol")

    gateway = make_gateway("gateway-pipeline", configure, ready=[EV_STDIO, EV_HTTP, EV_SSE, PROBE, FIXTURE])
    yield Setup(gateway, tokens, ran)
    sse.proc.stop()
    fixture.proc.stop()


@pytest.fixture
def http() -> Iterator[httpx2.Client]:
    with httpx2.Client(timeout=60) as client:
        yield client


def error_code(answer: dict[str, Any] | None) -> int | None:
    return (answer or {}).get("error", {}).get("code")


# 1. A mistyped field never turns a call into "some other method".


@pytest.mark.parametrize("modern", [False, True], ids=["session", "stateless"])
@pytest.mark.parametrize("aggregated", [False, True], ids=["direct", "aggregate"])
def test_a_mistyped_call_of_a_denied_tool_is_invalid_params(setup: Setup, http, aggregated: bool, modern: bool) -> None:
    gateway = setup.gateway
    url = gateway.url(None if aggregated else PROBE)
    tool = f"{PROBE}__destroy" if aggregated else "destroy"
    client = Era(http, url, gateway.token, modern).open()
    response, plain = client.call(tool, {})
    assert error_code(plain) == POLICY_DENIED, (response.status_code, response.text)
    # Errors speak the caller's names.
    assert f'tool "{tool}"' in plain["error"]["message"], plain
    for mistyped in ({"requestState": 0}, {"inputResponses": "x"}, {"arguments": []}):
        response, answer = client.call(tool, {}, mistyped)
        assert error_code(answer) == INVALID_PARAMS, (mistyped, response.status_code, response.text)
    # Nor does a mistyped call of an allowed tool reach its server.
    allowed = f"{PROBE}__wait" if aggregated else "wait"
    _response, answer = client.call(allowed, {"ms": 0}, {"requestState": 7})
    assert error_code(answer) == INVALID_PARAMS, answer
    assert "destroy" not in setup.ran_tools()
    print(f"{url} ({client.version}): denied {tool} refused -32010; mistyped params refused -32602, never relayed")


# 2. A session id is not a credential.


@pytest.mark.parametrize("aggregated", [False, True], ids=["direct", "aggregate"])
def test_another_clients_session_is_unknown(setup: Setup, http, aggregated: bool) -> None:
    gateway = setup.gateway
    url = gateway.url(None if aggregated else EV_STDIO)
    alice = Era(http, url, setup.tokens["alice"], modern=False).open()
    session = alice.session
    assert session
    bob = raw.headers(setup.tokens["bob"], session)
    marker = f"stolen-{uuid.uuid4().hex[:8]}"
    name = f"{EV_STDIO}__echo" if aggregated else "echo"
    stolen_call = {
        "jsonrpc": "2.0",
        "id": 10,
        "method": "tools/call",
        "params": {"name": name, "arguments": {"message": marker}},
    }
    attempts = {
        "GET stream": http.get(url, headers={**bob, "Accept": "text/event-stream"}),
        "posted answer": http.post(
            url, json={"jsonrpc": "2.0", "id": "switchboard-ask-1", "result": {"roots": []}}, headers=bob
        ),
        "cancel": http.post(
            url,
            json={"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
            headers=bob,
        ),
        "request": http.post(url, json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"}, headers=bob),
        "call": http.post(url, json=stolen_call, headers=bob),
        "DELETE": http.delete(url, headers=bob),
    }
    # The same client through the other endpoint has no business with it either.
    other = gateway.url(EV_STDIO if aggregated else None)
    attempts["other endpoint"] = http.post(
        other,
        json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
        headers=raw.headers(setup.tokens["alice"], session),
    )
    for what, response in attempts.items():
        assert response.status_code == 404, (what, response.status_code, response.text)
    _response, answer = alice.call(name, {"message": "still mine"})
    assert answer and answer["result"]["content"][0]["text"] == "Echo: still mine", answer
    # Bob's attempt is in the audit log as his refused call, not in alice's session.
    (row,) = wait_records(gateway, "bob", marker)
    assert (row["status"], row["error_code"]) == ("error", -32001), row
    assert row.get("session") != session, row
    assert not records(gateway, "alice", marker)
    print(f"{url}: {len(attempts)} uses of alice's session by bob or another endpoint were 404; alice's session works")


def test_a_guessed_server_name_is_refused_and_recorded(setup: Setup, http) -> None:
    gateway = setup.gateway
    marker = f"guess-{uuid.uuid4().hex[:8]}"
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": marker}}}
    guessed = http.post(gateway.url("no-such-server"), json=call, headers=raw.headers(setup.tokens["bob"]))
    assert guessed.status_code == 404, guessed.text
    assert guessed.json()["error"]["code"] == -32002, guessed.text
    # The same guess as a qualified name on /mcp is bad params, and recorded too.
    client = Era(http, gateway.url(None), setup.tokens["bob"], modern=False).open()
    _response, answer = client.call("no-such-server__echo", {"message": marker})
    assert error_code(answer) == INVALID_PARAMS, answer
    assert answer["error"]["message"] == '"no-such-server__echo": no enabled server named "no-such-server"', answer
    rows = wait_records(gateway, "bob", marker, count=2)
    assert sorted(row["error_code"] for row in rows) == [INVALID_PARAMS, -32002], rows
    assert all(row["status"] == "error" for row in rows), rows
    print(f"a guessed server name: 404 -32002 on its endpoint, -32602 on /mcp; {len(rows)} records of bob's refused calls")


# 3. A server's request reaches only the client whose call it belongs to.


async def test_a_server_request_never_reaches_another_client(setup: Setup) -> None:
    url = setup.gateway.url(PROBE)
    asked: dict[str, int] = {"alice": 0, "bob": 0}

    def sampler(who: str):
        async def sample(_context, params: types.CreateMessageRequestParams):
            asked[who] += 1
            return types.CreateMessageResult(
                role="assistant", content=types.TextContent(type="text", text=f"from {who}"), model="m"
            )

        return sample

    async with (
        connect(url, setup.tokens["alice"], mode="legacy", sampling_callback=sampler("alice")) as alice,
        connect(url, setup.tokens["bob"], mode="legacy", sampling_callback=sampler("bob")) as bob,
    ):
        # Alone, alice's call is the only one in flight: the server's request is hers.
        alone = await alice.call_tool("sample", {"after_ms": 0})
        assert text_of(alone) == "LLM response: from alice", text_of(alone)
        # With bob's call in flight on the same stdio pipe, nobody can tell whose it is.
        async with anyio.create_task_group() as group:
            group.start_soon(bob.call_tool, "wait", {"ms": 2500})
            await anyio.sleep(0.5)
            both = await alice.call_tool("sample", {"after_ms": 200})
        assert asked == {"alice": 1, "bob": 0}, asked
        assert text_of(both).startswith("Sampling failed"), text_of(both)
    print(f"sampling with one client in flight went to it; with two, it was refused: {text_of(both)!r}")


# 4. A tool the gateway has not seen listed is decided by its definition, never by a default.


def test_a_call_during_start_waits_for_the_list(make_gateway, session_dir: Path, http) -> None:
    ran = session_dir / f"probe-slow-{uuid.uuid4().hex[:6]}" / "ran.txt"

    def configure(switchboard) -> None:
        switchboard.add_stdio("slow", paths.PROBE_SERVER, "--stdio", "--start-delay-ms", "3000", "--ran", str(ran))
        switchboard.allow_write("slow", ran.parent)
        switchboard.cli("settings", "set", "policy.destructive", "deny")

    gateway = make_gateway("gateway-slow-start", configure, ready=[])
    assert gateway.server("slow")["status"]["state"] == "starting"
    client = Era(http, gateway.url("slow"), gateway.token, modern=True)
    started = time.monotonic()
    response, answer = client.call("destroy", {})
    waited = time.monotonic() - started
    assert error_code(answer) == POLICY_DENIED, (response.status_code, response.text)
    assert "destructive" in answer["error"]["message"], answer
    _response, unlisted = client.call("unlisted", {})
    result = (unlisted or {}).get("result", {})
    assert result.get("isError") is True and "unknown tool" in result["content"][0]["text"], unlisted
    _response, listed = client.call("wait", {"ms": 0})
    assert listed and "result" in listed, listed
    ran_tools = ran.read_text().split() if ran.exists() else []
    assert ran_tools == ["wait"], ran_tools
    gateway.stop()
    print(f"destroy during start waited {waited:.1f} s for the list, then was denied by its annotations; unlisted refused")


# 5. Notifications reach only sessions that can see the server.


async def test_log_messages_stay_within_profiles(setup: Setup) -> None:
    gateway = setup.gateway
    heard: dict[str, list[Any]] = {"alice": [], "dave": []}

    def logger(who: str):
        async def log(params: types.LoggingMessageNotificationParams) -> None:
            heard[who].append(params.data)

        return log

    marker = f"probe-log-{uuid.uuid4().hex[:8]}"
    async with (
        connect(gateway.url(), setup.tokens["alice"], mode="legacy", logging_callback=logger("alice")) as alice,
        connect(gateway.url(), setup.tokens["dave"], mode="legacy", logging_callback=logger("dave")) as dave,
    ):
        tools = {tool.name for tool in (await dave.list_tools()).tools}
        assert f"{PROBE}__log" not in tools, "the profile hides the server's tools"
        await alice.call_tool(f"{PROBE}__log", {"message": marker})
        with anyio.fail_after(10):
            while marker not in heard["alice"]:
                await anyio.sleep(0.05)
        await anyio.sleep(1.0)
    assert marker not in heard["dave"], heard["dave"]
    print(f"alice heard the probe's log message; dave (profile without it) heard {len(heard['dave'])} messages, none of it")


# 6. Tasks belong to the client that created them.


def test_tasks_belong_to_their_creator(setup: Setup, http) -> None:
    url = setup.gateway.url(FIXTURE)
    tasks = {"extensions": {"io.modelcontextprotocol/tasks": {}}}
    alice = Era(http, url, setup.tokens["alice"], modern=True, capabilities=tasks)
    bob = Era(http, url, setup.tokens["bob"], modern=True, capabilities=tasks)
    _response, created = alice.call("test_tool_with_task", {})
    result = (created or {}).get("result", {})
    assert result.get("resultType") == "task", created
    task = result["taskId"]
    _response, own = alice.request("tasks/get", {"taskId": task}, name=task)
    assert own and "result" in own, own
    for method in ("tasks/get", "tasks/cancel", "tasks/update"):
        params: dict[str, Any] = {"taskId": task}
        if method == "tasks/update":
            params["inputResponses"] = {}
        _response, stolen = bob.request(method, params, name=task)
        assert error_code(stolen) == INVALID_PARAMS and "unknown task" in stolen["error"]["message"], (method, stolen)
    _response, guessed = alice.request("tasks/get", {"taskId": "guessed"}, name="guessed")
    assert error_code(guessed) == INVALID_PARAMS, guessed
    print(f"alice's task {task} was hers; bob's tasks/get, cancel and update were refused as unknown")


# 7. The same call down every route.

ROUTES = [
    (server, aggregated, modern)
    for server in (EV_STDIO, EV_HTTP, EV_SSE)
    for aggregated in (False, True)
    for modern in (False, True)
]


def route_id(route: tuple[str, bool, bool]) -> str:
    server, aggregated, modern = route
    return f"{server}-{'aggregate' if aggregated else 'direct'}-{'stateless' if modern else 'session'}"


def records(gateway: Gateway, client: str, text: str) -> list[dict[str, Any]]:
    found = gateway.cli("logs", "--json", "--client", client, "--method", "tools/call", "--limit", "500").stdout
    rows = [json.loads(line) for line in found.splitlines() if line.strip()]
    return [row for row in rows if json.dumps(row.get("request")).count(text) and text + "-" not in json.dumps(row.get("request"))]


def wait_records(gateway: Gateway, client: str, text: str, count: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        found = records(gateway, client, text)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


KEPT = ("client", "server", "method", "name", "status", "decision", "rule", "error_code", "direction")


@pytest.fixture(scope="module")
def route_outcomes(setup: Setup) -> dict[str, dict[str, Any]]:
    """Runs each route once: an allowed call, a denied one, one past a rate limit, a cancel."""
    gateway = setup.gateway
    outcomes: dict[str, dict[str, Any]] = {}
    gateway.cli("settings", "set", "ratelimit.client", "3")
    try:
        for route in ROUTES:
            outcomes[route_id(route)] = run_route(setup, *route)
    finally:
        gateway.cli("settings", "set", "ratelimit.client", "off")
    return outcomes


def run_route(setup: Setup, server: str, aggregated: bool, modern: bool) -> dict[str, Any]:
    gateway = setup.gateway
    url = gateway.url(None if aggregated else server)
    tool = f"{server}__echo" if aggregated else "echo"
    slow = f"{server}__trigger-long-running-operation" if aggregated else "trigger-long-running-operation"
    # A fresh client per route: its own rate budget, its own rule.
    who = f"route-{uuid.uuid4().hex[:8]}"
    token = gateway.add_client(who)
    gateway.cli("tools", "set", server, "get-sum", "deny", "--client", who)
    denied_tool = f"{server}__get-sum" if aggregated else "get-sum"
    out: dict[str, Any] = {"client": who}
    with httpx2.Client(timeout=60) as http:
        client = Era(http, url, token, modern).open()
        wait_hidden(client, denied_tool)
        marker = f"route-{uuid.uuid4().hex}"
        _response, allowed = client.call(tool, {"message": marker})
        out["allowed"] = allowed
        out["allowed_record"] = wait_records(gateway, who, marker)
        _response, denied = client.call(denied_tool, {"a": 1, "b": 2})
        out["denied"] = error_code(denied)
        out["cancel"] = cancel_one(client, slow, marker)
        out["cancel_record"] = wait_records(gateway, who, f"{marker}-slow")
        # The budget is 3 calls: the allowed one and the cancelled one ran, so
        # one more passes; refusals and denials spent nothing.
        answers = [client.call(tool, {"message": f"{marker}-{n}"})[1] for n in range(3)]
        out["budget"] = [error_code(a) for a in answers]
    return out


def wait_hidden(client: Era, tool: str) -> None:
    """Waits until the gateway has picked up a rule denying `tool` (it leaves the list)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        _response, listed = client.request("tools/list", {})
        names = {t["name"] for t in ((listed or {}).get("result") or {}).get("tools", [])}
        if names and tool not in names:
            return
        time.sleep(0.1)
    raise AssertionError(f"the rule denying {tool} did not take effect")


def cancel_one(client: Era, slow: str, marker: str) -> int | None:
    """Starts a long call and cancels it: by notification on a session, by closing the request
    statelessly. Returns the error code the client got (None: the request was closed)."""
    result: dict[str, Any] = {}
    body = client.body(
        "tools/call",
        {"name": slow, "arguments": {"duration": 5, "steps": 5, "tag": f"{marker}-slow"},
         "_meta": {"progressToken": f"{marker}-p"}},
        4242,
    )  # fmt: skip
    headers = client.headers("tools/call", slow)
    progress = threading.Event()

    def run() -> None:
        with client.http.stream("POST", client.url, json=body, headers=headers) as response:
            buffer = ""
            for chunk in response.iter_text():
                buffer += chunk
                if "notifications/progress" in buffer:
                    progress.set()
                    if client.modern:
                        return  # closing the request is a 2026-07-28 client's cancel
                for message in raw.messages_from_sse_text(buffer):
                    if message.get("id") == 4242:
                        result["answer"] = message
                        return

    worker = threading.Thread(target=run)
    worker.start()
    assert progress.wait(20), "no progress before the cancel"
    if not client.modern:
        client.http.post(
            client.url,
            json={"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4242}},
            headers=client.headers("notifications/cancelled"),
        )
    worker.join(20)
    return error_code(result.get("answer"))


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
def test_the_same_call_down_every_route(route_outcomes, route) -> None:
    out = route_outcomes[route_id(route)]
    server = route[0]
    assert out["allowed"] and "result" in out["allowed"], out["allowed"]
    assert out["denied"] == POLICY_DENIED, out
    # Three calls in the budget ran, the ones past it were refused, nothing spent twice.
    assert out["budget"] == [None, RATE_LIMITED, RATE_LIMITED], out["budget"]
    if not route[2]:
        assert out["cancel"] == CANCELLED, out["cancel"]
    (record,) = out["allowed_record"]
    reference = {
        "client": out["client"],
        "server": server,
        "method": "tools/call",
        "name": "echo",
        "status": "ok",
        "decision": "allowed",
        "direction": "client_to_server",
    }
    assert {k: record.get(k) for k in reference} == reference, record
    assert record.get("protocol_version") == ("2026-07-28" if route[2] else "2025-11-25"), record
    (cancelled,) = out["cancel_record"]
    assert cancelled["status"] == "cancelled", cancelled


def test_every_route_leaves_the_same_record(route_outcomes) -> None:
    """Across routes and eras only the client (one per route) and the version differ."""
    shapes = {}
    for key, out in route_outcomes.items():
        (record,) = out["allowed_record"]
        shape = {k: record.get(k) for k in KEPT if k not in ("client", "server")}
        shape["rule"] = (shape["rule"] or "").replace(record["server"], "SERVER")
        shapes[key] = json.dumps(shape, sort_keys=True)
    assert len(set(shapes.values())) == 1, json.dumps(shapes, indent=1)
    print(f"{len(shapes)} routes, one record shape: {next(iter(shapes.values()))}")


# 8. The person approving a call sees its exact arguments; the record stays masked.


def test_approvals_show_the_exact_arguments(setup: Setup, http) -> None:
    gateway = setup.gateway
    secret = f"sk-live-{uuid.uuid4().hex}"
    client = Era(http, gateway.url(PROBE), setup.tokens["carol"], modern=True)
    outcome: dict[str, Any] = {}

    def call() -> None:
        outcome["answer"] = client.call("wait", {"ms": 0, "api_key": secret})[1]

    worker = threading.Thread(target=call)
    worker.start()
    deadline = time.monotonic() + 20
    pending: list[dict[str, Any]] = []
    while not pending and time.monotonic() < deadline:
        listed = httpx2.post(
            f"{gateway.origin}/api/rpc",
            headers={"authorization": f"Bearer {gateway.control_token}", "x-switchboard": "1"},
            json={"method": "approvals_list", "params": {"pending_only": True}},
            timeout=30,
        ).json()
        pending = [a for a in listed if a["tool"] == "wait" and a["client"] == "carol"]
        time.sleep(0.1)
    assert pending, "the call never waited for approval"
    (approval,) = pending
    assert secret in (approval["exact_arguments"] or ""), approval
    assert secret not in (approval["arguments"] or ""), approval
    gateway.cli("approvals", "approve", str(approval["id"]))
    worker.join(20)
    assert outcome.get("answer") and "result" in outcome["answer"], outcome
    stored = gateway.cli("logs", "--json", "--client", "carol", "--tool", "wait", "--limit", "5").stdout
    assert secret not in stored and "wait" in stored, stored[-500:]
    print("the panel saw the exact arguments; the store and the audit log kept them masked")
