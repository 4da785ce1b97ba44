"""OAuth end to end, with a real authorization server, a real browser and a real keyring.

- npm oidc-provider (tests/oauth/provider.mjs): dynamic registration, PKCE, resource indicators,
  rotating refresh tokens, introspection, revocation, its own login and consent pages;
- protected-server (tests/fixtures, on rmcp): an MCP server that publishes protected resource
  metadata and checks every token by introspection (active, audience = its own URL);
- a gateway whose secret store is a real Secret Service (gnome-keyring under a private D-Bus);
- `switchboard auth login`, with system Chromium (tests/oauth/consent.mjs) signing in and consenting.

A client then calls the protected tool through the gateway. Access tokens live 10 s, less than
the margin the connector refreshes ahead of expiry, so every upstream request refreshes first:
the client never sees it. Revoking the refresh token at the authorization server turns the server
to "needs sign-in", and the client's next call gets an error naming the server.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import anyio
import pytest

from helpers import oauth_peers, paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc, run

pytestmark = pytest.mark.timeout(300)

SERVER = "protected"
CONSENT = oauth_peers.CONSENT

# Reads every Switchboard entry back from the Secret Service (as JSON: attributes and secret).
READ_KEYRING = r"""
import json, secretstorage
conn = secretstorage.dbus_init()
items = secretstorage.search_items(conn, {"service": "switchboard"})
out = []
for item in items:
    if item.is_locked():
        item.unlock()
    out.append({"attributes": item.get_attributes(), "secret": item.get_secret().decode()})
