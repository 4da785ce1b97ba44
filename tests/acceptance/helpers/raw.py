"""Raw HTTP to an MCP endpoint, for what an SDK would never send."""

from __future__ import annotations

import json
from typing import Any

import httpx2

ACCEPT = "application/json, text/event-stream"
PROTOCOL_VERSION = "2025-11-25"


def initialize_request(request_id: int | str = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "switchboard-acceptance-raw", "version": "0"},
        },
    }


def headers(token: str | None, session_id: str | None = None, **extra: str) -> dict[str, str]:
    out = {"Accept": ACCEPT, "Content-Type": "application/json"}
    if token is not None:
        out["Authorization"] = f"Bearer {token}"
    if session_id is not None:
        out["Mcp-Session-Id"] = session_id
        out["MCP-Protocol-Version"] = PROTOCOL_VERSION
    out.update(extra)
    return out


def messages_from_sse_text(body: str) -> list[Any]:
    """The JSON-RPC messages of the complete events in an SSE text (a partial last event is left)."""
    found = []
    events = body.replace("\r\n", "\n").split("\n\n")
    for event in events[:-1]:
        data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:"))
        if data.strip():
            found.append(json.loads(data))
    return found


def messages(response: httpx2.Response) -> list[Any]:
    """The JSON-RPC messages of a response, whether a JSON body or an SSE stream."""
    content_type = response.headers.get("content-type", "")
    body = response.text
    if "text/event-stream" in content_type:
        found = []
        for event in body.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip(" ") for line in event.split("\n") if line.startswith("data:"))
            if data.strip():
                found.append(json.loads(data))
        return found
    if body.strip():
        parsed = json.loads(body)
        return parsed if isinstance(parsed, list) else [parsed]
    return []


def response_to(response: httpx2.Response, request_id: Any) -> dict[str, Any]:
    """The JSON-RPC response with `request_id` among the response's messages."""
    for message in messages(response):
        if (
            isinstance(message, dict)
            and message.get("id") == request_id
            and ("result" in message or "error" in message)
        ):
            return message
    raise AssertionError(f"no response to id {request_id!r} in: {response.status_code} {response.text!r}")


def open_session(client: httpx2.Client, url: str, token: str) -> str:
    """initialize + notifications/initialized; returns the Mcp-Session-Id."""
    response = client.post(url, json=initialize_request(), headers=headers(token))
    assert response.status_code == 200, (response.status_code, response.text)
    session_id = response.headers.get("mcp-session-id")
    assert session_id, f"initialize returned no Mcp-Session-Id: {response.headers}"
    response_to(response, 1)
    initialized = client.post(
        url,
        json={"jsonrpc": "2.0", "method": "notifications/initialized"},
        headers=headers(token, session_id),
    )
    assert initialized.status_code == 202, (initialized.status_code, initialized.text)
    return session_id
