"""The audit log (`switchboard logs`) with real peers: the Python MCP SDK as the client and
server-everything over stdio as the upstream.

Every tools/call becomes one row holding its request and response, failed calls included;
secrets (in arguments, resource URIs, the client's own token) never reach a file, an export
or the live stream, and the live stream joins the backlog without losing records; in strict
mode every call a client saw answered is on disk even after `kill -9`; `logs verify` names
the record that was changed or removed; `logs show`, `logs --search` and `logs stats` find
what was called.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import signal
import string
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError

from conftest import EV_STDIO, add_everything_stdio
from helpers.database import audit_rows, audit_write, everything_stored
from helpers.gateway import CliResult, Gateway, Switchboard
from helpers.mcp_client import connect, text_of
from helpers.procs import Proc, descendants, is_running, kill_pids

pytestmark = pytest.mark.anyio

GENESIS = "0" * 64
MASK = "[REDACTED]"
# `logs` lists at most 10000 records per query, `logs export` pages through any number.
LIST_ALL = ("--limit", "10000")
EXPORT_ALL = ("--limit", "1000000")
INTACT = re.compile(r"audit log intact: (\d+) records verified")
TAMPERED = re.compile(r"audit log tampered: record (\d+) does not verify")


# Helpers.


def start_gateway(
    make_gateway: Callable[..., Gateway], name: str, *clients: str
) -> tuple[Gateway, dict[str, str]]:
    """A fresh gateway with server-everything over stdio and the named extra clients."""
    tokens: dict[str, str] = {}

    def configure(switchboard: Switchboard) -> None:
        add_everything_stdio(switchboard)
        for client in clients:
            tokens[client] = switchboard.add_client(client)

    return make_gateway(name, configure, ready=[EV_STDIO]), tokens


def jsonl(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def logs_json(switchboard: Switchboard, *args: str) -> list[dict[str, Any]]:
    """`switchboard logs --json ARGS`: the matching records, oldest first."""
    return jsonl(switchboard.cli("logs", "--json", *args).stdout)


def db_rows(switchboard: Switchboard, where: str = "1 = 1", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """Rows of the audit log read directly (SQLite read-only, or PostgreSQL), in id order."""
    return audit_rows(switchboard.database, switchboard.data_dir, where, params)


def db_write(switchboard: Switchboard, sql: str, params: tuple[Any, ...]) -> int:
    """Changes the audit log behind the gateway's back; returns the number of rows touched."""
    return audit_write(switchboard.database, switchboard.data_dir, sql, params)


def verified_count(result: CliResult) -> int:
    assert result.returncode == 0, f"`logs verify` must pass:\n{result.describe()}"
    match = INTACT.search(result.stdout)
    assert match, f"`logs verify` printed no 'audit log intact' line:\n{result.describe()}"
    return int(match.group(1))


def tampered_id(result: CliResult) -> int:
    assert result.returncode != 0, f"`logs verify` must fail on a tampered log:\n{result.describe()}"
    assert not INTACT.search(result.stdout + result.stderr), result.describe()
    match = TAMPERED.search(result.stderr)
    assert match, f"`logs verify` must name the record on stderr:\n{result.describe()}"
    return int(match.group(1))


def check_chain_links(rows: list[dict[str, Any]]) -> None:
    """Ids run 1, 2, 3, ...; the first record links to the genesis hash, every other to its predecessor."""
    assert rows, "the audit log is empty"
    assert [row["id"] for row in rows] == list(range(1, len(rows) + 1)), "ids are not consecutive from 1"
    previous = GENESIS
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{64}", row["hash"]), f"record {row['id']}: hash {row['hash']!r}"
        assert row["prev_hash"] == previous, f"record {row['id']} does not link to record {row['id'] - 1}"
        previous = row["hash"]