print(json.dumps(out))
"""


def read_keyring(env: dict[str, str]) -> list[dict]:
    done = run([paths.PYTHON, "-c", READ_KEYRING], env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def oauth_grant(env: dict[str, str]) -> dict:
    """The (server, issuer) entry of the protected server: registration and tokens."""
    grants = [
        json.loads(entry["secret"])
        for entry in read_keyring(env)
        if "/oauth:" in json.dumps(entry["attributes"])
    ]
    assert len(grants) == 1, f"expected one OAuth entry, got {len(grants)}"
    return grants[0]


def tokens_of(grant: dict) -> tuple[str, str]:
    response = grant["credentials"]["token_response"]
    return response["access_token"], response["refresh_token"]


async def call_whoami(gateway: Gateway, token: str | None = None) -> tuple[bool, str]:
    async with connect(gateway.url(SERVER), token or gateway.token) as client:
        result = await client.call_tool("whoami", {})
        return bool(result.is_error), text_of(result)


def files_holding(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path} holds a token" for needle in needles if needle in data]
    return found




def test_sign_in_refresh_and_revocation(session_dir: Path, keyring_env, log_dir: Path) -> None:
    env = keyring_env
    provider, issuer, protected, url = start_peers("keyring", 10, env, log_dir)

    gateway = Gateway(session_dir / "gateway-oauth", env, log_dir)
    gateway.add_http(SERVER, url)
    gateway.token = gateway.add_client("e2e")
    gateway.start("gateway-oauth")
    try:
        gateway.proc.wait_for(r"Secrets:\s+OS keyring", 10, stream="out")
        # Without a sign-in the server asks for one; nothing hangs.
        gateway.wait_until(SERVER, "needs_sign_in")
        status = gateway.cli("auth", "status").stdout
        assert re.search(rf"{SERVER}\s+needs sign-in", status), status
        is_error, text = anyio.run(call_whoami_expecting_error, gateway)
        assert is_error and f'server "{SERVER}"' in text and "needs sign-in" in text, text
        assert f"switchboard auth login {SERVER}" in text, text

        # Sign in: the CLI prints the URL; the browser signs in and consents.
        login = Proc("auth-login", gateway.argv("auth", "login", SERVER, "--no-browser"), env=env, log_dir=log_dir)
        authorization_url = login.wait_for(r"^\s+(http://\S+)$", 60, stream="out").group(1)
        assert "code_challenge_method=S256" in authorization_url
        assert "resource=" in authorization_url
        query = urllib.parse.parse_qs(urllib.parse.urlparse(authorization_url).query)
        redirect_uri = query["redirect_uri"][0]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/callback", redirect_uri), redirect_uri
        # A redirect with another state is refused and does not use up the sign-in.
        forged = f"{redirect_uri}?code=forged&state=not-the-state"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(forged, timeout=30)
        assert refused.value.code == 400
        consent = run([paths.NODE, CONSENT, authorization_url], env=env, timeout=120)
        assert consent.returncode == 0, consent.stdout + consent.stderr
        assert login.wait(60) == 0, "\n".join(login.lines())
        assert any("Signed in to protected" in line for line in login.lines("out")), login.lines()
        gateway.wait_until(SERVER, "ready")
        # The sign-in completed once; its listener is gone.
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(forged, timeout=30)

        # The keyring holds the registration and tokens, bound to the issuer.
        grant = oauth_grant(env)
        assert grant["issuer"] == issuer
        first_access, first_refresh = tokens_of(grant)

        # A client calls the protected tool through the gateway, twice; the short-lived token is
        # refreshed in between, unseen by the client.
        for _ in range(2):
            is_error, text = anyio.run(call_whoami, gateway)
            assert not is_error, text
            assert "signed-in user" in text
        # Another client uses the same sign-in; it never signed in itself.
        is_error, text = anyio.run(call_whoami, gateway, gateway.add_client("e2e-other"))
        assert not is_error, text
        access, refresh = tokens_of(oauth_grant(env))
        assert access != first_access and refresh != first_refresh, "the tokens were not refreshed"
        provider_log = "\n".join(provider.lines("out"))
        assert "grant authorization_code" in provider_log
        assert "grant refresh_token" in provider_log
        assert any("token accepted" in line for line in protected.lines("err"))

        detail = gateway.cli("auth", "status", SERVER).stdout
        assert re.search(rf"{SERVER}\s+signed in\s+{re.escape(issuer)}", detail), detail
        assert "token (authorization code): tokens issued" in detail, detail
        assert "token (refresh): tokens issued" in detail, detail

        # No token in the data dir (SQLite, logs, gateway.json) or any log of the session.
        needles = [t.encode() for t in (first_access, first_refresh, access, refresh)]
        leaks = files_holding(gateway.data_dir, needles) + files_holding(log_dir, needles)
        assert not leaks, leaks
        assert not (gateway.data_dir / "secrets.json").exists()

        # Revoke the refresh token at the authorization server.
        _, refresh = tokens_of(oauth_grant(env))
        form = urllib.parse.urlencode(
            {"token": refresh, "token_type_hint": "refresh_token", "client_id": grant["client_id"]}
        ).encode()
        with urllib.request.urlopen(f"{issuer}/token/revocation", data=form, timeout=30) as answer:
            assert answer.status == 200
        provider.wait_for(r"^revoked$", 10, stream="out")

        # The next call cannot refresh: a clear error naming the server, and the server needs sign-in.
        is_error, text = anyio.run(call_whoami_expecting_error, gateway)
        assert is_error, text
        assert f'server "{SERVER}" needs sign-in' in text, text
        gateway.wait_until(SERVER, "needs_sign_in")
        status = gateway.cli("auth", "status").stdout
        assert re.search(rf"{SERVER}\s+needs sign-in", status), status
    finally:
        gateway.stop()
        protected.stop()
        provider.stop()


async def call_whoami_expecting_error(gateway: Gateway) -> tuple[bool, str]:
    """The call after revocation: an MCP error (or an error result), as text."""
    try:
        return await call_whoami(gateway)
    except Exception as error:  # the SDK raises the JSON-RPC error the gateway answered
        return True, str(error)


def test_no_keyring_is_said_at_startup(session_dir: Path, sandbox_env, log_dir: Path) -> None:
    """Without a Secret Service (and no opt-in file), `serve` says so and names the fallback."""
    env = {k: v for k, v in sandbox_env.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "SWITCHBOARD_SECRET_STORE")}
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={session_dir}/no-such-bus"
    gateway = Gateway(session_dir / "gateway-no-keyring", env, log_dir)
    gateway.start("gateway-no-keyring")
    try:
        gateway.proc.wait_for(r"Secrets:\s+NOT AVAILABLE", 10, stream="out")
        gateway.proc.wait_for(r"SWITCHBOARD_SECRET_STORE=file", 10, stream="out")
        gateway.proc.wait_for(r"mode 0600", 10, stream="out")
    finally:
        gateway.stop()




def start_peers(name: str, ttl: int, env: dict[str, str], log_dir: Path) -> tuple[Proc, str, Proc, str]:
    """oidc-provider (access tokens living `ttl` s) and the protected server: (provider, issuer, server, url)."""
    provider, issuer = oauth_peers.start_provider(name, ttl, env, log_dir)
    protected, url = oauth_peers.start_protected(name, issuer, env, log_dir)
    return provider, issuer, protected, url


def test_a_rejected_access_token_is_refreshed_once(session_dir: Path, sandbox_env, log_dir: Path) -> None:
    """Tokens live an hour, so nothing refreshes ahead of expiry. The authorization server drops
    the access token (and only it); the server answers the next call 401 `invalid_token`; the
    gateway refreshes once and retries, and the client gets its answer."""
    env = {**sandbox_env, "SWITCHBOARD_SECRET_STORE": "file"}
    provider, issuer, protected, url = start_peers("long-lived", 3600, env, log_dir)
    gateway = Gateway(session_dir / "gateway-oauth-401", env, log_dir)
    gateway.add_http(SERVER, url)
    gateway.token = gateway.add_client("e2e")
    gateway.start("gateway-oauth-401")
    try:
        gateway.wait_until(SERVER, "needs_sign_in")
        login = Proc("auth-login-401", gateway.argv("auth", "login", SERVER, "--no-browser"), env=env, log_dir=log_dir)
        authorization_url = login.wait_for(r"^\s+(http://\S+)$", 60, stream="out").group(1)
        consent = run([paths.NODE, CONSENT, authorization_url], env=env, timeout=120)
        assert consent.returncode == 0, consent.stdout + consent.stderr
        assert login.wait(60) == 0, "\n".join(login.lines())
        gateway.wait_until(SERVER, "ready")
        is_error, text = anyio.run(call_whoami, gateway)
        assert not is_error, text
        stored = json.loads((gateway.data_dir / "secrets.json").read_text())
        grant = next(json.loads(v) for k, v in stored.items() if "/oauth:" in k)
        access, _ = tokens_of(grant)
        assert "grant refresh_token" not in "\n".join(provider.lines("out"))

        form = urllib.parse.urlencode({"token": access}).encode()
        with urllib.request.urlopen(f"{issuer}/admin/drop-access-token", data=form, timeout=30) as answer:
            assert answer.status == 200

        is_error, text = anyio.run(call_whoami, gateway)
        assert not is_error, text
        provider.wait_for(r"^grant refresh_token$", 10, stream="out")
        assert any("token refused" in line for line in protected.lines("err")), "the server saw the revoked token"
        detail = gateway.cli("auth", "status", SERVER).stdout
        assert "token (refresh): tokens issued" in detail, detail
        assert re.search(rf"{SERVER}\s+signed in", detail), detail
    finally:
        gateway.stop()
        protected.stop()
        provider.stop()
