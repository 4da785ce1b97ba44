"""MCP SDK clients (the Python `mcp` package, 2.3) that present a client token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


def http_client(token: str | None, **headers: str) -> httpx2.AsyncClient:
    """An httpx2 client carrying `Authorization: Bearer <token>` on every request."""
    all_headers = dict(headers)
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return httpx2.AsyncClient(headers=all_headers, timeout=httpx2.Timeout(30.0, read=300.0))


@asynccontextmanager
async def connect(url: str, token: str | None, **client_options: Any) -> AsyncIterator[Client]:
    """An SDK client over streamable HTTP. The default mode "auto" probes `server/discover`, so
    it speaks 2026-07-28 with the gateway (stateless: no session); tests about sessions (session
    ids, session-scoped approvals, notifications outside a listen stream) pass mode="legacy"."""
    try:
        async with http_client(token) as http:
            async with Client(streamable_http_client(url, http_client=http), **client_options) as client:
                yield client
    except BaseExceptionGroup as group:
        # The SDK's task groups wrap a failing assertion in the test body; show it plainly.
        if (leaf := _single_leaf(group)) is not None:
            raise leaf from None
        raise


def _single_leaf(group: BaseExceptionGroup) -> BaseException | None:
    while len(group.exceptions) == 1:
        inner = group.exceptions[0]
        if not isinstance(inner, BaseExceptionGroup):
            return inner
        group = inner
    return None


def text_of(result: Any) -> str:
    """The text blocks of a tool result or prompt message list, joined."""
    blocks = getattr(result, "content", None)
    if blocks is None:
        blocks = [message.content for message in result.messages]
    return "\n".join(block.text for block in blocks if getattr(block, "type", None) == "text")
