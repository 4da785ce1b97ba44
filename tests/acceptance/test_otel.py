"""OpenTelemetry export, read back from a real OTLP receiver.

Arize Phoenix (PyPI `arize-phoenix`, installed by tests/setup.sh in a venv of its own) runs on
private ports with a temp working dir and takes the gateway's spans over OTLP/HTTP
(protobuf); the test reads them back from Phoenix's REST API. Metrics and the audit records
as logs go to a small OTLP/HTTP JSON receiver in this test (Phoenix takes only traces).

The gateway serves server-everything over streamable HTTP (through the recording hop, which
shows what the server was sent) and over stdio. Through it, the Python MCP SDK calls echo on
each (one call with a W3C `traceparent` in `_meta`) and a tool the policy denies. Then the
gateway is stopped: what it had not exported yet must go out on shutdown.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import MCPError

from conftest import EV_HTTP, EV_STDIO, HttpPeer, add_everything_stdio, start_token_hop
from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc, free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
# Argument values that must never appear in a span or a metric.
HTTP_WORDS = "otel-http-argument-4711"
STDIO_WORDS = "otel-stdio-argument-4712"
DENIED_A = 90_417
# A secret the audit log masks: the audit logs export must not carry it either.
GITHUB_TOKEN = "ghp_" + "Z" * 36
SERVICE = "switchboard-acceptance"
CLIENT = "otel-client"


@dataclass
class Phoenix:
    proc: Proc
    url: str

    def spans(self) -> list[dict[str, Any]]:
        spans: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            response = httpx2.get(f"{self.url}/v1/projects/default/spans", params=params, timeout=10)
            response.raise_for_status()
            page = response.json()
            spans += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return spans


@pytest.fixture(scope="module")
def phoenix(session_dir: Path, sandbox_env: dict[str, str], log_dir: Path) -> Iterator[Phoenix]:
    """Phoenix on private HTTP and gRPC ports, its database in a temp working dir, offline."""
    if not paths.PHOENIX.exists():
        pytest.fail(f"Arize Phoenix is not installed ({paths.PHOENIX}): run bash tests/setup.sh")
    workdir = session_dir / "phoenix"
    workdir.mkdir()
    port = free_port()
    env = {
        **sandbox_env,
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    proc = Proc("phoenix", [paths.PHOENIX, "serve"], env=env, log_dir=log_dir, cwd=workdir)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx2.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx2.HTTPError:
            pass
        assert proc.alive(), f"Phoenix exited:\n{proc.tail()}"
        assert time.monotonic() < deadline, f"Phoenix not ready in 120 s:\n{proc.tail()}"
        time.sleep(0.3)
    yield Phoenix(proc, url)
    proc.stop()


@dataclass
class Sink:
    """An OTLP/HTTP receiver of JSON payloads (metrics and logs), kept in memory."""

    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [body for got, body in self.received if got == path]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    received: list[tuple[str, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-type", "").startswith("application/json"):
                received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Sink(f"http://127.0.0.1:{server.server_address[1]}", received)
    server.shutdown()
    thread.join(5)


@dataclass
class Run:
    """What the gateway exported and what its HTTP server was sent."""

    spans: list[dict[str, Any]]
    sink: Sink
    hop_record: list[dict[str, Any]]
    log_text: str


@pytest.fixture(scope="module")
def exported(
    phoenix: Phoenix,
    sink: Sink,
    everything_http: HttpPeer,
    session_dir: Path,
    sandbox_env: dict[str, str],
    log_dir: Path,
    anyio_backend: str,
) -> Run:
    record = session_dir / "otel-hop.jsonl"
    hop = start_token_hop("otel-hop", everything_http.url.rsplit("/", 1)[0], sandbox_env, log_dir, record=record)
    env = {
        **sandbox_env,
        # Every signal to Phoenix by default; metrics and logs to the JSON receiver.
        "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url,
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{sink.url}/v1/metrics",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "http/json",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{sink.url}/v1/logs",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL": "http/json",
        "SWITCHBOARD_OTEL_AUDIT_LOGS": "1",
        "OTEL_SERVICE_NAME": SERVICE,
    }
    gateway = Gateway(session_dir / "gateway-otel", env, log_dir)
    add_everything_stdio(gateway)
    gateway.add_http(EV_HTTP, f"{hop.url}/mcp")
    gateway.trust(EV_STDIO)
    gateway.trust(EV_HTTP)
    gateway.cli("tools", "set", EV_HTTP, "get-sum", "deny")
    gateway.token = gateway.add_client(CLIENT)
    gateway.start("gateway-otel")
    try:
        gateway.wait_all([EV_STDIO, EV_HTTP])
        import anyio

        anyio.run(_calls, gateway, backend=anyio_backend)
    finally:
        # Stopped before anything is read: the batch of spans (sent every 5 s) and the
        # metrics (every 60 s) still waiting must go out on shutdown.
        assert gateway.stop() == 0, gateway.proc.tail()
        hop.proc.stop()
    log_text = (log_dir / "gateway-otel.log").read_text(errors="replace")
    deadline = time.monotonic() + 30
    while True:
        spans = [s for s in phoenix.spans() if s["name"].startswith("tools/call")]
        if len(spans) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    hop_record = [json.loads(line) for line in record.read_text().splitlines() if line.strip()]
    return Run(phoenix.spans(), sink, hop_record, log_text)


async def _calls(gateway: Gateway) -> None:
    async with connect(gateway.url(), gateway.token, mode="legacy") as client:
        traced = await client.call_tool(
            f"{EV_HTTP}__echo", {"message": f"{HTTP_WORDS} {GITHUB_TOKEN}"}, meta={"traceparent": TRACEPARENT}
        )
        assert HTTP_WORDS in text_of(traced)
        plain = await client.call_tool(f"{EV_STDIO}__echo", {"message": STDIO_WORDS})
        assert STDIO_WORDS in text_of(plain)
        with pytest.raises(MCPError) as denied:
            await client.call_tool(f"{EV_HTTP}__get-sum", {"a": DENIED_A, "b": 1})
        assert denied.value.code == -32010, denied.value


def attrs(span: dict[str, Any]) -> dict[str, Any]:
    return span["attributes"]


def one(spans: list[dict[str, Any]], name: str, server: str) -> dict[str, Any]:
    found = [s for s in spans if s["name"] == name and attrs(s).get("switchboard.server") == server]
    assert len(found) == 1, f"{name} on {server}: {[(s['name'], attrs(s)) for s in spans]}"
    return found[0]


def test_a_tool_call_is_a_span_with_the_mcp_attributes_under_the_clients_trace(exported: Run) -> None:
    span = one(exported.spans, "tools/call echo", EV_HTTP)
    a = attrs(span)
    assert a["mcp.method.name"] == "tools/call"
    assert a["gen_ai.tool.name"] == "echo"
    assert a["gen_ai.operation.name"] == "execute_tool"
    assert a["switchboard.client"] == CLIENT
    assert a["switchboard.decision"] == "allowed"
    assert a["mcp.protocol.version"]
    assert a["mcp.session.id"]
    assert a["jsonrpc.request.id"]
    assert a["network.transport"] == "tcp"
    assert "error.type" not in a
    # A child of the context the client put in _meta.
    assert span["context"]["trace_id"] == TRACE_ID
    assert span["parent_id"] == PARENT_ID
    assert span["status_code"] != "ERROR"


def test_a_call_without_trace_context_starts_its_own_trace_in_the_same_session(exported: Run) -> None:
    traced = one(exported.spans, "tools/call echo", EV_HTTP)
    plain = one(exported.spans, "tools/call echo", EV_STDIO)
    assert plain["context"]["trace_id"] != TRACE_ID
    assert plain["parent_id"] is None
    assert attrs(plain)["mcp.session.id"] == attrs(traced)["mcp.session.id"]
    assert attrs(plain)["jsonrpc.request.id"] != attrs(traced)["jsonrpc.request.id"]
    # The session's other requests are spans too.
    methods = {attrs(s)["mcp.method.name"] for s in exported.spans if attrs(s).get("switchboard.client") == CLIENT}
    assert {"initialize", "tools/list", "tools/call"} <= methods, methods


def test_a_denied_call_is_an_error_span_with_its_code(exported: Run) -> None:
    span = one(exported.spans, "tools/call get-sum", EV_HTTP)
    a = attrs(span)
    assert a["error.type"] == "-32010"
    assert a["rpc.response.status_code"] == "-32010"
    assert a["switchboard.decision"] == "denied"
    assert span["status_code"] == "ERROR"


def test_the_trace_context_goes_on_to_the_http_server(exported: Run) -> None:
    span = one(exported.spans, "tools/call echo", EV_HTTP)
    sent = [
        r for r in exported.hop_record
        if r["dir"] == "to_server" and r["msg"].get("method") == "tools/call"
    ]
    assert len(sent) == 1, sent
    # The gateway's span is the server's parent, in the client's trace: in the header and in _meta.
    expected = f"00-{TRACE_ID}-{span['context']['span_id']}-01"
    assert sent[0]["headers"]["traceparent"] == expected
    assert sent[0]["msg"]["params"]["_meta"]["traceparent"] == expected


def test_no_argument_or_result_is_exported_in_spans_or_metrics(exported: Run) -> None:
    ours = [s for s in exported.spans if attrs(s).get("switchboard.client") == CLIENT]
    metrics = json.dumps(exported.sink.bodies("/v1/metrics"))
    for text in (json.dumps(ours), metrics):
        for value in (HTTP_WORDS, STDIO_WORDS, str(DENIED_A), GITHUB_TOKEN):
            assert value not in text


def points(sink: Sink, name: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(attributes, data point) of every point of metric `name` that the gateway sent."""
    found = []
    for body in sink.bodies("/v1/metrics"):
        for resource in body.get("resourceMetrics", []):
            for scope in resource.get("scopeMetrics", []):
                for metric in scope.get("metrics", []):
                    if metric.get("name") != name:
                        continue
                    data = metric.get("sum") or metric.get("histogram") or {}
                    for point in data.get("dataPoints", []):
                        found.append((kv(point.get("attributes", [])), point))
    return found


