"""A minimal MCP server on the Python SDK's streamable HTTP transport, for the acceptance tests.

    python sdk_http_server.py PORT

Serves `/mcp` on 127.0.0.1:PORT with one tool, `echo` (answers "Echo: MESSAGE", as
server-everything's does). Uvicorn prints "Uvicorn running on ..." once it listens. Unlike
server-everything, it answers a request for a session it does not know with 404, as the
specification requires.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

app = MCPServer("acceptance-sdk-http")


@app.tool()
def echo(message: str) -> str:
    """Echoes the message back."""
    return f"Echo: {message}"


if __name__ == "__main__":
    app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
