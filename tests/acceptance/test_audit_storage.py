"""The audit log stays bounded and its tamper evidence holds against someone who can write it.

A gateway with its secret store on a real Secret Service (gnome-keyring on a private D-Bus),
the Python MCP SDK as the client and the echo fixture over stdio as the upstream:

- 100 KB results are stored as their first 16 KB with their length and SHA-256; the data
  folder grows by at most 20 KB a call; `logs show` and the control API say what was cut;
- with the size limit set low, the log's files stay under it while calls keep being recorded;
- the control API's settings and `switchboard doctor` show the space used;
- `logs verify` names records removed from the end (the newest hash is kept in the keyring),
  and a chain rebuilt without the key (records are keyed with HMAC-SHA256, the key in the
  keyring).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import anyio
import pytest
from test_audit import db_rows, db_write, tampered_id, verified_count

from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

ECHO = "echo"
ECHO_SERVER = paths.TARGET_DIR / "debug" / "echo-server"
RESULT_BYTES = 100 * 1024


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def audit_bytes(gateway: Gateway) -> int:
    return sum(p.stat().st_size for p in gateway.data_dir.glob("audit.db*"))


def start(session_dir: Path, env: dict[str, str], log_dir: Path, name: str) -> Gateway:
    gateway = Gateway(session_dir / name, env, log_dir)
    gateway.add_stdio(ECHO, ECHO_SERVER, "--stdio")
    gateway.trust(ECHO)
    gateway.token = gateway.add_client("acceptance")
    gateway.start(name)
    gateway.wait_all([ECHO])
    return gateway


async def call_payloads(gateway: Gateway, count: int) -> None:
    async with connect(gateway.url(ECHO), gateway.token) as client:
        for _ in range(count):
            result = await client.call_tool("payload", {"bytes": RESULT_BYTES})
            assert not result.is_error, text_of(result)
            assert len(text_of(result)) == RESULT_BYTES


async def test_large_results_are_capped_and_the_folder_grows_by_at_most_20_kb_a_call(
    session_dir: Path, keyring_env: dict[str, str], log_dir: Path
) -> None:
    gateway = start(session_dir, keyring_env, log_dir, "gateway-audit-cap")
    with anyio.fail_after(120):
        await call_payloads(gateway, 20)
    before = folder_bytes(gateway.data_dir)
    calls = 300
    with anyio.fail_after(240):
        await call_payloads(gateway, calls)
    grown = folder_bytes(gateway.data_dir) - before
    per_call = grown / calls
    print(f"{calls} calls with 100 KB results grew the data folder by {grown} bytes: {per_call:.0f} bytes a call")
    assert per_call <= 20 * 1024, f"{per_call:.0f} bytes a call"

    # The stored result: its start, its full length and its digest.
    row = db_rows(gateway, "method = 'tools/call'")[-1]
    stored = json.loads(row["response"])
    assert stored["truncated"] is True
    assert len(row["response"]) <= 16 * 1024
    assert stored["size"] == row["response_size"] > RESULT_BYTES
    assert re.fullmatch(r"[0-9a-f]{64}", stored["sha256"]), stored["sha256"]
    assert stored["preview"].startswith("{") and "x" * 8000 in stored["preview"]

    # The detail view is told what was cut; settings show the space used.
    detail = gateway.rpc("audit_detail", {"id": row["id"]})
    assert detail["response_cut"] == {"size": stored["size"], "sha256": stored["sha256"]}
    assert detail["response"] == stored["preview"]
    storage = gateway.rpc("settings_get")["audit_storage"]
    print(f"settings: {storage}")
    assert storage["records"] >= calls
    assert storage["keyed"] is True, storage
    assert abs(storage["bytes"] - audit_bytes(gateway)) < 1024 * 1024

    # A lower cap applies to the next call.
    settings = gateway.rpc("settings_get")
    update = {"audit": {**settings["audit"], "max_payload_kb": 4}, "defaults": settings["defaults"]}
    gateway.rpc("settings_set", update)
    with anyio.fail_after(60):
        await call_payloads(gateway, 1)
    assert len(db_rows(gateway, "method = 'tools/call'")[-1]["response"]) <= 4 * 1024

    # Out of range: refused with the reason.
    bad = {"audit": {**settings["audit"], "max_mb": 1}, "defaults": settings["defaults"]}
    refused = gateway.cli("settings", "set", "audit.max_mb", "1", check=False)
    assert refused.returncode != 0 and "at least 10 MB" in refused.stderr, refused.describe()
    with pytest.raises(Exception, match="at least 10 MB"):
        gateway.rpc("settings_set", bad)

    doctor = json.loads(gateway.cli("doctor", "--json", check=False).stdout)
    audit = [c for c in doctor["checks"] if c["area"] == "audit"]
    print(f"doctor: {audit}")
    assert audit and "MB used by" in audit[0]["detail"], audit
    assert not [c for c in audit if c["subject"] == "tamper evidence"], audit
    gateway.stop()


async def test_with_a_low_size_limit_the_log_stays_under_it_while_calls_are_recorded(
    session_dir: Path, keyring_env: dict[str, str], log_dir: Path
) -> None:
    gateway = start(session_dir, keyring_env, log_dir, "gateway-audit-limit")
    limit = 10 * 1024 * 1024
    gateway.cli("settings", "set", "audit.max_mb", "10")
    peak = 0
    calls = 0
    with anyio.fail_after(240):
        async with connect(gateway.url(ECHO), gateway.token) as client:
            # 1,500 calls store about 25 MB: two and a half times the limit.
            for _ in range(1500):
                result = await client.call_tool("payload", {"bytes": RESULT_BYTES})
                assert not result.is_error
                calls += 1
                if calls % 50 == 0:
                    peak = max(peak, audit_bytes(gateway))
    await anyio.sleep(1)
    peak = max(peak, audit_bytes(gateway))
    rows = db_rows(gateway, "method = 'tools/call'")
    print(f"{calls} calls: the audit files peaked at {peak / 1048576:.1f} MB (limit 10 MB); {len(rows)} calls kept")
    assert peak <= limit, f"{peak} bytes"
    assert 100 < len(rows) < calls, len(rows)
    # The newest calls are the ones kept, and the chain verifies across the pruning.
    assert rows[-1]["id"] == max(r["id"] for r in db_rows(gateway))
    gateway.stop()
    verified_count(gateway.cli("logs", "verify"))


async def test_verify_names_a_removed_tail_and_a_chain_rebuilt_without_the_key(
    session_dir: Path, keyring_env: dict[str, str], log_dir: Path
) -> None:
    gateway = start(session_dir, keyring_env, log_dir, "gateway-audit-seal")
    with anyio.fail_after(60):
        async with connect(gateway.url(ECHO), gateway.token) as client:
            for i in range(12):
                await client.call_tool("echo", {"text": f"sealed {i}"})
    gateway.stop()
    total = len(db_rows(gateway))
    verify = gateway.cli("logs", "verify")
    assert verified_count(verify) == total
    assert "keyed" in verify.stdout and f"reaches record {total}" in verify.stdout, verify.describe()

    # The newest two records deleted: the rest still links up, the anchor names the gap.
    assert db_write(gateway, "DELETE FROM audit_events WHERE id > ?", (total - 2,)) == 2
    result = gateway.cli("logs", "verify", check=False)
    print(f"tail removed: {result.stderr.strip()}")
    assert tampered_id(result) == total
    assert "newest records were removed" in result.stderr

    # A record changed and the chain after it rebuilt with SHA-256, as one would without the key.
    rows = db_rows(gateway)
    target = rows[4]
    prev = rows[3]["hash"]
    for row in rows[4:]:
        if row["id"] == target["id"]:
            row["request"] = row["request"].replace("sealed", "forged")
        row["prev_hash"] = prev
        row["hash"] = unkeyed_hash(prev, row)
        prev = row["hash"]
        db_write(
            gateway,
            "UPDATE audit_events SET request = ?, prev_hash = ?, hash = ? WHERE id = ?",
            (row["request"], row["prev_hash"], row["hash"], row["id"]),
        )
    result = gateway.cli("logs", "verify", check=False)
    print(f"chain rebuilt without the key: {result.stderr.strip()}")
    assert tampered_id(result) == target["id"]
    assert "without its key" in result.stderr


def unkeyed_hash(prev: str, row: dict) -> str:
    """The chain hash without a key, as the published algorithm computes it."""
    fields = [
        row[k]
        for k in (
            "id", "ts", "client", "session", "server", "direction", "method", "name", "request",
            "request_size", "response", "response_size", "status", "error_code", "error_message",
            "latency_us", "decision", "rule",
        )
    ]
    if row.get("protocol_version") is not None:
        fields.append({"protocol_version": row["protocol_version"]})
    canonical = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev}\n{canonical}".encode()).hexdigest()
