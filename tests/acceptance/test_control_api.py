"""The control API's management commands over HTTP (`POST /api/rpc`, control token), with
server-everything over stdio as the upstream: what a server offers besides tools (resources,
templates, prompts), its stderr log, a restart that starts a fresh process, editing a server
(an empty env value keeps the stored secret), rules for one client and a client's profile that
the gateway applies, and adding a server from the bundled catalog.
"""

from __future__ import annotations

import time
from typing import Any

import httpx2
import pytest

from conftest import EV_STDIO, add_everything_stdio
from helpers import paths
from helpers.gateway import Gateway, Switchboard
from helpers.mcp_client import connect

pytestmark = pytest.mark.anyio

# The gateway applies edits made through the store "within a second"; room for a busy machine.
APPLY_LIMIT = 5.0


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.code = body.get("code")
        self.message = body.get("message", "")


def rpc(gateway: Gateway, method: str, params: Any = None) -> Any:
    response = httpx2.post(
        f"{gateway.origin}/api/rpc",
        headers={"authorization": f"Bearer {gateway.control_token}", "x-switchboard": "1"},
        json={"method": method, "params": params},
        timeout=30,
    )
    if response.status_code != 200:
        raise ApiError(response.status_code, response.json())
    return response.json()


def wait_for(what: str, check, limit: float = APPLY_LIMIT):
    deadline = time.monotonic() + limit
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def gateway(make_gateway) -> Gateway:
    def configure(switchboard: Switchboard) -> None:
        # Header values typed in the UI are secrets; this machine has no keyring
        # running, so the gateway uses the explicit file store.
        switchboard.env["SWITCHBOARD_SECRET_STORE"] = "file"
        add_everything_stdio(switchboard)
        switchboard.trust(EV_STDIO)
        switchboard.add_client("bob")

    return make_gateway("gateway-control-api", configure, ready=[EV_STDIO])


def test_offer_lists_resources_templates_and_prompts(gateway: Gateway) -> None:
    offer = rpc(gateway, "server_offer", {"name": EV_STDIO})
    resources = [r for r in offer["resources"] if not r["template"]]
    templates = [r for r in offer["resources"] if r["template"]]
    assert resources and all(r["uri"] for r in resources), offer
    assert any("{" in t["uri"] for t in templates), templates
    prompts = {p["name"]: p for p in offer["prompts"]}
    assert prompts, offer
    # A prompt with arguments says which are required.
    with_args = [p for p in prompts.values() if p["arguments"]]
    assert with_args and any(a["required"] for p in with_args for a in p["arguments"]), prompts

    with pytest.raises(ApiError) as unknown:
        rpc(gateway, "server_offer", {"name": "nope"})
    assert unknown.value.status == 404 and unknown.value.code == "not_found"


def test_stderr_log_and_restart_start_a_fresh_process(gateway: Gateway) -> None:
    marker = str(paths.SERVER_EVERYTHING)
    before = set(gateway.upstream_pids(marker))
    assert before, "server-everything is running"
    log = rpc(gateway, "server_log", {"name": EV_STDIO})
    assert log["name"] == EV_STDIO and "started, pid" in log["text"], log

    rpc(gateway, "server_restart", {"name": EV_STDIO})
    after = wait_for(
        "a new server process",
        lambda: (pids := set(gateway.upstream_pids(marker))) and not (pids & before) and pids,
        limit=30,
    )
    gateway.wait_all([EV_STDIO])
    log = rpc(gateway, "server_log", {"name": EV_STDIO})
    assert f"pid {next(iter(after))}" in log["text"], log["text"][-500:]

    with pytest.raises(ApiError) as unknown:
        rpc(gateway, "server_restart", {"name": "nope"})
    assert unknown.value.code == "not_found" and "nope" in unknown.value.message


