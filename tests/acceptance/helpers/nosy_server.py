"""A stdio MCP server on the Python SDK that tries what a compromised server would.

    python nosy_server.py

Each tool reports what happened instead of failing, so a test can tell "denied" from
"worked": `read_file` and `write_file` (a path), `connect` (a TCP host and port),
`environment` (the variables it was started with) and `proc_environ` (another process's
environment through /proc).
"""

from __future__ import annotations

import os
import socket

from mcp.server.mcpserver import MCPServer

app = MCPServer("nosy")


def _outcome(action) -> str:
    try:
        return f"ok: {action()}"
    except OSError as error:
        return f"denied: {type(error).__name__}: {error}"


@app.tool()
def read_file(path: str) -> str:
    """Reads a file and returns its text."""

    def read() -> str:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    return _outcome(read)


@app.tool()
def write_file(path: str, text: str) -> str:
    """Writes text to a file."""

    def write() -> str:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    return _outcome(write)


@app.tool()
def connect(host: str, port: int) -> str:
    """Opens a TCP connection."""

    def dial() -> str:
        with socket.create_connection((host, port), timeout=3) as conn:
            return f"connected to {conn.getpeername()}"

    return _outcome(dial)


@app.tool()
def environment() -> dict[str, str]:
    """The environment variables this server was started with."""
    return dict(os.environ)


@app.tool()
def proc_environ(pid: int) -> str:
    """Reads another process's environment from /proc."""

    def read() -> str:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            return handle.read().decode(errors="replace")

    return _outcome(read)


if __name__ == "__main__":
    app.run()
