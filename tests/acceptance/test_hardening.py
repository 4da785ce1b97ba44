"""Hardening, tried as an attacker would, against the real gateway.

- A server that redirects to another origin does not get the gateway there: the configured
  secret header never reaches the other listener, and the server's error says why.
- `clients import` names each environment variable it would expand into a remote server's
  URL or headers, and imports such servers only with `--allow-env`.
- Removing a client removes its permissions: a new client of the same name starts clean.
- OAuth endpoints must be https (loopback excepted): a sign-in whose authorization server is
  plain http elsewhere fails at once, saying so.
- Per-client ceilings: sessions (the least recently used one ends), open streams (429),
  calls waiting for approval (-32029); another client is not affected.
- Browser sign-ins are capped: the oldest cookie stops working.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from conftest import EV_STDIO, add_everything_stdio
from helpers import paths, raw
from helpers.gateway import Gateway, Switchboard
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc
from test_policy import acli, approvals

SESSIONS_PER_CLIENT = 64
STREAMS_PER_CLIENT = 16
APPROVALS_PER_CLIENT = 32
MAX_WEB_SESSIONS = 16
RATE_LIMITED = -32029


# Redirects.


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_to_another_origin_is_not_followed(make_gateway) -> None:
    seen: list[dict[str, str]] = []
    asked: list[dict[str, str]] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            seen.append(dict(self.headers))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    with http_server(Elsewhere) as elsewhere:
        target = f"http://127.0.0.1:{elsewhere.server_address[1]}/mcp"

        class Mover(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                asked.append(dict(self.headers))
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(307)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        with http_server(Mover) as mover:
            url = f"http://127.0.0.1:{mover.server_address[1]}/mcp"

            def configure(switchboard: Switchboard) -> None:
                switchboard.cli("servers", "add", "mover", "--url", url, "--header", "X-Tenant=acme-4711")

            gateway = make_gateway("gateway-hardening-redirect", configure)
            status = gateway.wait_until("mover", "failed", timeout=30)["status"]
    assert asked and asked[0].get("x-tenant") == "acme-4711", f"the server itself gets its header: {asked}"
    assert seen == [], f"the other origin got the gateway's request: {seen}"
    error = status.get("error") or ""
    assert "redirect" in error and "another origin" in error, status
    assert "acme-4711" not in error


# Import and the environment.


def test_import_names_what_it_takes_from_the_environment(make_gateway, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".cursor").mkdir(parents=True)
    config = {
        "mcpServers": {
            "remote": {
                "url": "https://mcp.example.com/${env:TENANT}/mcp",
                "headers": {"Authorization": "Bearer ${env:CANARY_API_TOKEN}"},
            }
        }
    }
    (home / ".cursor" / "mcp.json").write_text(json.dumps(config))
    env = {
        "SWITCHBOARD_HOME_OVERRIDE": str(home),
        "SWITCHBOARD_SECRET_STORE": "file",
        "CANARY_API_TOKEN": "canary-7f3a",
        "TENANT": "acme",
    }
    gateway = make_gateway("gateway-hardening-import", lambda switchboard: None)

    dry = gateway.cli("clients", "import", "cursor", "--dry-run", env=env)
    assert "${CANARY_API_TOKEN} into the header Authorization" in dry.stdout, dry.describe()
    assert "${TENANT} into the URL" in dry.stdout, dry.describe()
    assert "canary-7f3a" not in dry.stdout, "the value is named, not shown"
    plan = gateway.cli("clients", "import", "cursor", "--dry-run", "--json", env=env).json()
    uses = plan["servers"][0]["candidate"]["from_env"]
    assert {"variable": "CANARY_API_TOKEN", "into": "header Authorization"} in uses, uses

    refused = gateway.cli("clients", "import", "cursor", env=env, check=False)
    assert refused.returncode != 0, refused.describe()
    assert "CANARY_API_TOKEN" in refused.stderr and "--allow-env" in refused.stderr, refused.describe()
    assert gateway.servers() == [], "nothing is imported without --allow-env"

    done = gateway.cli("clients", "import", "cursor", "--allow-env", env=env)
    assert "1 added" in done.stdout, done.describe()
    remote = gateway.server("remote")
    assert remote["transport"]["url"] == "https://mcp.example.com/acme/mcp", remote


# Removing a client.


@pytest.mark.anyio
async def test_a_new_client_of_a_removed_name_starts_clean(make_gateway) -> None:
    def configure(switchboard: Switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_client("bob")
        switchboard.cli("tools", "set", EV_STDIO, "echo", "deny", "--client", "bob")

    gateway = make_gateway("gateway-hardening-remove", configure, ready=[EV_STDIO])

    def rules() -> str:
        response = httpx2.post(
            f"{gateway.origin}/api/rpc",
            json={"method": "rules_list", "params": None},
            headers={"authorization": f"Bearer {gateway.control_token}", "x-switchboard": "1"},
            timeout=30.0,
        )
        assert response.status_code == 200, (response.status_code, response.text)
        return response.text

    assert "bob" in await anyio.to_thread.run_sync(rules)
    await acli(gateway, "clients", "remove", "bob")
    assert "bob" not in await anyio.to_thread.run_sync(rules)

    token = await anyio.to_thread.run_sync(lambda: gateway.add_client("bob"))
    with anyio.fail_after(60):
        async with connect(gateway.url(), token) as bob:
            for _ in range(50):
                tools = await bob.list_tools(cache_mode="bypass")
                if any(t.name == f"{EV_STDIO}__echo" for t in tools.tools):
                    break
                await anyio.sleep(0.1)
            result = await bob.call_tool(f"{EV_STDIO}__echo", {"message": "clean"})
            assert "clean" in text_of(result), result


# OAuth over plain http.


def test_oauth_endpoints_must_be_https(make_gateway, sandbox_env, log_dir) -> None:
    issuer = "http://auth.example.test"
    protected = Proc(
        "protected-server-http-issuer",
        [
            paths.PROTECTED_SERVER, "--issuer", issuer,
            "--introspection", f"{issuer}/token/introspection",
            "--client-id", "resource", "--client-secret", "resource-secret",
        ],  # fmt: skip
        env=sandbox_env,
        log_dir=log_dir,
    )
    try:
        url = protected.wait_for(r"listening on (\S+)", 30, stream="out").group(1)
        gateway = make_gateway("gateway-hardening-oauth", lambda switchboard: switchboard.add_http("plain", url))
        gateway.wait_until("plain", "needs_sign_in", timeout=30)
        login = gateway.cli("auth", "login", "plain", "--no-browser", check=False)
        assert login.returncode != 0, login.describe()
        said = login.stdout + login.stderr
        assert "https" in said and "auth.example.test" in said, login.describe()
    finally:
        protected.stop()


# Ceilings per client.


async def initialize(http: httpx2.AsyncClient, url: str, token: str) -> str:
    response = await http.post(url, json=raw.initialize_request(), headers=raw.headers(token))
    assert response.status_code == 200, (response.status_code, response.text)
    return response.headers["mcp-session-id"]


@pytest.mark.anyio
async def test_sessions_and_streams_have_a_ceiling_per_client(make_gateway) -> None:
    def configure(switchboard: Switchboard) -> None:
        add_everything_stdio(switchboard)

    tokens: dict[str, str] = {}

    def with_bob(switchboard: Switchboard) -> None:
        configure(switchboard)
        tokens["bob"] = switchboard.add_client("bob")

    gateway = make_gateway("gateway-hardening-caps", with_bob, ready=[EV_STDIO])
    url, token = gateway.url(), gateway.token
    timeout = httpx2.Timeout(30.0, read=300.0)
    limits = httpx2.Limits(max_connections=200)
    async with httpx2.AsyncClient(timeout=timeout, limits=limits) as http:
        sessions = [await initialize(http, url, token) for _ in range(SESSIONS_PER_CLIENT)]
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        for sid in sessions[1:]:
            # Each one is used after the first: the first is the least recently used.
            assert (await http.post(url, json=ping, headers=raw.headers(token, sid))).status_code == 200
        newest = await initialize(http, url, token)
        gone = await http.post(url, json=ping, headers=raw.headers(token, sessions[0]))
        assert gone.status_code == 404, (gone.status_code, gone.text)
        assert (await http.post(url, json=ping, headers=raw.headers(token, newest))).status_code == 200
        assert (await http.post(url, json=ping, headers=raw.headers(token, sessions[1]))).status_code == 200

        get = {"Accept": "text/event-stream"}
        async with AsyncExitStack() as streams:
            for sid in sessions[1 : 1 + STREAMS_PER_CLIENT]:
                opened = await streams.enter_async_context(
                    http.stream("GET", url, headers={**raw.headers(token, sid), **get})
                )
                assert opened.status_code == 200, opened.status_code
            extra = sessions[1 + STREAMS_PER_CLIENT]
            refused = await http.get(url, headers={**raw.headers(token, extra), **get})
            assert refused.status_code == 429, (refused.status_code, refused.text)
            assert "open streams" in refused.text, refused.text
            # Another client is not counted against this one.
            bob = await initialize(http, url, tokens["bob"])
            async with http.stream("GET", url, headers={**raw.headers(tokens["bob"], bob), **get}) as theirs:
                assert theirs.status_code == 200
        # Closed streams give their places back.
        status = 429
        for _ in range(50):
            async with http.stream("GET", url, headers={**raw.headers(token, extra), **get}) as again:
                status = again.status_code
            if status != 429:
                break
            await anyio.sleep(0.1)
        assert status == 200, f"closed streams still count: {status}"


@pytest.mark.anyio
async def test_calls_waiting_for_approval_have_a_ceiling_per_client(make_gateway) -> None:
    def configure(switchboard: Switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.cli("tools", "set", EV_STDIO, "echo", "ask")
        switchboard.cli("settings", "set", "policy.approval_timeout_secs", "120")

    gateway = make_gateway("gateway-hardening-approvals", configure, ready=[EV_STDIO])
    url, token = gateway.url(), gateway.token
    limits = httpx2.Limits(max_connections=200)
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=300.0), limits=limits) as http:
        sid = await initialize(http, url, token)
        answers: dict[int, dict[str, Any]] = {}

        async def call(n: int) -> None:
            request = {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": f"{EV_STDIO}__echo", "arguments": {"message": f"wait-{n}"}},
            }
            response = await http.post(url, json=request, headers=raw.headers(token, sid))
            answers[n] = raw.response_to(response, n)

        with anyio.fail_after(180):
            async with anyio.create_task_group() as group:
                for n in range(APPROVALS_PER_CLIENT):
                    group.start_soon(call, n)
                while len(await anyio.to_thread.run_sync(lambda: approvals(gateway))) < APPROVALS_PER_CLIENT:
                    await anyio.sleep(0.2)
                await call(1000)
                over = answers[1000]
                assert over.get("error", {}).get("code") == RATE_LIMITED, over
                assert "calls waiting for approval" in over["error"]["message"], over
                pending = await anyio.to_thread.run_sync(lambda: approvals(gateway))
                assert len(pending) == APPROVALS_PER_CLIENT, len(pending)
                for row in pending:
                    await acli(gateway, "approvals", "deny", str(row["id"]))
    assert all("error" in answers[n] for n in range(APPROVALS_PER_CLIENT)), "denied calls fail"


# Browser sign-ins.


def test_browser_sign_ins_are_capped(make_gateway) -> None:
    gateway = make_gateway("gateway-hardening-web", lambda switchboard: None)
    origin = gateway.origin
    cookies: list[str] = []
    with httpx2.Client(timeout=30.0) as http:
        for _ in range(MAX_WEB_SESSIONS + 1):
            login = http.post(
                f"{origin}/api/login", json={"code": gateway.control_token}, headers={"Origin": origin}
            )
            assert login.status_code == 204, (login.status_code, login.text)
            cookies.append(login.headers["set-cookie"].split(";", 1)[0])
            http.cookies.clear()

        def rpc(cookie: str) -> int:
            response = http.post(
                f"{origin}/api/rpc",
                json={"method": "settings_get", "params": None},
                headers={"Cookie": cookie, "Origin": origin, "x-switchboard": "1"},
            )
            return response.status_code

        assert rpc(cookies[0]) == 401, "the oldest sign-in ended"
        assert rpc(cookies[1]) == 200
        assert rpc(cookies[-1]) == 200