def kv(attributes: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values()), None) for a in attributes}


def test_metrics_count_calls_errors_and_latency_per_client_server_and_tool(exported: Run) -> None:
    resource = exported.sink.bodies("/v1/metrics")[0]["resourceMetrics"][0]["resource"]
    assert kv(resource["attributes"])["service.name"] == SERVICE
    calls = {
        (a["switchboard.server"], a.get("gen_ai.tool.name")): int(p["asInt"])
        for a, p in points(exported.sink, "switchboard.mcp.calls")
        if a.get("switchboard.client") == CLIENT and a["mcp.method.name"] == "tools/call"
    }
    assert calls == {(EV_HTTP, "echo"): 1, (EV_STDIO, "echo"): 1, (EV_HTTP, "get-sum"): 1}, calls
    errors = [
        a for a, _ in points(exported.sink, "switchboard.mcp.errors") if a.get("switchboard.client") == CLIENT
    ]
    assert [(e["gen_ai.tool.name"], e["error.type"]) for e in errors] == [("get-sum", "-32010")], errors
    durations = [
        p for a, p in points(exported.sink, "mcp.server.operation.duration")
        if a.get("switchboard.client") == CLIENT and a.get("gen_ai.tool.name") == "echo"
    ]
    assert sum(int(p["count"]) for p in durations) == 2, durations


def test_audit_records_go_out_as_logs_as_the_audit_log_redacted_them(exported: Run) -> None:
    records = [
        kv(record.get("attributes", []))
        for body in exported.sink.bodies("/v1/logs")
        for resource in body.get("resourceLogs", [])
        for scope in resource.get("scopeLogs", [])
        for record in scope.get("logRecords", [])
    ]
    calls = [r for r in records if r.get("mcp.method.name") == "tools/call" and r.get("switchboard.client") == CLIENT]
    assert {r["switchboard.status"] for r in calls} == {"ok", "denied"}, calls
    text = json.dumps(calls)
    # The audit record keeps the arguments, with the secret masked.
    assert HTTP_WORDS in text
    assert GITHUB_TOKEN not in text and "[REDACTED]" in text
    assert "OpenTelemetry export over OTLP/HTTP" in exported.log_text
