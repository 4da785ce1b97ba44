"""Test-only HTTP hop: forwards every request to a target origin, adding headers on the way.

Peers that cannot send custom headers (the conformance CLI's server mode) reach the gateway
through it with a client token:

    python token_hop.py --target http://127.0.0.1:PORT --header "Authorization: Bearer T"

It listens on a free loopback port, prints `listening on http://127.0.0.1:PORT` once bound,
keeps the path, query, method and every end-to-end header both ways (Host and Origin too,
so the target's own Host/Origin checks see what the client sent), and streams response
bodies chunk by chunk, so SSE events arrive as the target sends them.

With `--record FILE` it also appends one JSON line per JSON-RPC message it carries, in
either direction ("to_server" / "from_server"), which tests use to see what an upstream
server was sent, with the W3C trace context headers (`traceparent`, `tracestate`) of the
request that carried it under "headers". With no `--header` it is a plain recording proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
import time

import httpx2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

# RFC 9110 hop-by-hop headers, plus the framing the two HTTP stacks set for themselves.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


# The W3C trace context headers, recorded with each request.
TRACE_HEADERS = ("traceparent", "tracestate")


class Recorder:
    """Appends JSON-RPC messages to a JSON Lines file (thread-safe, flushed per line)."""

    def __init__(self, path: str | None) -> None:
        self._file = open(path, "a", encoding="utf-8", buffering=1) if path else None
        self._lock = threading.Lock()

    def body(self, direction: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        if self._file is None or not data.strip():
            return
        try:
            message = json.loads(data)
        except ValueError:
            message = {"unparsed": data.decode(errors="replace")}
        self.message(direction, message, headers)

    def message(self, direction: str, message: object, headers: dict[str, str] | None = None) -> None:
        if self._file is None:
            return
        messages = message if isinstance(message, list) else [message]
        with self._lock:
            for item in messages:
                line = {"t": time.time(), "dir": direction, "msg": item}
                if headers:
                    line["headers"] = headers
                self._file.write(json.dumps(line) + "\n")


class SseTap:
    """Splits a text/event-stream into events and records each `data:` payload."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        self._buffer = b""

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk.replace(b"\r\n", b"\n")
        while b"\n\n" in self._buffer:
            event, self._buffer = self._buffer.split(b"\n\n", 1)
            data = b"\n".join(
                line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
            )
            self._recorder.body("from_server", data)


def build_app(target: str, extra_headers: list[tuple[str, str]], recorder: Recorder) -> Starlette:
    client = httpx2.AsyncClient(timeout=httpx2.Timeout(30.0, read=None), follow_redirects=False)
    names_added = {name.lower() for name, _ in extra_headers}

    async def forward(request: Request) -> Response:
        body = await request.body()
        trace = {name: request.headers[name] for name in TRACE_HEADERS if name in request.headers}
        recorder.body("to_server", body, trace)
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() not in names_added
        ]
        headers.extend(extra_headers)
        url = target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        upstream_request = client.build_request(request.method, url, headers=headers, content=body)
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx2.HTTPError as error:
            return Response(f"hop could not reach the target: {error}\n", status_code=502)
        response_headers = {
            name: value for name, value in upstream.headers.items() if name.lower() not in HOP_BY_HOP
        }
        streaming = "text/event-stream" in upstream.headers.get("content-type", "")
        tap = SseTap(recorder) if streaming else None

        async def relay():
            collected = b""
            try:
                async for chunk in upstream.aiter_raw():
                    if tap is not None:
                        tap.feed(chunk)
                    elif "json" in upstream.headers.get("content-type", ""):
                        collected += chunk
                    yield chunk
            except httpx2.HTTPError:
                # The target closed the stream early; the client sees the body end there.
                return
            finally:
                if collected:
                    recorder.body("from_server", collected)
                await upstream.aclose()

        return StreamingResponse(
            relay(),
            status_code=upstream.status_code,
            headers=response_headers,
        )

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "OPTIONS", "HEAD"]
    return Starlette(
        routes=[
            Route("/", forward, methods=methods),
            Route("/{path:path}", forward, methods=methods),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, help="origin to forward to, e.g. http://127.0.0.1:8080")
    parser.add_argument("--header", action="append", default=[], help='"Name: value" to add to each request')
    parser.add_argument("--record", help="append the JSON-RPC messages carried to this JSON Lines file")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    extra_headers = []
    for header in args.header:
        name, _, value = header.partition(":")
        extra_headers.append((name.strip(), value.strip()))

    app = build_app(args.target.rstrip("/"), extra_headers, Recorder(args.record))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    asyncio.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    sys.exit(main())
