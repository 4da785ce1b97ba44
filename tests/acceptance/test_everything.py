"""server-everything behind the gateway, over stdio and over streamable HTTP.

The Python MCP SDK (2.3) drives every feature through `/mcp` (all servers: tools and prompts
named `SERVER__NAME`, resource URIs `SERVER+URI`) and through `/mcp/SERVER` (one server,
names unchanged): tools, resources and templates, prompts, completions, progress with the
client's own token, sampling and elicitation requests sent mid-call, and cancellation.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import anyio
import mcp.types as types
import pytest

from conftest import EV_HTTP, EV_STDIO, start_everything_http, start_token_hop
from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of

pytestmark = pytest.mark.anyio

ARCHITECTURE = "demo://resource/static/document/architecture.md"
TEXT_TEMPLATE = "demo://resource/dynamic/text/{resourceId}"


@dataclass(frozen=True)
class Route:
    """One way to reach one upstream: through `/mcp` (aggregated) or `/mcp/SERVER`."""

    server: str
    aggregated: bool
    url: str

    def name(self, name: str) -> str:
        """A tool or prompt name as the client sees it."""
        return f"{self.server}__{name}" if self.aggregated else name

    def uri(self, uri: str) -> str:
        """A resource URI (or template) as the client sees it."""
        return f"{self.server}+{uri}" if self.aggregated else uri

    def __str__(self) -> str:
        return f"{self.server} via {'/mcp' if self.aggregated else '/mcp/' + self.server}"


ROUTES = [(server, aggregated) for server in (EV_STDIO, EV_HTTP) for aggregated in (True, False)]


def route_id(param: tuple[str, bool]) -> str:
    server, aggregated = param
    return f"{server}-{'aggregate' if aggregated else 'direct'}"


@pytest.fixture(params=ROUTES, ids=route_id)
def route(request: pytest.FixtureRequest, gateway: Gateway) -> Route:
    server, aggregated = request.param
    return Route(server, aggregated, gateway.url(None if aggregated else server))


async def test_lists_and_calls_tools(route: Route, gateway: Gateway) -> None:
    async with connect(route.url, gateway.token) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        for tool in ("echo", "get-sum", "trigger-long-running-operation"):
            assert route.name(tool) in names, f"{route}: {route.name(tool)} not in {sorted(names)}"
        if route.aggregated:
            prefixes = {name.split("__", 1)[0] for name in names}
            assert prefixes == {EV_STDIO, EV_HTTP}, f"every tool is SERVER__TOOL: {sorted(names)}"
        else:
            assert not any("__" in name for name in names), f"names unchanged: {sorted(names)}"

        message = f"héllo ✓ 🚀 {uuid.uuid4()}"
        echoed = await client.call_tool(route.name("echo"), {"message": message})
        assert not echoed.is_error
        assert text_of(echoed) == f"Echo: {message}"

        summed = await client.call_tool(route.name("get-sum"), {"a": 19, "b": 23})
        assert "The sum of 19 and 23 is 42." in text_of(summed)
        print(f"{route}: {len(names)} tools listed, echo and get-sum answered")


async def test_aggregate_is_the_union_of_servers(gateway: Gateway) -> None:
    """`/mcp` lists exactly each server's own tools and prompts, prefixed with the server's name."""
    expected_tools: set[str] = set()
    expected_prompts: set[str] = set()
    for server in (EV_STDIO, EV_HTTP):
        async with connect(gateway.url(server), gateway.token) as client:
            expected_tools |= {f"{server}__{t.name}" for t in (await client.list_tools()).tools}
            expected_prompts |= {f"{server}__{p.name}" for p in (await client.list_prompts()).prompts}
    async with connect(gateway.url(), gateway.token) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
    assert tools == expected_tools
    assert prompts == expected_prompts
    print(f"/mcp: {len(tools)} tools and {len(prompts)} prompts from 2 servers")


async def test_resources_and_templates(route: Route, gateway: Gateway, everything_http) -> None:
    async with connect(everything_http.url, None) as upstream:
        original = (await upstream.read_resource(ARCHITECTURE)).contents[0].text
    async with connect(route.url, gateway.token) as client:
        listed = {str(resource.uri) for resource in (await client.list_resources()).resources}
        assert route.uri(ARCHITECTURE) in listed, sorted(listed)

        read = await client.read_resource(route.uri(ARCHITECTURE))
        assert len(read.contents) == 1
        assert str(read.contents[0].uri) == route.uri(ARCHITECTURE)
        assert read.contents[0].text == original

        templates = (await client.list_resource_templates()).resource_templates
        assert route.uri(TEXT_TEMPLATE) in {t.uri_template for t in templates}, templates

        resource_id = random.randint(2, 999)
        uri = route.uri(TEXT_TEMPLATE.replace("{resourceId}", str(resource_id)))
        templated = await client.read_resource(uri)
        assert str(templated.contents[0].uri) == uri
        assert templated.contents[0].text.startswith(
            f"Resource {resource_id}: This is a plaintext resource"
        ), templated
        print(f"{route}: {len(listed)} resources, {len(templates)} templates, read both kinds")


async def test_prompts(route: Route, gateway: Gateway) -> None:
    async with connect(route.url, gateway.token) as client:
        names = {prompt.name for prompt in (await client.list_prompts()).prompts}
        for prompt in ("simple-prompt", "args-prompt", "completable-prompt"):
            assert route.name(prompt) in names, sorted(names)
        simple = await client.get_prompt(route.name("simple-prompt"))
        assert text_of(simple) == "This is a simple prompt without arguments."
        with_args = await client.get_prompt(route.name("args-prompt"), {"city": "Zürich", "state": "ZH"})
        assert text_of(with_args) == "What's weather in Zürich, ZH?"


async def test_completions(route: Route, gateway: Gateway) -> None:
    prompt = types.PromptReference(type="ref/prompt", name=route.name("completable-prompt"))
    template = types.ResourceTemplateReference(type="ref/resource", uri=route.uri(TEXT_TEMPLATE))
    async with connect(route.url, gateway.token) as client:
        department = await client.complete(prompt, {"name": "department", "value": "E"})
        assert department.completion.values == ["Engineering"]
        member = await client.complete(
            prompt, {"name": "name", "value": ""}, context_arguments={"department": "Sales"}
        )
        assert member.completion.values == ["David", "Eve", "Frank"]
        resource_id = await client.complete(template, {"name": "resourceId", "value": "17"})
        assert resource_id.completion.values == ["17"]


async def test_progress_carries_the_clients_token(route: Route, gateway: Gateway) -> None:
    token = f"progress-{uuid.uuid4()}"
    progress: list[types.ProgressNotificationParams] = []

    async def on_message(message) -> None:
        if isinstance(message, types.ProgressNotification):
            progress.append(message.params)

    async with connect(route.url, gateway.token, message_handler=on_message) as client:
        result = await client.call_tool(
            route.name("trigger-long-running-operation"),
            {"duration": 1, "steps": 4},
            meta={"progressToken": token},
        )
        assert "Long running operation completed" in text_of(result)
        # Notifications are delivered asynchronously; give the last one a moment.
        with anyio.move_on_after(2):
            while len(progress) < 4:
                await anyio.sleep(0.05)
    assert [p.progress for p in progress] == [1, 2, 3, 4], progress
    assert {p.progress_token for p in progress} == {token}, progress
    assert {p.total for p in progress} == {4}
    print(f"{route}: {len(progress)} progress notifications, all with the client's token")


async def test_sampling_request_mid_call(route: Route, gateway: Gateway) -> None:
    marker = f"marker-{uuid.uuid4()}"
    answer = f"sampled-{uuid.uuid4()}"
    asked: list[types.CreateMessageRequestParams] = []

    async def sampling(context, params: types.CreateMessageRequestParams):
        asked.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=answer),
            model="acceptance-model",
            stop_reason="endTurn",
        )

    async with connect(route.url, gateway.token, sampling_callback=sampling) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert route.name("trigger-sampling-request") in names, (
            "server-everything offers its sampling trigger only to clients that declare sampling: "
            f"{sorted(names)}"
        )
        result = await client.call_tool(
            route.name("trigger-sampling-request"), {"prompt": marker, "maxTokens": 33}
        )
    assert len(asked) == 1, asked
    assert marker in asked[0].messages[0].content.text
    assert asked[0].max_tokens == 33
    assert asked[0].system_prompt == "You are a helpful test server."
    assert not result.is_error
    assert answer in text_of(result) and "acceptance-model" in text_of(result)


async def test_elicitation_request_mid_call(route: Route, gateway: Gateway) -> None:
    name = f"Ada Lovelace {uuid.uuid4()}"
    asked: list[types.ElicitRequestParams] = []

    async def elicitation(context, params: types.ElicitRequestParams):
        asked.append(params)
        return types.ElicitResult(action="accept", content={"name": name, "check": True})

    async with connect(route.url, gateway.token, elicitation_callback=elicitation) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert route.name("trigger-elicitation-request") in names, sorted(names)
        result = await client.call_tool(route.name("trigger-elicitation-request"), {})
    assert len(asked) == 1, asked
    assert asked[0].message == "Please provide inputs for the following fields:"
    assert "name" in asked[0].requested_schema["properties"]
    text = text_of(result)
    assert "User provided the requested information" in text, text
    assert f"- Name: {name}" in text and "- Agreed to terms: true" in text, text


# Cancellation. server-everything logs nothing when a request is cancelled, so these
# upstreams sit behind recorders: a stdio tap (helpers/stdio_tap.py) and a recording HTTP
# hop (helpers/token_hop.py without a token). The evidence that the upstream saw the cancel:
# it was sent `notifications/cancelled` for the very request id the gateway gave the call,
# and it never answered that id (its SDK drops the result of a cancelled request), while
# its long-running tool would otherwise have answered after `duration` seconds.

TAP_STDIO = "tap-stdio"
TAP_HTTP = "tap-http"


@dataclass
class Tapped:
    gateway: Gateway
    records: dict[str, Path]


@pytest.fixture(scope="module")
def tapped(make_gateway, sandbox_env, log_dir, session_dir) -> Tapped:
    # The tap writes its record from inside the server's sandbox: into a folder granted to it.
    records = {TAP_STDIO: session_dir / "tap-records" / "tap-stdio.jsonl", TAP_HTTP: session_dir / "tap-http.jsonl"}
    upstream = start_everything_http("everything-http-tapped", sandbox_env, log_dir)
    origin = upstream.url.removesuffix("/mcp")
    recorder = start_token_hop("recording-hop", origin, sandbox_env, log_dir, record=records[TAP_HTTP])

    def configure(switchboard) -> None:
        switchboard.add_stdio(
            TAP_STDIO,
            paths.PYTHON,
            paths.STDIO_TAP,
            "--record",
            records[TAP_STDIO],
            "--",
            paths.NODE,
            paths.SERVER_EVERYTHING,
            "stdio",
        )
        switchboard.allow_write(TAP_STDIO, records[TAP_STDIO].parent)
        switchboard.add_http(TAP_HTTP, f"{recorder.url}/mcp")

    yield Tapped(make_gateway("gateway-tapped", configure, ready=[TAP_STDIO, TAP_HTTP]), records)
    recorder.proc.stop()
    upstream.proc.stop()


def recorded(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def upstream_call_id(record: Path, duration: float):
    """The id under which the upstream received the long call lasting `duration`."""
    for entry in recorded(record):
        msg = entry["msg"]
        if (
            entry["dir"] == "to_server"
            and msg.get("method") == "tools/call"
            and msg["params"].get("arguments", {}).get("duration") == duration
        ):
            return msg["id"]
    return None


async def cancel_seen(record: Path, request_id) -> None:
    """Waits (10 s at most) until the upstream was sent notifications/cancelled for `request_id`."""

    def cancels():
        return [
            entry
            for entry in recorded(record)
            if entry["dir"] == "to_server"
            and entry["msg"].get("method") == "notifications/cancelled"
            and entry["msg"].get("params", {}).get("requestId") == request_id
        ]

    with anyio.move_on_after(10):
        while not cancels():
            await anyio.sleep(0.1)
    assert cancels(), f"the upstream was never sent notifications/cancelled for id {request_id!r}"


@pytest.mark.parametrize("aggregated", [True, False], ids=["aggregate", "direct"])
@pytest.mark.parametrize("server", [TAP_STDIO, TAP_HTTP])
async def test_cancel_reaches_the_upstream(server: str, aggregated: bool, tapped: Tapped) -> None:
    gateway = tapped.gateway
    route = Route(server, aggregated, gateway.url(None if aggregated else server))
    # A duration no other call uses, so the upstream's copy of this call can be found.
    duration = round(3 + random.randint(1, 999_999) / 1_000_000, 6)
    token = f"cancel-{uuid.uuid4()}"
    first_progress = anyio.Event()

    async def on_message(message) -> None:
        if isinstance(message, types.ProgressNotification) and message.params.progress_token == token:
            first_progress.set()

    async with connect(route.url, gateway.token, message_handler=on_message) as client:
        started = time.monotonic()
        outcome: list[object] = []

        async def long_call() -> None:
            outcome.append(
                await client.call_tool(
                    route.name("trigger-long-running-operation"),
                    {"duration": duration, "steps": 3},
                    meta={"progressToken": token},
                )
            )

        async with anyio.create_task_group() as group:
            group.start_soon(long_call)
            with anyio.move_on_after(15):
                await first_progress.wait()
            group.cancel_scope.cancel()
        assert first_progress.is_set(), "no progress notification arrived within 15 s"
        assert outcome == [], "the call was cancelled before it could finish"

        request_id = upstream_call_id(tapped.records[server], duration)
        assert request_id is not None, f"the upstream never received the call: {tapped.records[server]}"

        await cancel_seen(tapped.records[server], request_id)

        # Wait past the moment the tool would have answered, then check it did not.
        await anyio.sleep(max(0.0, started + duration + 1.5 - time.monotonic()))
        answers = [
            entry
            for entry in recorded(tapped.records[server])
            if entry["dir"] == "from_server"
            and entry["msg"].get("id") == request_id
            and ("result" in entry["msg"] or "error" in entry["msg"])
        ]
        assert answers == [], f"the upstream still answered the cancelled call: {answers}"

        # The session goes on.
        after = await client.call_tool(route.name("echo"), {"message": "after the cancel"})
        assert text_of(after) == "Echo: after the cancel"
    print(f"{route}: upstream id {request_id!r} got notifications/cancelled and stopped answering")


async def test_cancel_on_the_direct_path(tapped: Tapped) -> None:
    """A call of a session client (2025-11-25) on `/mcp/SERVER` of a streamable HTTP server is
    relayed as bytes on the gateway's own session with the server, under an id of the
    gateway's. Cancelling it cancels it at the server, under that id, and records it as
    cancelled."""
    gateway = tapped.gateway
    duration = round(3 + random.randint(1, 999_999) / 1_000_000, 6)
    direct_before = gateway.status()["direct_requests"]

    async with connect(gateway.url(TAP_HTTP), gateway.token, mode="legacy") as client:
        assert text_of(await client.call_tool("echo", {"message": "first"})) == "Echo: first"
        async with anyio.create_task_group() as group:
            group.start_soon(
                client.call_tool, "trigger-long-running-operation", {"duration": duration, "steps": 3}
            )
            with anyio.move_on_after(15):
                while upstream_call_id(tapped.records[TAP_HTTP], duration) is None:
                    await anyio.sleep(0.05)
            group.cancel_scope.cancel()
        request_id = upstream_call_id(tapped.records[TAP_HTTP], duration)
        assert request_id is not None, "the upstream never received the call"

        await cancel_seen(tapped.records[TAP_HTTP], request_id)
        after = await client.call_tool("echo", {"message": "after the cancel"})
        assert text_of(after) == "Echo: after the cancel"

    assert gateway.status()["direct_requests"] - direct_before >= 2
    rows = [
        json.loads(line)
        for line in gateway.cli("logs", "--json", "--server", TAP_HTTP).stdout.splitlines()
        if line.strip()
    ]
    long_calls = [r for r in rows if r.get("name") == "trigger-long-running-operation"]
    assert long_calls and long_calls[-1]["status"] == "cancelled", long_calls[-1:]
    print(f"direct path: upstream id {request_id!r} got notifications/cancelled; recorded as cancelled")


async def test_tool_list_from_the_cache_on_the_direct_path(gateway: Gateway) -> None:
    """A session client's `tools/list` on `/mcp` is answered from the per-client cache as
    the JSON it was serialized to once, identical to the list first built, and a policy
    change shows in the very next list."""
    hidden = f"{EV_HTTP}__get-resource-reference"
    async with connect(gateway.url(), gateway.token, mode="legacy") as client:
        first = await client.list_tools()  # built, and cached
        before = gateway.status()["direct_requests"]
        second = await client.list_tools()
        assert gateway.status()["direct_requests"] - before == 1, "the second list did not come from the cache"
        assert [t.model_dump() for t in second.tools] == [t.model_dump() for t in first.tools]
        assert hidden in {t.name for t in second.tools}
        gateway.cli("tools", "set", EV_HTTP, "get-resource-reference", "deny", "--client", "acceptance")
        try:
            with anyio.fail_after(15):
                while hidden in {t.name for t in (await client.list_tools()).tools}:
                    await anyio.sleep(0.1)
            third = await client.list_tools()
            assert {t.name for t in first.tools} - {t.name for t in third.tools} == {hidden}
        finally:
            gateway.cli("tools", "set", EV_HTTP, "get-resource-reference", "allow", "--client", "acceptance")
    print(f"{len(second.tools)} tools from the cache; the denied tool left the next list")
