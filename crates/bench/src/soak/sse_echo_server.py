"""An MCP echo server on the Python SDK's legacy HTTP+SSE transport, for `switchboard-bench soak`.

    python sse_echo_server.py [--port N]

Speaks only the 2024-11-05 transport (`GET /sse`, which announces `/messages/?session_id=...`).
Its tools answer as the `echo-server` fixture's: `echo {text}` returns `text`, `payload {bytes}`
a text of exactly `bytes` bytes. Binds 127.0.0.1:N (0: a free port; SO_REUSEADDR, so a restart
can take the same port again) and prints `listening on http://127.0.0.1:PORT/sse` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

import uvicorn

from mcp.server.mcpserver import MCPServer

# Largest `payload` result, so a typo cannot exhaust memory.
MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

app = MCPServer("switchboard-bench-sse-echo", log_level="WARNING")


@app.tool()
def echo(text: str) -> str:
    """Returns the text it is given."""
    return text


@app.tool()
def payload(bytes: int) -> str:  # noqa: A002 - the fixture's parameter name
    """Returns a text block of exactly `bytes` bytes."""
    return "x" * max(0, min(bytes, MAX_PAYLOAD_BYTES))


async def serve(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app.sse_app(host="127.0.0.1"), log_level="warning", access_log=False, timeout_graceful_shutdown=2
    )
    print(f"listening on http://127.0.0.1:{port}/sse", flush=True)
    await uvicorn.Server(config).serve(sockets=[sock])


def main() -> None:
    parser = argparse.ArgumentParser(description="MCP echo server on legacy HTTP+SSE")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
