"""A stdio upstream killed mid-session: the gateway fails the in-flight call, restarts the
server, and goes on serving, in the same client session and in new ones."""

from __future__ import annotations

import os
import signal
import time

import anyio
import mcp.types as types
import pytest
from mcp import MCPError

from conftest import EV_STDIO, add_everything_stdio
from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of
from helpers.procs import is_running

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def gateway(make_gateway) -> Gateway:
    return make_gateway("gateway-crash", add_everything_stdio, ready=[EV_STDIO])


def upstream_pid(gateway: Gateway) -> int:
    """The PID of the gateway's server-everything child: found under the gateway in /proc, not by name."""
    pids = gateway.upstream_pids(str(paths.SERVER_EVERYTHING))
    assert len(pids) == 1, f"expected one server-everything under gateway {gateway.pid}: {pids}"
    return pids[0]


async def test_killed_upstream_fails_the_call_then_restarts(gateway: Gateway) -> None:
    before = gateway.wait_until(EV_STDIO, "ready")
    restarts_before = before["status"]["restarts"]
    victim = upstream_pid(gateway)
    progressed = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, types.ProgressNotification):
            progressed.set()

    async with connect(gateway.url(EV_STDIO), gateway.token, message_handler=on_message) as client:
        assert text_of(await client.call_tool("echo", {"message": "before"})) == "Echo: before"

        outcome: list[object] = []

        async def long_call() -> None:
            try:
                outcome.append(
                    await client.call_tool(
                        "trigger-long-running-operation",
                        {"duration": 30, "steps": 30},
                        meta={"progressToken": "crash"},
                    )
                )
            except MCPError as error:
                outcome.append(error)

        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(long_call)
            with anyio.fail_after(15):
                await progressed.wait()
            os.kill(victim, signal.SIGKILL)
            killed = time.monotonic()
            with anyio.move_on_after(20):
                while not outcome:
                    await anyio.sleep(0.05)
            group.cancel_scope.cancel()

        assert outcome, "the in-flight call got no answer within 20 s of the upstream's death"
        assert isinstance(outcome[0], MCPError), f"expected a JSON-RPC error, got {outcome[0]!r}"
        failed_after = time.monotonic() - killed
        assert time.monotonic() - started < 30, "the call ran its full course instead of failing"
        print(f"in-flight call failed {failed_after:.2f} s after the kill: {outcome[0]}")

        after = await anyio.to_thread.run_sync(
            lambda: gateway.wait_until(EV_STDIO, "ready", min_restarts=restarts_before + 1)
        )
        assert after["status"]["restarts"] >= 1
        replacement = upstream_pid(gateway)
        assert replacement != victim and not is_running(victim)

        # Once the server reports ready again, the same client session goes on with it.
        result = await client.call_tool("echo", {"message": "after"})
        assert text_of(result) == "Echo: after"

    async with connect(gateway.url(), gateway.token) as fresh:
        assert text_of(await fresh.call_tool(f"{EV_STDIO}__echo", {"message": "fresh"})) == "Echo: fresh"

    assert gateway.proc.alive() and is_running(gateway.pid), "the gateway process died"
    print(f"restarts={after['status']['restarts']}, upstream pid {victim} -> {replacement}")
