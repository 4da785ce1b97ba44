"""Sign-in that never fails silently, against a real authorization server (npm oidc-provider).

- Sign-out revokes the tokens at the authorization server (RFC 7009): its introspection says
  they are inactive afterwards; the registration is kept.
- Sign-ins in a row register once (the kept registration, with its redirect port), until
  asked to register anew.
- The debug record of the attempts is there after a restart, without a secret.
- A legacy HTTP+SSE server behind OAuth (the Python SDK's) is signed in to and called.
- A sign-in revoked at the authorization server is found by the refresh ahead of expiry, with
  no call: the server needs sign-in, its tools stay listed as unavailable, a call gets an error
  naming the server and the action, and signing in again restores them with no restart.
"""

from __future__ import annotations

import re
import socket
import time
import urllib.parse
from pathlib import Path

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import pytest

from helpers import oauth_peers
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.oauth_peers import file_grant, introspect, registrations, sign_in, tokens_of
from helpers.procs import Proc

pytestmark = pytest.mark.timeout(300)

SERVER = "protected"


def file_env(sandbox_env: dict[str, str]) -> dict[str, str]:
    return {**sandbox_env, "SWITCHBOARD_SECRET_STORE": "file"}


@contextmanager
def peers_and_gateway(
    name: str, ttl: int, session_dir: Path, env: dict[str, str], log_dir: Path, *, sse: bool = False
) -> Iterator[tuple[Proc, str, Proc, Gateway, str]]:
    """oidc-provider (tokens living `ttl` s), a protected server and a gateway serving it to one
    client, waiting for its first sign-in: (provider, issuer, server, gateway, client token)."""
    provider, issuer = oauth_peers.start_provider(name, ttl, env, log_dir)
    protected, url = oauth_peers.start_protected(name, issuer, env, log_dir, sse=sse)
    gateway = Gateway(session_dir / f"gateway-{name}", env, log_dir)
    try:
        gateway.add_http(SERVER, url, sse=sse)
        token = gateway.add_client("e2e")
        gateway.start(f"gateway-{name}")
        gateway.wait_until(SERVER, "needs_sign_in")
        yield provider, issuer, protected, gateway, token
    finally:
        gateway.stop()
        protected.stop()
        provider.stop()


async def call_whoami(url: str, token: str) -> tuple[bool, str]:
    """One call of the protected tool: (is an error, its text or the error's)."""
    try:
        async with connect(url, token) as client:
            result = await client.call_tool("whoami", {})
            return bool(result.is_error), text_of(result)
    except Exception as error:  # the SDK raises the JSON-RPC error the gateway answered
        return True, str(error)


def hold_port(port: int) -> socket.socket:
    """A listener on `port`, once the sign-in that used it has let it go."""
    deadline = time.monotonic() + 10
    while True:
        held = socket.socket()
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            held.bind(("127.0.0.1", port))
            held.listen()
            return held
        except OSError:
            held.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def assert_signed_in(result: tuple[bool, str]) -> None:
    is_error, text = result
    assert not is_error and "signed-in user" in text, text


async def listed(url: str, token: str) -> dict[str, str]:
    """The tools `/mcp` lists: name -> description."""
    async with connect(url, token) as client:
        tools = (await client.list_tools()).tools
        return {tool.name: tool.description or "" for tool in tools}


async def call_on_mcp(url: str, token: str, name: str) -> str:
    try:
        async with connect(url, token) as client:
            result = await client.call_tool(name, {})
            return ("error: " if result.is_error else "") + text_of(result)
    except Exception as error:
        return f"error: {error}"


