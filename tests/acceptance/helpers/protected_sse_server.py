"""An MCP server on the Python SDK's legacy HTTP+SSE transport that requires OAuth access tokens.

    python protected_sse_server.py --issuer URL --introspection URL --client-id ID --client-secret SECRET

Speaks only the 2024-11-05 transport (`GET /sse`, which announces `/messages/?session_id=...`).
The SDK's resource-server support guards both: without a valid token they answer 401 with a
`WWW-Authenticate: Bearer ... resource_metadata="..."` challenge, and the RFC 9728 metadata at
`/.well-known/oauth-protected-resource/sse` names the issuer. Each token is checked by RFC 7662
introspection: one that is not active or not issued for this resource (RFC 8707 audience) gets 401,
one without the `mcp` scope 403 `insufficient_scope`. Each check logs `token accepted` or
`token refused` to stderr, never the token.

Binds a free loopback port and prints `listening on http://127.0.0.1:PORT/sse` once it listens.
Tool: `whoami` answers "signed-in user SUBJECT" (the client id when the token has no subject).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from typing import Any

import httpx2
import uvicorn

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

SCOPE = "mcp"


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class IntrospectionVerifier(TokenVerifier):
    """Asks the authorization server about each token (RFC 7662), as its registered client."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, resource: str) -> None:
        self.endpoint = endpoint
        self.auth = httpx2.BasicAuth(client_id, client_secret)
        self.resource = resource

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            async with httpx2.AsyncClient(timeout=10) as http:
                answer = await http.post(self.endpoint, data={"token": token}, auth=self.auth)
            info: dict[str, Any] = answer.json() if answer.status_code == 200 else {}
        except (httpx2.HTTPError, ValueError) as error:
            log(f"token refused: introspection failed ({type(error).__name__})")
            return None
        if info.get("active") is not True:
            log("token refused: not active")
            return None
        audience = info.get("aud")
        if isinstance(audience, list):
            audience = self.resource if self.resource in audience else next(iter(audience), None)
        if not isinstance(audience, str) or audience.removesuffix("/") != self.resource:
            log(f"token refused: issued for {audience}")
            return None
        scopes = str(info.get("scope") or "").split()
        if SCOPE in scopes:
            log(f"token accepted: sub {info.get('sub')}, client {info.get('client_id')}")
        else:
            log(f"token refused: scope {' '.join(scopes) or 'none'}, not {SCOPE}")
        return AccessToken(
            token=token,
            client_id=str(info.get("client_id") or ""),
            scopes=scopes,
            expires_at=info.get("exp"),
            resource=audience,
            subject=info.get("sub"),
            claims={"iss": info["iss"]} if "iss" in info else None,
        )


def build(args: argparse.Namespace, port: int) -> MCPServer:
    resource = f"http://127.0.0.1:{port}/sse"
    app = MCPServer(
        "switchboard-protected-sse-server",
        log_level="WARNING",
        token_verifier=IntrospectionVerifier(args.introspection, args.client_id, args.client_secret, resource),
        auth=AuthSettings(
            issuer_url=args.issuer,
            resource_server_url=resource,
            validate_token_resource=True,
            required_scopes=[SCOPE],
        ),
    )

    @app.tool()
    def whoami() -> str:
        """Says who the token was issued to."""
        token = get_access_token()
        who = (token.subject or token.client_id) if token else "nobody"
        return f"signed-in user {who}"

    return app


async def serve(args: argparse.Namespace) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = build(args, port).sse_app(host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    print(f"listening on http://127.0.0.1:{port}/sse", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description="MCP server on HTTP+SSE that requires OAuth access tokens")
    parser.add_argument("--issuer", required=True, help="the authorization server (issuer URL)")
    parser.add_argument("--introspection", required=True, help="its token introspection endpoint")
    parser.add_argument("--client-id", required=True, help="this resource server's client id there")
    parser.add_argument("--client-secret", required=True, help="its secret")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