def random_text(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def saw_line(proc: Proc, text: str, timeout: float) -> bool:
    """Whether `proc` printed a line containing `text` (within `timeout`)."""
    try:
        proc.wait_for(re.escape(text), timeout, stream="out")
        return True
    except TimeoutError:
        return False


# 1. One row per call, with the right fields; failed calls are error rows.


async def test_every_call_is_one_row_with_its_request_and_response(make_gateway) -> None:
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-calls", "audit-calls")
    count = 25
    nonce = uuid.uuid4().hex[:8]
    messages = [f"call {i} of {count} ✓ {nonce}" for i in range(count)]
    sent_names: dict[str, str] = {}
    started_ms = time.time() * 1000
    with anyio.fail_after(60):
        async with (
            connect(gateway.url(), tokens["audit-calls"], mode="legacy") as aggregated,
            connect(gateway.url(EV_STDIO), tokens["audit-calls"], mode="legacy") as direct,
        ):
            for i, message in enumerate(messages):
                client, tool = (aggregated, f"{EV_STDIO}__echo") if i % 2 == 0 else (direct, "echo")
                result = await client.call_tool(tool, {"message": message})
                assert not result.is_error and text_of(result) == f"Echo: {message}"
                sent_names[message] = tool
    finished_ms = time.time() * 1000

    # Strict mode: every answer above waited for its row, so the rows are there now.
    listed = logs_json(gateway, "--client", "audit-calls", "--method", "tools/call", *LIST_ALL)
    stored = db_rows(gateway, "client = ? AND method = 'tools/call'", ("audit-calls",))
    print(f"{count} calls -> {len(listed)} tools/call rows listed for the client, {len(stored)} in audit.db")
    assert len(listed) == count, f"expected {count} rows, `logs` lists {len(listed)}"
    assert len(stored) == count, f"expected {count} rows, audit.db holds {len(stored)}"
    assert listed == stored, "`logs --json` differs from audit.db"
    assert [row["id"] for row in listed] == sorted(row["id"] for row in listed), "not printed oldest first"

    by_message: dict[str, dict[str, Any]] = {}
    for row in listed:
        request = json.loads(row["request"])
        by_message[request["arguments"]["message"]] = row
    assert set(by_message) == set(messages), "the rows do not hold exactly the messages sent"

    sessions: dict[str, set[str | None]] = {f"{EV_STDIO}__echo": set(), "echo": set()}
    for i, message in enumerate(messages):
        row = by_message[message]
        where = f"record {row['id']} (call {i}, via {sent_names[message]})"
        assert row["client"] == "audit-calls", where
        assert row["server"] == EV_STDIO, where
        assert row["name"] == "echo", f"{where}: name is the upstream's tool name, got {row['name']!r}"
        assert row["direction"] == "client_to_server", where
        assert row["method"] == "tools/call", where
        assert row["status"] == "ok", where
        assert row["error_code"] is None and row["error_message"] is None, where
        assert row["decision"] == "allowed", where
        assert isinstance(row["latency_us"], int) and row["latency_us"] > 0, f"{where}: {row['latency_us']!r}"
        assert started_ms - 1000 <= row["ts"] <= finished_ms + 1000, f"{where}: ts {row['ts']} outside the run"
        request = json.loads(row["request"])
        assert request == {"name": sent_names[message], "arguments": {"message": message}}, where
        assert row["request_size"] >= len(row["request"].encode()) > 0, where
        response = json.loads(row["response"])
        assert response["content"] == [{"type": "text", "text": f"Echo: {message}"}], where
        assert not response.get("isError"), where
        assert row["response_size"] >= len(row["response"].encode()) > 0, where
        sessions[sent_names[message]].add(row["session"])
    ids = [by_message[message]["id"] for message in messages]
    assert ids == sorted(ids), "rows of sequential calls are not in call order"
    for tool, seen in sessions.items():
        assert len(seen) == 1 and None not in seen, f"calls via {tool} in one session carry sessions {seen}"
    assert sessions[f"{EV_STDIO}__echo"] != sessions["echo"], "two client sessions share one session id"

    everything = db_rows(gateway)
    check_chain_links(everything)
    verified = verified_count(gateway.cli("logs", "verify"))
    assert verified >= len(everything)
    print(f"hash chain: {len(everything)} records linked, `logs verify` checked {verified}")


async def test_failed_calls_are_error_rows_with_the_error_code(make_gateway) -> None:
    """Calls the gateway answers with a JSON-RPC error are recorded with that code and message."""
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-errors", "audit-errors")
    nonce = uuid.uuid4().hex[:8]
    calls = {
        "no-such-server__echo": {"message": f"unknown server {nonce}"},
        "echo": {"message": f"no server prefix {nonce}"},
    }
    errors = {}
    with anyio.fail_after(30):
        async with connect(gateway.url(), tokens["audit-errors"]) as client:
            for tool, arguments in calls.items():
                with pytest.raises(MCPError) as caught:
                    await client.call_tool(tool, arguments)
                errors[tool] = caught.value.error
                print(f"{tool}: client got error {errors[tool].code}: {errors[tool].message}")

    listed = logs_json(
        gateway, "--client", "audit-errors", "--method", "tools/call", "--status", "error", *LIST_ALL
    )
    assert len(listed) == len(calls), f"expected {len(calls)} error rows, got {len(listed)}: {listed}"
    for row in listed:
        request = json.loads(row["request"])
        tool = request["name"]
        assert tool in calls and request["arguments"] == calls[tool], row
        where = f"record {row['id']} ({tool})"
        assert row["status"] == "error", where
        assert row["error_code"] == errors[tool].code, f"{where}: {row['error_code']} != {errors[tool].code}"
        assert row["error_message"] == errors[tool].message, where
        assert row["response"] is None, where
        assert row["client"] == "audit-errors" and row["direction"] == "client_to_server", where
        assert row["decision"] == "allowed", where
        assert isinstance(row["latency_us"], int) and row["latency_us"] >= 0, where
    print(f"{len(listed)} error rows, codes {sorted(row['error_code'] for row in listed)}")
    verified_count(gateway.cli("logs", "verify"))


async def test_tool_error_results_are_error_rows(make_gateway) -> None:
    """Upstream tool failures (invalid arguments) reach the client as results with isError:
    true; the audit row must hold that result and count as an error."""
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-tool-errors", "audit-tool-errors")
    token = tokens["audit-tool-errors"]
    calls = [
        (None, f"{EV_STDIO}__echo", "echo", {}),
        (EV_STDIO, "echo", "echo", {}),
        (EV_STDIO, "get-sum", "get-sum", {"a": "not a number"}),
        (None, f"{EV_STDIO}__get-sum", "get-sum", {"a": "not a number"}),
    ]
    answers: dict[str, str] = {}
    with anyio.fail_after(30):
        for server, tool, _, arguments in calls:
            async with connect(gateway.url(server), token) as client:
                result = await client.call_tool(tool, arguments)
                assert result.is_error, f"{tool}: expected a tool error result, got {result}"
                answers[tool] = text_of(result)
                print(f"{tool} via {gateway.url(server)}: isError result {answers[tool]!r}")

    rows = db_rows(gateway, "client = ? AND method = 'tools/call'", ("audit-tool-errors",))
    assert len(rows) == len(calls), rows
    statuses = []
    for row, (_, tool, upstream_name, arguments) in zip(rows, calls, strict=True):
        where = f"record {row['id']} ({tool})"
        assert row["server"] == EV_STDIO and row["name"] == upstream_name, where
        assert json.loads(row["request"]) == {"name": tool, "arguments": arguments}, where
        response = json.loads(row["response"])
        assert response.get("isError") is True, f"{where}: stored response {response}"
        assert response["content"] == [{"type": "text", "text": answers[tool]}], where
        statuses.append((row["id"], tool, row["status"]))
    print(f"statuses of the tool-error rows: {statuses}")
    wrong = [entry for entry in statuses if entry[2] != "error"]
    assert not wrong, (
        f"tool calls that failed (result isError: true) are recorded with a status other than "
        f"'error', so `logs --status error` and `logs stats` errors miss them: {wrong}"
    )


# 2. Secrets never reach a file, an export or the live stream.


async def test_secrets_never_reach_files_exports_or_the_live_stream(
    make_gateway, log_dir: Path, tmp_path: Path
) -> None:
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-secrets", "audit-secrets")
    token = tokens["audit-secrets"]
    nonce = uuid.uuid4().hex[:10]
    fixed_key = "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx"
    fixed_bearer = "abcdefghijklmnopqrstu"
    random_key = f"sk-proj-{random_text(28)}"
    random_bearer = random_text(32)
    api_key = f"zz{random_text(30)}"  # secret only by its key: matches no value pattern
    password = f"pw{random_text(24)}"
    forbidden = {
        "fixed openai-style key": fixed_key,
        "fixed bearer credential": fixed_bearer,
        "random openai-style key": random_key,
        "random bearer credential": random_bearer,
        "api_key argument": api_key,
        "nested password argument": password,
        "the client's bearer token": token,
    }
    secret_calls = [
        (None, f"{EV_STDIO}__echo", {"message": f"{nonce}-one my key is {fixed_key} and Bearer {fixed_bearer}"}),
        (
            EV_STDIO,
            "echo",
            {
                "message": f"{nonce}-two key {random_key} header Authorization: Bearer {random_bearer}",
                "api_key": api_key,
                "auth": {"password": password},
            },
        ),
        (None, f"{EV_STDIO}__echo", {"message": f"{nonce}-three my token is {token}"}),
    ]

    follow = Proc("audit-follow", gateway.argv("logs", "--follow", "--json"), env=gateway.env, log_dir=log_dir)
    try:
        with anyio.fail_after(90):
            async with (
                connect(gateway.url(), token) as aggregated,
                connect(gateway.url(EV_STDIO), token) as direct,
            ):
                # The stream is live once one of our markers comes through it.
                for attempt in range(60):
                    marker = f"{nonce}-sync-{attempt}"
                    await aggregated.call_tool(f"{EV_STDIO}__echo", {"message": marker})
                    if await anyio.to_thread.run_sync(saw_line, follow, marker, 0.5):
                        break
                else:
                    raise AssertionError(f"`logs --follow` showed none of 60 calls:\n{follow.tail()}")
                for server, tool, arguments in secret_calls:
                    result = await (direct if server else aggregated).call_tool(tool, arguments)
                    assert text_of(result) == f"Echo: {arguments['message']}", "the upstream gets the real value"
            for label in ("one", "two", "three"):
                shown = await anyio.to_thread.run_sync(saw_line, follow, f"{nonce}-{label}", 15)
                assert shown, f"call {label} never appeared in `logs --follow --json`:\n{follow.tail()}"
    finally:
        follow.stop()
    streamed = follow.lines()

    stored = db_rows(gateway, "client = ? AND method = 'tools/call'", ("audit-secrets",))
    secret_rows = [row for row in stored if re.search(rf"{nonce}-(one|two|three)", row["request"] or "")]
    assert len(secret_rows) == 3, stored
    two = next(row for row in secret_rows if f"{nonce}-two" in row["request"])
    arguments = json.loads(two["request"])["arguments"]
    print(f"stored arguments of the call with extra secret arguments: {arguments}")
    assert arguments["api_key"] == MASK and arguments["auth"] == {"password": MASK}, arguments
    assert MASK in arguments["message"] and f"{nonce}-two" in arguments["message"], arguments
    for row in secret_rows:
        assert MASK in row["request"] and MASK in row["response"], row

    jsonl_export = gateway.cli("logs", "export", "--format", "jsonl", *EXPORT_ALL).stdout
    csv_path = tmp_path / "audit.csv"
    gateway.cli("logs", "export", "--format", "csv", "--output", csv_path, *EXPORT_ALL)
    csv_export = csv_path.read_text(encoding="utf-8")
    exported = jsonl(jsonl_export)
    csv_records = list(csv.DictReader(io.StringIO(csv_export)))
    for name, text in (("jsonl export", jsonl_export), ("csv export", csv_export)):
        for label in ("one", "two", "three"):
            assert f"{nonce}-{label}" in text, f"the {name} lacks call {label}"
        assert MASK in text, name
    assert {row["id"] for row in exported} >= {row["id"] for row in secret_rows}
    assert len(csv_records) == len(exported), "csv and jsonl exports hold different numbers of records"

    places: dict[str, bytes] = {}
    for path in sorted(gateway.data_dir.rglob("*")):
        if path.is_file():
            places[f"data dir file {path.relative_to(gateway.data_dir)}"] = path.read_bytes()
    if gateway.database:
        places["the PostgreSQL database"] = everything_stored(gateway.database)
        assert places["the PostgreSQL database"], "nothing stored in PostgreSQL"
    else:
        assert {"data dir file audit.db", "data dir file switchboard.db"} <= set(places), sorted(places)
    places["`logs export --format jsonl`"] = jsonl_export.encode()
    places["`logs export --format csv`"] = csv_export.encode()
    places["`logs --follow --json` output"] = "\n".join(streamed).encode()
    places["gateway console output"] = gateway.proc.text().encode()
    print(f"checked {len(places)} places ({sum(map(len, places.values()))} bytes) for {len(forbidden)} secrets: "
          f"{sorted(places)}; {len(streamed)} streamed lines, {len(exported)} exported records")
    leaks = [
        f"{label} in {place}"
        for place, data in places.items()
        for label, secret in forbidden.items()
        if secret.encode() in data
    ]
    assert not leaks, "secrets leaked:\n  " + "\n  ".join(leaks)

    # Stopped, the gateway checkpoints the WAL into audit.db: still nothing.
    gateway.stop()
    stopped = {path: path.read_bytes() for path in sorted(gateway.data_dir.rglob("*")) if path.is_file()}
    leaks = [
        f"{label} in {path.relative_to(gateway.data_dir)} after the gateway stopped"
        for path, data in stopped.items()
        for label, secret in forbidden.items()
        if secret.encode() in data
    ]
    assert not leaks, "secrets leaked:\n  " + "\n  ".join(leaks)
    print(f"after the gateway stopped: {len(stopped)} files in the data dir, no secret in any")


def secret_places(gateway: Gateway, tmp_path: Path) -> dict[str, bytes]:
    """Every file in the data dir, and both exports of the whole log."""
    places = {
        f"data dir file {path.relative_to(gateway.data_dir)}": path.read_bytes()
        for path in sorted(gateway.data_dir.rglob("*"))
        if path.is_file()
    }
    exported = gateway.cli("logs", "export", "--format", "jsonl", *EXPORT_ALL).stdout
    places["`logs export --format jsonl`"] = exported.encode()
    csv_path = tmp_path / "audit-uris.csv"
    gateway.cli("logs", "export", "--format", "csv", "--output", csv_path, *EXPORT_ALL)
    places["`logs export --format csv`"] = csv_path.read_bytes()
    return places


async def test_secrets_in_resource_uris_never_reach_files_or_exports(make_gateway, tmp_path: Path) -> None:
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-uri-secrets", "audit-uri")
    password = f"pw{random_text(24)}"
    key = f"sk-proj-{random_text(28)}"
    reads = [
        (None, f"{EV_STDIO}+https://alice:{password}@example.com/report"),
        (EV_STDIO, f"demo://resource/static/document/missing?token={key}"),
    ]
    with anyio.fail_after(30):
        for server, uri in reads:
            async with connect(gateway.url(server), tokens["audit-uri"]) as client:
                try:
                    await client.read_resource(uri)
                except MCPError as error:
                    print(f"resources/read via {gateway.url(server)}: {error}")

    rows = db_rows(gateway, "client = ? AND method = 'resources/read'", ("audit-uri",))
    assert len(rows) == len(reads), rows
    for row in rows:
        print(f"record {row['id']}: name {row['name']!r}, request {row['request']}")
        assert MASK in row["request"], row
    places = secret_places(gateway, tmp_path)
    leaks = [
        f"{label} in {place}"
        for place, data in places.items()
        for label, secret in (("URL password", password), ("token in a URI query", key))
        if secret.encode() in data
    ]
    assert not leaks, "secrets in resource URIs leaked:\n  " + "\n  ".join(leaks)


async def test_follow_joins_the_backlog_and_the_stream_without_gaps(make_gateway, log_dir: Path) -> None:
    """`logs --follow` prints the newest records, then the live ones: every record once, none missing."""
    gateway, _ = start_gateway(make_gateway, "gateway-audit-follow")
    runs: list[tuple[list[int], str]] = []
    with anyio.fail_after(60):
        stop = anyio.Event()

        async def load(k: int) -> None:
            async with connect(gateway.url(), gateway.token) as client:
                i = 0
                while not stop.is_set():
                    await client.call_tool(f"{EV_STDIO}__echo", {"message": f"load {k} {i}"})
                    i += 1

        async with anyio.create_task_group() as group:
            for k in range(3):
                group.start_soon(load, k)
            await anyio.sleep(1)
            for attempt in range(4):
                follow = Proc(
                    f"audit-follow-join-{attempt}", gateway.argv("logs", "--follow", "--json"),
                    env=gateway.env, log_dir=log_dir,
                )  # fmt: skip
                await anyio.sleep(1.5)
                follow.stop()
                ids = [json.loads(line)["id"] for line in follow.lines("out") if line.startswith("{")]
                runs.append((ids, follow.text("err")))
            stop.set()

    problems = []
    for attempt, (ids, errors) in enumerate(runs):
        gaps = [(a, b) for a, b in zip(ids, ids[1:]) if b != a + 1]
        print(f"follow {attempt}: {len(ids)} records, ids {ids[:1]}..{ids[-1:]}, breaks {gaps}")
        assert len(ids) > 50, f"follow {attempt} showed only the backlog: {ids}"
        assert "missed" not in errors, f"follow {attempt} lagged: {errors}"
        if gaps:
            problems.append(f"follow {attempt}: ids jump {', '.join(f'{a} -> {b}' for a, b in gaps)}")
    assert not problems, "records lost or repeated where the backlog meets the stream:\n  " + "\n  ".join(problems)


# 3. Strict mode survives kill -9.


async def test_every_answered_call_survives_kill_9(make_gateway) -> None:
    gateway, _ = start_gateway(make_gateway, "gateway-audit-crash")
    nonce = uuid.uuid4().hex[:8]
    workers = 4
    answered: set[str] = set()
    sent: set[str] = set()
    ended: dict[int, str] = {}
    killed = anyio.Event()
    victim = gateway.proc
    leftovers = descendants(victim.pid)

    async def worker(k: int) -> None:
        server, tool = (None, f"{EV_STDIO}__echo") if k % 2 == 0 else (EV_STDIO, "echo")
        try:
            async with connect(gateway.url(server), gateway.token) as client:
                i = 0
                while not killed.is_set():
                    message = f"{nonce} worker {k} call {i}"
                    i += 1
                    sent.add(message)
                    result = await client.call_tool(tool, {"message": message})
                    if not result.is_error and text_of(result) == f"Echo: {message}":
                        answered.add(message)
            ended[k] = "stopped"
        except Exception as error:  # the connection dies with the gateway
            ended[k] = f"{type(error).__name__}: {error}"

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for k in range(workers):
            group.start_soon(worker, k)
        with anyio.fail_after(60):
            while len(answered) < 300 or time.monotonic() - started < 1.5:
                await anyio.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        killed_after = time.monotonic() - started
        answered_at_kill, in_flight_at_kill = len(answered), len(sent - answered)
        killed.set()
        with anyio.move_on_after(15):
            while len(ended) < workers:
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert victim.wait(10) == -signal.SIGKILL, "the gateway did not die of SIGKILL"
    victim.stop()
    kill_pids(pid for pid in leftovers if is_running(pid))
    print(f"killed gateway pid {victim.pid} {killed_after:.1f} s into the run: {answered_at_kill} calls answered "
          f"and {in_flight_at_kill} in flight at the kill; {len(sent)} sent and {len(answered)} answered in all; "
          f"workers ended: {ended}")

    gateway.start("gateway-audit-crash-restarted")
    assert gateway.pid != victim.pid
    rows = db_rows(gateway, "client = ? AND method = 'tools/call'", ("acceptance",))
    by_message = {json.loads(row["request"])["arguments"]["message"]: row for row in rows}
    missing = sorted(answered - set(by_message))
    unanswered_rows = sorted(set(by_message) - answered)
    print(f"after restart: {len(rows)} tools/call rows for {len(answered)} answered calls; "
          f"{len(missing)} answered calls without a row; {len(unanswered_rows)} rows of calls not seen answered")
    assert len(by_message) == len(rows), "a message was recorded twice"
    assert not missing, f"{len(missing)} answered calls have no row (strict mode), e.g. {missing[:5]}"
    for message in answered:
        row = by_message[message]
        assert row["status"] == "ok" and json.loads(row["response"])["content"][0]["text"] == f"Echo: {message}", row
    assert set(by_message) <= sent, "rows of calls that were never sent"
    before_restart = len(db_rows(gateway))
    assert verified_count(gateway.cli("logs", "verify")) >= before_restart

    # The restarted gateway goes on with the same chain.
    gateway.wait_all([EV_STDIO])
    with anyio.fail_after(30):
        async with connect(gateway.url(), gateway.token) as client:
            message = f"{nonce} after restart"
            assert text_of(await client.call_tool(f"{EV_STDIO}__echo", {"message": message})) == f"Echo: {message}"
    everything = db_rows(gateway)
    check_chain_links(everything)
    assert any(message in (row["request"] or "") for row in everything)
    verified = verified_count(gateway.cli("logs", "verify"))
    print(f"`logs verify` after the restart and one more call: {verified} records intact")


# 4. Tampering is found, and the record named.


async def test_verify_names_the_changed_or_removed_record(make_gateway) -> None:
    gateway, _ = start_gateway(make_gateway, "gateway-audit-tamper")
    nonce = uuid.uuid4().hex[:8]
    with anyio.fail_after(30):
        async with connect(gateway.url(EV_STDIO), gateway.token) as client:
            for i in range(10):
                await client.call_tool("echo", {"message": f"{nonce} tamper {i}"})
    gateway.stop()
    assert not gateway.proc.alive()

    total = len(db_rows(gateway))
    assert verified_count(gateway.cli("logs", "verify")) == total
    calls = db_rows(gateway, "method = 'tools/call'")
    assert len(calls) == 10

    # Change one call's arguments.
    changed = calls[4]
    original = changed["request"]
    edited = original.replace("tamper 4", "tamper 4 (edited)")
    assert edited != original
    update = "UPDATE audit_events SET request = ? WHERE id = ?"
    assert db_write(gateway, update, (edited, changed["id"])) == 1
    result = gateway.cli("logs", "verify", check=False)
    named = tampered_id(result)
    print(f"edited record {changed['id']}: `logs verify` exit {result.returncode}: {result.stderr.strip()}")
    assert named == changed["id"], f"edited record {changed['id']}, verify named {named}"

    # Put it back: the log verifies again.
    db_write(gateway, update, (original, changed["id"]))
    assert verified_count(gateway.cli("logs", "verify")) == total

    # Remove one row: verify names the record after the gap.
    removed = calls[6]
    assert db_write(gateway, "DELETE FROM audit_events WHERE id = ?", (removed["id"],)) == 1
    following = min(row["id"] for row in db_rows(gateway, "id > ?", (removed["id"],)))
    result = gateway.cli("logs", "verify", check=False)
    named = tampered_id(result)
    print(f"deleted record {removed['id']}: `logs verify` exit {result.returncode}: {result.stderr.strip()}")
    assert named == following == removed["id"] + 1, (
        f"deleted record {removed['id']}; the next is {following}; verify named {named}"
    )

    # A gateway running on the tampered log again: new records do not hide the gap.
    gateway.start("gateway-audit-tamper-restarted")
    gateway.wait_all([EV_STDIO])
    with anyio.fail_after(30):
        async with connect(gateway.url(), gateway.token) as client:
            await client.call_tool(f"{EV_STDIO}__echo", {"message": f"{nonce} after tampering"})
    result = gateway.cli("logs", "verify", check=False)
    assert tampered_id(result) == following, result.describe()
    print(f"with the gateway running again and new records: verify still names {following}")


# 5. show, search and stats.


@dataclass
class QueryRun:
    """A gateway after a known set of calls by the client `audit-query`."""

    gateway: Gateway
    word: str  # appears in exactly one call's argument
    long_message: str  # that call's whole message
    calls: Counter[str]  # tool name (as the upstream knows it) -> calls made


@pytest.fixture(scope="module")
async def query_run(make_gateway) -> QueryRun:
    gateway, tokens = start_gateway(make_gateway, "gateway-audit-query", "audit-query")
    token = tokens["audit-query"]
    word = f"quokka{uuid.uuid4().hex[:10]}"
    long_message = f"the {word} hops over the fence; " + " ".join(f"filler{i}" for i in range(900))
    calls: Counter[str] = Counter()
    with anyio.fail_after(60):
        async with connect(gateway.url(), token) as aggregated, connect(gateway.url(EV_STDIO), token) as direct:
            for i in range(4):
                await aggregated.call_tool(f"{EV_STDIO}__echo", {"message": f"aggregated {i}"})
                calls["echo"] += 1
            result = await aggregated.call_tool(f"{EV_STDIO}__echo", {"message": long_message})
            assert text_of(result) == f"Echo: {long_message}"
            calls["echo"] += 1
            for i in range(4):
                await direct.call_tool("echo", {"message": f"direct {i}"})
                calls["echo"] += 1
            for a, b in [(i, 2 * i + 1) for i in range(3)]:
                assert f"is {a + b}." in text_of(await direct.call_tool("get-sum", {"a": a, "b": b}))
                calls["get-sum"] += 1
    return QueryRun(gateway, word, long_message, calls)


def find_word(run: QueryRun) -> dict[str, Any]:
    found = logs_json(run.gateway, "--search", run.word, *LIST_ALL)
    assert len(found) == 1, f"`logs --search {run.word}` found {len(found)} records: {found}"
    return found[0]


async def test_search_finds_a_call_by_a_word_in_its_argument(query_run: QueryRun) -> None:
    hit = find_word(query_run)
    print(f"`logs --search {query_run.word}` -> record {hit['id']}")
    assert hit["method"] == "tools/call" and hit["name"] == "echo", hit
    assert hit["client"] == "audit-query" and hit["server"] == EV_STDIO, hit
    assert query_run.word in hit["request"]
    assert logs_json(query_run.gateway, "--search", "wombat" + query_run.word, *LIST_ALL) == []
    by_tool = Counter(
        row["name"]
        for row in logs_json(query_run.gateway, "--client", "audit-query", "--method", "tools/call", *LIST_ALL)
    )
    assert by_tool == query_run.calls, by_tool
    filtered = logs_json(query_run.gateway, "--tool", "get-sum", "--server", EV_STDIO, "--since", "10m", *LIST_ALL)
    assert len(filtered) == query_run.calls["get-sum"], filtered


async def test_show_prints_the_full_request_and_response(query_run: QueryRun) -> None:
    hit = find_word(query_run)
    text = query_run.gateway.cli("logs", "show", str(hit["id"])).stdout
    print(f"`logs show {hit['id']}`: {len(text)} characters")
    assert query_run.word in text and "filler899" in text, text[:500]
    assert text.count("filler899") == 2, "the whole message in the request and in the response"


async def test_show_json_returns_the_full_record(query_run: QueryRun) -> None:
    hit = find_word(query_run)
    shown = query_run.gateway.cli("logs", "show", str(hit["id"]), "--json").json()
    assert shown["id"] == hit["id"] and shown["hash"] == hit["hash"]
    message = query_run.long_message
    assert json.loads(shown["request"]) == {"name": f"{EV_STDIO}__echo", "arguments": {"message": message}}
    assert json.loads(shown["response"])["content"] == [{"type": "text", "text": f"Echo: {message}"}]
    assert shown["request_size"] == len(shown["request"].encode()) > len(message)
    assert shown["response_size"] == len(shown["response"].encode()) > len(message)
    assert shown["latency_us"] > 0 and shown["status"] == "ok"
    print(f"`logs show {hit['id']} --json`: request {shown['request_size']} bytes, "
          f"response {shown['response_size']} bytes")


def check_stats(run: QueryRun, per: dict[tuple[str, str | None], dict[str, Any]]) -> None:
    expected = {(EV_STDIO, tool): count for tool, count in run.calls.items()}
    expected[(EV_STDIO, None)] = sum(run.calls.values())
    assert set(per) == set(expected), f"stats rows {sorted(per, key=str)}, expected {sorted(expected, key=str)}"
    for key, calls in expected.items():
        assert per[key]["calls"] == calls, f"{key}: {per[key]['calls']} calls counted, {calls} made"
        assert per[key]["errors"] == 0, f"{key}: {per[key]}"


async def test_stats_json_counts_calls_per_tool(query_run: QueryRun) -> None:
    stats = query_run.gateway.cli("logs", "stats", "--json").json()
    print(f"`logs stats --json`: {json.dumps(stats)}")
    per = {(entry["server"], entry["name"]): entry for entry in stats}
    check_stats(query_run, per)
    for entry in stats:
        assert entry["p50_us"] is not None and 0 < entry["p50_us"] <= entry["p95_us"], entry
        assert abs(entry["last_used"] - time.time() * 1000) < 120_000, entry


async def test_stats_table_counts_calls_per_tool(query_run: QueryRun) -> None:
    table = query_run.gateway.cli("logs", "stats").stdout
    print(f"`logs stats`:\n{table}")
    lines = table.splitlines()
    assert lines[0].split()[:6] == ["SERVER", "TOOL", "CALLS", "ERRORS", "P50", "P95"], table
    per = {}
    for line in lines[1:]:
        match = re.match(r"(\S+)\s+(\(all tools\)|\S+)\s+(\d+)\s+(\d+)\s", line)
        assert match, f"unexpected stats line {line!r}"
        server, tool, calls, errors = match.groups()
        per[(server, None if tool == "(all tools)" else tool)] = {"calls": int(calls), "errors": int(errors)}
    check_stats(query_run, per)
