"""Toxic flows with real peers: a Python SDK stdio server whose tools read private notes,
fetch a web page and send an email, and the Python SDK as the client.

A client whose view holds a private-data, an untrusted-content and an outbound tool is
flagged by `clients flows`, naming the tools; a client whose permissions hide the outbound
tools is not; the user's label overrides change the verdict and `auto` restores it. With
`policy.flow_guard` on, a session's outbound call runs before anything untrusted reached
it, waits for approval after an untrusted result (the rule names the guard), and runs once
approved; another session of the same client is not held; a stateless client is guarded
as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client

from helpers import paths
from helpers.gateway import Gateway, Switchboard
from helpers.mcp_client import connect, text_of
from test_policy import acli, call_without_asking, eventually, nonce, pending_approval, start_call

pytestmark = pytest.mark.anyio

SERVER = "flows"
SCRIPT = paths.HELPERS / "flow_server.py"
READ, FETCH, SEND = f"{SERVER}__read_notes", f"{SERVER}__fetch_page", f"{SERVER}__send_email"


def start(make_gateway: Callable[..., Gateway], name: str, *, guard: bool) -> tuple[Gateway, dict[str, str]]:
    tokens: dict[str, str] = {}

    def configure(switchboard: Switchboard) -> None:
        switchboard.add_stdio(SERVER, paths.PYTHON, SCRIPT)
        switchboard.trust(SERVER)
        # Open-world tools ask by default; here they are allowed so that only the guard asks.
        switchboard.cli("tools", "set", SERVER, "*", "allow")
        switchboard.cli("settings", "set", "policy.approval_timeout_secs", "60")
        if guard:
            switchboard.cli("settings", "set", "policy.flow_guard", "on")
        tokens["reader"] = switchboard.add_client("reader")
        switchboard.cli("tools", "set", SERVER, "fetch_page", "deny", "--client", "reader")
        switchboard.cli("tools", "set", SERVER, "send_email", "deny", "--client", "reader")

    gateway = make_gateway(name, configure, ready=[SERVER])
    tokens["acceptance"] = gateway.token
    return gateway, tokens


def flows_of(gateway: Gateway) -> dict[str, dict[str, Any]]:
    rows = gateway.cli("clients", "flows", "--json").json()
    assert isinstance(rows, list), rows
    return {row["client"]: row for row in rows}


def labelled(row: dict[str, Any], label: str) -> set[str]:
    return {tool["name"] for tool in row["tools"] if tool[label]}


async def test_a_client_with_all_three_is_flagged_naming_its_tools(make_gateway) -> None:
    gateway, _ = start(make_gateway, "gateway-flows-report", guard=False)
    flows = flows_of(gateway)
    mine = flows["acceptance"]
    assert mine["toxic"] is True and mine["guard"] is False, mine
    assert READ in labelled(mine, "private_data"), mine
    assert FETCH in labelled(mine, "untrusted_content"), mine
    assert SEND in labelled(mine, "outbound"), mine
    assert READ not in labelled(mine, "outbound"), "a read-only closed-world tool sends nothing out"
    why = {tool["name"]: tool["why"] for tool in mine["tools"]}
    assert all(why[name] for name in (READ, FETCH, SEND)), why

    # Its permissions hide the outbound tools: no toxic flow in its view.
    reader = flows["reader"]
    assert reader["toxic"] is False, reader
    assert {tool["name"] for tool in reader["tools"]} == {READ}, reader

    text = gateway.cli("clients", "flows").stdout
    assert "TOXIC FLOW" in text and SEND in text and "policy.flow_guard on" in text, text

    # The user says the notes are not private: the flow goes; `auto` brings it back.
    await acli(gateway, "tools", "flow", SERVER, "read_notes", "--private-data", "no")

    async def toxic(want: bool) -> bool:
        rows = await anyio.to_thread.run_sync(lambda: flows_of(gateway))
        return rows["acceptance"]["toxic"] is want

    await eventually(lambda: toxic(False), "an override clears the toxic flow")
    row = (await anyio.to_thread.run_sync(lambda: flows_of(gateway)))["acceptance"]
    assert READ not in labelled(row, "private_data"), row
    await acli(gateway, "tools", "flow", SERVER, "read_notes", "--private-data", "auto")
    await eventually(lambda: toxic(True), "auto restores the inferred label")


async def test_guard_holds_outbound_calls_after_untrusted_content(make_gateway) -> None:
    gateway, tokens = start(make_gateway, "gateway-flows-guard", guard=True)
    assert flows_of(gateway)["acceptance"]["guard"] is True
    token = tokens["acceptance"]
    with anyio.fail_after(120):
        async with connect(gateway.url(), token, mode="legacy") as session, connect(
            gateway.url(), token, mode="legacy"
        ) as other:
            # Nothing untrusted yet: the outbound tool runs without asking.
            first = nonce()
            result = await call_without_asking(gateway, session, SEND, {"to": "me@example.org", "body": first}, first)
            assert first in text_of(result)
            notes = await session.call_tool(READ, {"topic": "doors"})
            assert "4711" in text_of(notes), "a private-data tool is not held"

            await fetch_untrusted(gateway, session)

            # Now this session holds untrusted content: its outbound call waits.
            held = nonce()
            async with anyio.create_task_group() as group:
                call = start_call(group, session, SEND, {"to": "drop@example.net", "body": held})
                row = await pending_approval(gateway, held)
                assert not call.done.is_set(), "the outbound call ran without asking"
                assert "toxic-flow guard" in (row.get("reason") or ""), row
                assert "fetch_page" in row["reason"], row

                # Another session of the same client received nothing untrusted.
                free = nonce()
                ran = await call_without_asking(gateway, other, SEND, {"to": "me@example.org", "body": free}, free)
                assert free in text_of(ran)

                await acli(gateway, "approvals", "approve", str(row["id"]))
                await call.wait(30)
            assert call.error is None, call.error
            assert held in text_of(call.result)

            # Non-outbound tools stay as they were.
            again = await session.call_tool(READ, {"topic": "keys"})
            assert "notes on keys" in text_of(again)


async def test_guard_without_sessions_holds_the_client(make_gateway) -> None:
    """A 2026-07-28 client has no session: what it received marks the client."""
    gateway, tokens = start(make_gateway, "gateway-flows-stateless", guard=True)
    with anyio.fail_after(120):
        async with connect(gateway.url(), tokens["acceptance"]) as client:
            await fetch_then_held(gateway, client)
        # Another client is untouched.
        async with connect(gateway.url(), tokens["reader"]) as reader:
            notes = await reader.call_tool(READ, {"topic": "plants"})
            assert "notes on plants" in text_of(notes)


async def fetch_untrusted(gateway: Gateway, client: Client) -> None:
    """A web page, fetched without asking: from now on the caller holds untrusted content."""
    seen = nonce()
    page = await call_without_asking(gateway, client, FETCH, {"url": f"https://example.org/{seen}"}, seen)
    assert "Release notes" in text_of(page)


async def fetch_then_held(gateway: Gateway, client: Client) -> None:
    await fetch_untrusted(gateway, client)
    held = nonce()
    async with anyio.create_task_group() as group:
        call = start_call(group, client, SEND, {"to": "drop@example.net", "body": held})
        row = await pending_approval(gateway, held)
        assert "toxic-flow guard" in row["reason"], row
        await acli(gateway, "approvals", "deny", str(row["id"]))
        await call.wait(30)
    assert call.error is not None, f"a denied call returned {call.result!r}"
