"""Raw MCP clients of both eras over HTTP: a 2025-11-25 session and 2026-07-28 stateless
requests, for tests that must control every byte a client sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2

from . import raw

MODERN = "2026-07-28"
LEGACY = "2025-11-25"


def lifecycle(capabilities: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `_meta` keys every 2026-07-28 request carries."""
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": capabilities or {},
        "io.modelcontextprotocol/clientInfo": {"name": "switchboard-acceptance-eras", "version": "0"},
    }


@dataclass
class Era:
    """One client of one era on one URL."""

    http: httpx2.Client
    url: str
    token: str
    modern: bool
    capabilities: dict[str, Any] = field(default_factory=dict)
    session: str | None = None
    next_id: int = 100

    def open(self) -> Era:
        if not self.modern:
            self.session = raw.open_session(self.http, self.url, self.token)
        return self

    @property
    def version(self) -> str:
        return MODERN if self.modern else LEGACY

    def headers(self, method: str, name: str | None = None) -> dict[str, str]:
        if not self.modern:
            return raw.headers(self.token, self.session)
        out = raw.headers(self.token)
        out["MCP-Protocol-Version"] = MODERN
        out["Mcp-Method"] = method
        if name is not None:
            out["Mcp-Name"] = name
        return out

    def body(self, method: str, params: dict[str, Any], request_id: int | str | None) -> dict[str, Any]:
        params = dict(params)
        if self.modern:
            params["_meta"] = {**lifecycle(self.capabilities), **params.get("_meta", {})}
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        if request_id is not None:
            message["id"] = request_id
        return message

    def request(self, method: str, params: dict[str, Any], name: str | None = None, **kwargs: Any):
        """POSTs a request; returns (HTTP response, the JSON-RPC answer or None)."""
        self.next_id += 1
        request_id = self.next_id
        response = self.http.post(
            self.url,
            json=self.body(method, params, request_id),
            headers=self.headers(method, name),
            **kwargs,
        )
        answer = None
        for message in raw.messages(response) if response.content else []:
            if isinstance(message, dict) and message.get("id") == request_id:
                answer = message
        return response, answer

    def call(self, tool: str, arguments: Any, extra: dict[str, Any] | None = None):
        """`tools/call`; `extra` adds to (or replaces) fields of its params."""
        return self.request("tools/call", {"name": tool, "arguments": arguments, **(extra or {})}, name=tool)