async def test_rules_for_one_client_and_profiles_apply(gateway: Gateway) -> None:
    rpc(
        gateway,
        "rule_set",
        {"scope": {"kind": "client", "name": "acceptance"}, "server": EV_STDIO, "tool": "echo", "permission": "deny"},
    )
    rules = rpc(gateway, "rules_list")
    assert {"scope": {"kind": "client", "name": "acceptance"}, "server": EV_STDIO, "tool": "echo", "permission": "deny"} in rules

    async def tool_names() -> set[str]:
        async with connect(gateway.url(), gateway.token) as client:
            return {t.name for t in (await client.list_tools()).tools}

    deadline = time.monotonic() + APPLY_LIMIT
    while f"{EV_STDIO}__echo" in await tool_names():
        assert time.monotonic() < deadline, "the client rule hides echo"
        time.sleep(0.1)

    rpc(gateway, "rule_set", {"scope": {"kind": "client", "name": "acceptance"}, "server": EV_STDIO, "tool": "echo", "permission": None})
    deadline = time.monotonic() + APPLY_LIMIT
    while f"{EV_STDIO}__echo" not in await tool_names():
        assert time.monotonic() < deadline, "removing the rule shows echo again"
        time.sleep(0.1)

    with pytest.raises(ApiError) as unknown:
        rpc(gateway, "rule_set", {"scope": {"kind": "client", "name": "ghost"}, "server": "*", "tool": "*", "permission": "deny"})
    assert unknown.value.code == "not_found"

    # A profile without the server hides all of it from its clients.
    gateway.add_http("other", "http://127.0.0.1:9/mcp")
    gateway.cli("servers", "disable", "other")
    gateway.cli("profiles", "add", "none-of-it", "--server", "other")
    assert {"name": "none-of-it", "servers": ["other"]} in rpc(gateway, "profiles_list")
    rpc(gateway, "client_set_profile", {"client": "acceptance", "profile": "none-of-it"})
    assert any(c["name"] == "acceptance" and c["profile"] == "none-of-it" for c in rpc(gateway, "clients_list"))
    deadline = time.monotonic() + APPLY_LIMIT
    while any(n.startswith(f"{EV_STDIO}__") for n in await tool_names()):
        assert time.monotonic() < deadline, "the profile hides the server"
        time.sleep(0.1)
    rpc(gateway, "client_set_profile", {"client": "acceptance", "profile": None})
    deadline = time.monotonic() + APPLY_LIMIT
    while f"{EV_STDIO}__echo" not in await tool_names():
        assert time.monotonic() < deadline, "back to every server"
        time.sleep(0.1)


def test_edit_keeps_stored_secret_values(gateway: Gateway) -> None:
    added = rpc(
        gateway,
        "server_add",
        {
            "name": "edited",
            "transport": {"kind": "http", "url": "http://127.0.0.1:9/mcp", "headers": [["Authorization", "Bearer s3cret-value"]]},
        },
    )
    assert added["transport"] == {"kind": "http", "url": "http://127.0.0.1:9/mcp"}
    stored_before = gateway.server("edited")["transport"]["headers"]["Authorization"]
    assert "s3cret-value" not in stored_before

    updated = rpc(
        gateway,
        "server_update",
        {"name": "edited", "transport": {"kind": "http", "url": "http://127.0.0.1:10/mcp", "headers": [["Authorization", ""]]}},
    )
    assert updated["transport"]["url"] == "http://127.0.0.1:10/mcp"
    after = gateway.server("edited")["transport"]
    assert after["url"] == "http://127.0.0.1:10/mcp"
    assert after["headers"]["Authorization"] == stored_before

    with pytest.raises(ApiError) as bad:
        rpc(gateway, "server_update", {"name": "edited", "transport": {"kind": "http", "url": "not a url", "headers": []}})
    assert bad.value.code == "invalid"
    with pytest.raises(ApiError) as missing:
        rpc(gateway, "server_update", {"name": "ghost", "transport": {"kind": "stdio", "command": "x", "args": [], "env": []}})
    assert missing.value.code == "not_found"
    rpc(gateway, "server_remove", {"name": "edited"})


def test_catalog_search_and_add(gateway: Gateway) -> None:
    hits = rpc(gateway, "catalog_search", {"text": "playwright"})
    assert hits, "the bundled catalog has the Playwright server"
    entry = hits[0]
    assert entry["options"] and entry["default_option"] is not None, entry
    option = entry["options"][entry["default_option"]]
    values = [
        [f["kind"], f["key"], f["default"] or (f["choices"][0] if f["choices"] else "/tmp")]
        for f in option["fields"]
        if f["required"]
    ]
    added = rpc(
        gateway,
        "catalog_add",
        {"id": entry["id"], "name": "from-catalog", "kind": option["kind"], "index": option["index"], "values": values},
    )
    assert added["name"] == "from-catalog" and added["launch_approved"], added
    assert any(s["name"] == "from-catalog" for s in rpc(gateway, "servers_list"))
    with pytest.raises(ApiError) as twice:
        rpc(
            gateway,
            "catalog_add",
            {"id": entry["id"], "name": "from-catalog", "kind": option["kind"], "index": option["index"], "values": values},
        )
    assert twice.value.code == "conflict"
    rpc(gateway, "server_set_enabled", {"name": "from-catalog", "enabled": False})
    rpc(gateway, "server_remove", {"name": "from-catalog"})