def test_sign_out_revokes_and_the_registration_is_kept(session_dir: Path, sandbox_env, log_dir: Path) -> None:
    env = file_env(sandbox_env)
    with peers_and_gateway("signout", 3600, session_dir, env, log_dir) as peers:
        provider, issuer, protected, gateway, token = peers
        first = sign_in(gateway, SERVER, env, log_dir, "login-1")
        gateway.wait_until(SERVER, "ready")
        assert_signed_in(anyio.run(call_whoami, gateway.url(SERVER), token))
        assert registrations(provider) == 1

        # A second sign-in reuses the registration, on the port it registered.
        second = sign_in(gateway, SERVER, env, log_dir, "login-2")
        assert second == first, (first, second)
        assert registrations(provider) == 1, provider.text("out")
        gateway.wait_until(SERVER, "ready")
        grant = file_grant(gateway)
        access, refresh = tokens_of(grant)
        assert introspect(issuer, access)["active"] and introspect(issuer, refresh)["active"]

        # Sign-out revokes both tokens at the authorization server, then forgets them.
        out = gateway.cli("auth", "logout", SERVER).stdout
        assert "Signed out of protected: the authorization server revoked the tokens" in out, out
        assert introspect(issuer, access) == {"active": False}
        assert introspect(issuer, refresh) == {"active": False}
        kept = file_grant(gateway)
        assert kept["credentials"] is None and kept["client_id"] == grant["client_id"]
        gateway.wait_until(SERVER, "needs_sign_in")
        assert re.search(rf"{SERVER}\s+needs sign-in.*signed out", gateway.cli("auth", "status").stdout)

        # Signing in after the sign-out still registers nothing new; --register-anew does.
        sign_in(gateway, SERVER, env, log_dir, "login-3")
        assert registrations(provider) == 1
        sign_in(gateway, SERVER, env, log_dir, "login-4", "--register-anew")
        assert registrations(provider) == 2

        # Someone else holds the registered redirect port: the redirect is never sent there, a
        # new registration gets a port of its own.
        registered = sign_in(gateway, SERVER, env, log_dir, "login-5")
        assert registrations(provider) == 2
        squatter = hold_port(urllib.parse.urlparse(registered).port)
        try:
            moved = sign_in(gateway, SERVER, env, log_dir, "login-6")
        finally:
            squatter.close()
        assert moved != registered and registrations(provider) == 3, (registered, moved)
        gateway.wait_until(SERVER, "ready")
        assert_signed_in(anyio.run(call_whoami, gateway.url(SERVER), token))

        # The debug record is there after a restart, and holds no token.
        gateway.stop()
        gateway.start("gateway-signout-again")
        gateway.wait_until(SERVER, "ready")
        detail = gateway.cli("auth", "status", SERVER).stdout
        assert "(sign-out): signed out: the authorization server revoked the tokens" in detail, detail
        assert "POST " in detail and "revocation" in detail, detail
        assert "reusing the registration of an earlier sign-in" in detail, detail
        assert "dynamic registration (asked to register anew)" in detail, detail
        assert "dynamic registration (the registered redirect port is in use)" in detail, detail
        record = (gateway.data_dir / "oauth-attempts.json").read_bytes()
        access, refresh = tokens_of(file_grant(gateway))
        for secret in (access, refresh, grant["client_secret"] or "no-secret"):
            assert secret.encode() not in record


def test_a_legacy_sse_server_behind_oauth(session_dir: Path, sandbox_env, log_dir: Path) -> None:
    env = file_env(sandbox_env)
    with peers_and_gateway("sse", 60, session_dir, env, log_dir, sse=True) as peers:
        provider, issuer, protected, gateway, token = peers
        is_error, text = anyio.run(call_whoami, gateway.url(SERVER), token)
        assert is_error and 'server "protected" needs sign-in' in text, text
        assert "switchboard auth login protected" in text, text
        sign_in(gateway, SERVER, env, log_dir, "login-sse")
        gateway.wait_until(SERVER, "ready")
        assert_signed_in(anyio.run(call_whoami, gateway.url(SERVER), token))
        assert any("token accepted" in line for line in protected.lines("err"))
        detail = gateway.cli("auth", "status", SERVER).stdout
        assert re.search(rf"{SERVER}\s+signed in\s+{re.escape(issuer)}", detail), detail


def test_a_revoked_sign_in_is_found_ahead_and_its_tools_stay_listed(
    session_dir: Path, sandbox_env, log_dir: Path
) -> None:
    env = file_env(sandbox_env)
    # Access tokens live 10 s: the gateway refreshes them every 5 s, calls or not.
    with peers_and_gateway("revoked", 10, session_dir, env, log_dir) as peers:
        provider, issuer, protected, gateway, token = peers
        sign_in(gateway, SERVER, env, log_dir, "login-revoked")
        gateway.wait_until(SERVER, "ready")
        tools = anyio.run(listed, gateway.url(), token)
        assert "protected__whoami" in tools and not tools["protected__whoami"].startswith("[Unavailable")
        refreshes = lambda: provider.text("out").count("grant refresh_token")  # noqa: E731
        before = refreshes()
        time.sleep(7)
        assert refreshes() > before, "no refresh ahead of expiry without calls"

        grant = file_grant(gateway)
        oauth_peers.revoke_at_provider(issuer, tokens_of(grant)[1], grant["client_id"])
        # Found with no call: the next refresh is refused.
        status = gateway.wait_until(SERVER, "needs_sign_in", timeout=20)["status"]
        assert "rejected the refresh token" in status["error"], status

        tools = anyio.run(listed, gateway.url(), token)
        assert "protected__whoami" in tools, tools
        description = tools["protected__whoami"]
        assert description.startswith('[Unavailable: server "protected" needs sign-in.'), description
        answer = anyio.run(call_on_mcp, gateway.url(), token, "protected__whoami")
        assert answer.startswith("error:") and 'server "protected" needs sign-in' in answer, answer
        assert "switchboard auth login protected" in answer, answer

        # Signing in again brings them back, with no restart.
        pid = gateway.pid
        sign_in(gateway, SERVER, env, log_dir, "login-revoked-again")
        gateway.wait_until(SERVER, "ready")
        assert gateway.pid == pid
        tools = anyio.run(listed, gateway.url(), token)
        assert not tools["protected__whoami"].startswith("[Unavailable"), tools
        answer = anyio.run(call_on_mcp, gateway.url(), token, "protected__whoami")
        assert not answer.startswith("error:") and "signed-in user" in answer, answer
