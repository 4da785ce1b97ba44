"""Several `switchboard serve` instances on one PostgreSQL database, as a team runs them
behind one address.

- A permission set through instance A's control API applies to a call on instance B within a
  second: B hears of the change from PostgreSQL (LISTEN/NOTIFY), not by polling.
- A call waiting for approval on A is answered through B's control API, and runs on A.
- Rate limits are one budget across the instances.
- After kill -9 of A under load on both, every answered call has its record and
  `switchboard logs verify` walks one intact chain written by both.

Runs on the PostgreSQL pass of `make test` (tests/postgres.sh names the server); without one
it is skipped.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import MCPError

from conftest import EV_STDIO, add_everything_stdio
from helpers.database import audit_rows, create_database, postgres_server
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import descendants, is_running, kill_pids

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(postgres_server() is None, reason="needs a PostgreSQL server (make test starts one)"),
]

POLICY_DENIED = -32010
RATE_LIMITED = -32029
ECHO = f"{EV_STDIO}__echo"


@pytest.fixture
def pair(session_dir: Path, sandbox_env: dict[str, str], log_dir: Path) -> Iterator[tuple[Gateway, Gateway]]:
    """Instances A and B: two data dirs, one database, one client token."""
    server = postgres_server()
    assert server
    tag = uuid.uuid4().hex[:8]
    url = create_database(server, f"sb_instances_{tag}")
    a = Gateway(session_dir / f"instance-a-{tag}", sandbox_env, log_dir, database=url)
    b = Gateway(session_dir / f"instance-b-{tag}", sandbox_env, log_dir, database=url)
    add_everything_stdio(a)
    a.token = a.add_client("acceptance")
    b.token = a.token
    a.start(f"instance-a-{tag}")
    b.start(f"instance-b-{tag}")
    a.wait_all([EV_STDIO])
    b.wait_all([EV_STDIO])
    yield a, b
    for gateway in (a, b):
        gateway.stop()


async def echo(gateway: Gateway, message: str) -> str:
    async with connect(gateway.url(), gateway.token) as client:
        return text_of(await client.call_tool(ECHO, {"message": message}))


async def test_a_permission_set_through_one_instance_applies_on_the_other_within_a_second(pair) -> None:
    a, b = pair
    assert await echo(b, "before") == "Echo: before"
    async with connect(b.url(), b.token) as client:
        changed = time.monotonic()
        await anyio.to_thread.run_sync(
            lambda: a.rpc("permission_set", {"server": EV_STDIO, "tool": "echo", "permission": "deny"})
        )
        refused_after = None
        while refused_after is None:
            try:
                await client.call_tool(ECHO, {"message": "after"})
            except MCPError as error:
                assert error.code == POLICY_DENIED, error
                refused_after = time.monotonic() - changed
            assert time.monotonic() - changed < 5, "B still runs the tool 5 s after A denied it"
    print(f"denied through A; B refused the call {refused_after * 1000:.0f} ms later")
    assert refused_after < 1.0, f"B applied the change after {refused_after:.2f} s"


async def test_an_approval_asked_on_one_instance_is_answered_through_the_other(pair) -> None:
    a, b = pair
    a.rpc("permission_set", {"server": EV_STDIO, "tool": "echo", "permission": "ask"})
    tag = uuid.uuid4().hex[:8]
    outcome: dict[str, Any] = {}

    async def call() -> None:
        async with connect(a.url(), a.token) as client:
            outcome["text"] = text_of(await client.call_tool(ECHO, {"message": f"approve {tag}"}))
            outcome["at"] = time.monotonic()

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            group.start_soon(call)
            pending = None
            while pending is None:
                await anyio.sleep(0.1)
                listed = await anyio.to_thread.run_sync(lambda: b.rpc("approvals_list", {"pending_only": True}))
                pending = next((p for p in listed if tag in (p.get("arguments") or "")), None)
            await anyio.sleep(0.5)
            assert "text" not in outcome, "the call ran before anyone answered"
            answered = time.monotonic()
            await anyio.to_thread.run_sync(lambda: b.rpc("approval_answer", {"id": pending["id"], "answer": "once"}))
    assert outcome["text"] == f"Echo: approve {tag}"
    print(f"approval #{pending['id']} asked on A, answered through B; A ran the call "
          f"{(outcome['at'] - answered) * 1000:.0f} ms later")


async def test_rate_limits_are_one_budget_across_instances(pair) -> None:
    a, b = pair
    a.cli("settings", "set", "ratelimit.tool", "6")
    # Both instances hear of the setting.
    await anyio.sleep(1.0)
    ran, refused = 0, 0
    for n in range(10):
        gateway = a if n % 2 == 0 else b
        async with connect(gateway.url(), gateway.token) as client:
            try:
                await client.call_tool(ECHO, {"message": f"limited {n}"})
                ran += 1
            except MCPError as error:
                assert error.code == RATE_LIMITED, error
                refused += 1
    print(f"per-tool limit 6/min over two instances: {ran} ran, {refused} refused")
    assert ran == 6 and refused == 4, (ran, refused)


async def test_every_answered_call_is_recorded_after_kill_9_of_one_instance(pair) -> None:
    a, b = pair
    nonce = uuid.uuid4().hex[:8]
    answered: set[str] = set()
    sent: set[str] = set()
    stop = anyio.Event()
    leftovers = descendants(a.proc.pid)

    async def worker(k: int) -> None:
        gateway = a if k % 2 == 0 else b
        try:
            async with connect(gateway.url(), gateway.token) as client:
                i = 0
                while not stop.is_set():
                    message = f"{nonce} worker {k} call {i}"
                    i += 1
                    sent.add(message)
                    result = await client.call_tool(ECHO, {"message": message})
                    if not result.is_error and text_of(result) == f"Echo: {message}":
                        answered.add(message)
        except Exception:  # A's connections die with it
            pass

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for k in range(4):
            group.start_soon(worker, k)
        with anyio.fail_after(90):
            while len(answered) < 300 or time.monotonic() - started < 1.5:
                await anyio.sleep(0.005)
        os.kill(a.proc.pid, signal.SIGKILL)
        at_kill = len(answered)
        # B goes on serving its clients.
        with anyio.fail_after(60):
            while len(answered) < at_kill + 100:
                await anyio.sleep(0.01)
        stop.set()
        await anyio.sleep(0.5)
        group.cancel_scope.cancel()
    assert a.proc.wait(10) == -signal.SIGKILL
    kill_pids(pid for pid in leftovers if is_running(pid))

    rows = audit_rows(b.database, b.data_dir, "method = 'tools/call' AND client = ?", ("acceptance",))
    recorded = {json.loads(row["request"])["arguments"]["message"] for row in rows if nonce in (row["request"] or "")}
    missing = sorted(answered - recorded)
    print(f"A killed after {at_kill} answered calls; {len(answered)} answered in all on A and B, "
          f"{len(recorded)} recorded, {len(missing)} answered without a record")
    assert not missing, f"answered calls without a record: {missing[:5]}"
    verify = b.cli("logs", "verify")
    assert "intact" in verify.stdout, verify.describe()
    print(verify.stdout.strip())
