"""The OAuth peers of the sign-in tests and what the tests do with them.

- npm oidc-provider (tests/oauth/provider.mjs): the authorization server, with dynamic
  registration, introspection and revocation;
- the protected servers that check its tokens by introspection: `protected-server` (rmcp,
  streamable HTTP) and `protected_sse_server.py` (the Python SDK, legacy HTTP+SSE);
- `switchboard auth login` with system Chromium (tests/oauth/consent.mjs) signing in and
  consenting.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path

from . import paths
from .gateway import Gateway
from .procs import Proc, run

PROVIDER = paths.TESTS / "oauth" / "provider.mjs"
CONSENT = paths.TESTS / "oauth" / "consent.mjs"
PROTECTED_SSE_SERVER = paths.HELPERS / "protected_sse_server.py"
RESOURCE_CLIENT = ("mcp-resource", "resource-secret-e2e")


def start_provider(name: str, ttl: int, env: dict[str, str], log_dir: Path) -> tuple[Proc, str]:
    """oidc-provider whose access tokens live `ttl` s: (process, issuer)."""
    provider = Proc(
        f"oidc-provider-{name}",
        [paths.NODE, PROVIDER, "--access-token-ttl", str(ttl), "--resource-client", ":".join(RESOURCE_CLIENT)],
        env=env,
        log_dir=log_dir,
    )
    return provider, provider.wait_for(r"^issuer (\S+)", 30, stream="out").group(1)


def start_protected(name: str, issuer: str, env: dict[str, str], log_dir: Path, *, sse: bool = False) -> tuple[Proc, str]:
    """A protected MCP server trusting `issuer`: (process, its URL)."""
    program = [paths.PYTHON, PROTECTED_SSE_SERVER] if sse else [paths.PROTECTED_SERVER]
    server = Proc(
        f"protected-{'sse-' if sse else ''}{name}",
        [
            *program, "--issuer", issuer,
            "--introspection", f"{issuer}/token/introspection",
            "--client-id", RESOURCE_CLIENT[0], "--client-secret", RESOURCE_CLIENT[1],
        ],  # fmt: skip
        env=env,
        log_dir=log_dir,
    )
    return server, server.wait_for(r"listening on (\S+)", 30, stream="out").group(1)


def sign_in(gateway: Gateway, server: str, env: dict[str, str], log_dir: Path, name: str, *extra: str) -> str:
    """`switchboard auth login SERVER` with the browser consenting; the redirect URI it used."""
    login = Proc(name, gateway.argv("auth", "login", server, "--no-browser", *extra), env=env, log_dir=log_dir)
    authorization_url = login.wait_for(r"^\s+(http://\S+)$", 60, stream="out").group(1)
    consent = run([paths.NODE, CONSENT, authorization_url], env=env, timeout=120)
    assert consent.returncode == 0, consent.stdout + consent.stderr
    assert login.wait(60) == 0, "\n".join(login.lines())
    query = urllib.parse.parse_qs(urllib.parse.urlparse(authorization_url).query)
    return query["redirect_uri"][0]


def registrations(provider: Proc) -> int:
    """How many clients registered dynamically at the provider so far."""
    return sum(1 for line in provider.lines("out") if re.match(r"^registered \S+", line))


def file_grant(gateway: Gateway) -> dict:
    """The server's registration and tokens in the file secret store."""
    stored = json.loads((gateway.data_dir / "secrets.json").read_text())
    grants = [json.loads(v) for k, v in stored.items() if "/oauth:" in k]
    assert len(grants) == 1, f"expected one OAuth entry, got {len(grants)}"
    return grants[0]


def tokens_of(grant: dict) -> tuple[str, str]:
    response = grant["credentials"]["token_response"]
    return response["access_token"], response["refresh_token"]


def introspect(issuer: str, token: str) -> dict:
    """RFC 7662 introspection of `token`, as the protected servers do it."""
    basic = base64.b64encode(":".join(RESOURCE_CLIENT).encode()).decode()
    request = urllib.request.Request(
        f"{issuer}/token/introspection",
        data=urllib.parse.urlencode({"token": token}).encode(),
        headers={"Authorization": f"Basic {basic}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def revoke_at_provider(issuer: str, refresh_token: str, client_id: str) -> None:
    """What an administrator (or the user at the provider) does: revoke the refresh token."""
    form = urllib.parse.urlencode(
        {"token": refresh_token, "token_type_hint": "refresh_token", "client_id": client_id}
    ).encode()
    with urllib.request.urlopen(f"{issuer}/token/revocation", data=form, timeout=30) as answer:
        assert answer.status == 200
