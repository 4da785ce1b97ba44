"""The MCP conformance suite's server scenarios, directly against an upstream and through the gateway.

The suite's server mode cannot send custom headers, so it reaches `/mcp/SERVER` through the
test-only token hop (helpers/token_hop.py), which adds the client token and passes Host and
Origin through unchanged (so the DNS-rebinding scenario tests the gateway's own guard).
The gateway must pass every check the upstream passes when tested directly, for spec
2025-11-25 (fixture serving 2025-11-25 only) and for spec 2026-07-28 (fixture serving
2026-07-28: stateless requests, `server/discover`, input-required results), with the
fixture behind the gateway as an HTTP server and as a stdio server (the same binary with
`--stdio`; the suite can only reach it directly over HTTP, so the HTTP run is the
reference for both).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EV_HTTP, EV_STDIO, HttpPeer, add_everything_stdio, start_token_hop
from helpers import paths
from helpers.conformance import (
    SPEC_2026,
    SPEC_VERSION,
    ConformanceRun,
    regressions,
    run_conformance,
    table,
)
from helpers.gateway import Gateway
from helpers.procs import Proc

FIXTURE = "fixture"
FIXTURE_LEGACY = "fixture-2025"
FIXTURE_STDIO = "fixture-stdio"
FIXTURE_LEGACY_STDIO = "fixture-2025-stdio"

pytestmark = pytest.mark.timeout(900)

_runs = itertools.count()


def start_fixture(name: str, args: list[str], sandbox_env, log_dir) -> HttpPeer:
    proc = Proc(name, [paths.CONFORMANCE_SERVER, "--port", "0", *args], env=sandbox_env, log_dir=log_dir)
    url = proc.wait_for(r"listening on (http://\S+)", 30).group(1)
    return HttpPeer(proc, url)


@pytest.fixture(scope="module")
def fixture_server(sandbox_env, log_dir) -> HttpPeer:
    """The rmcp fixture implementing the suite's scenario tools (tests/fixtures), on 2026-07-28."""
    peer = start_fixture("conformance-server", [], sandbox_env, log_dir)
    yield peer
    peer.proc.stop()


@pytest.fixture(scope="module")
def legacy_fixture_server(sandbox_env, log_dir) -> HttpPeer:
    """The same fixture, forced to 2025-11-25 (it refuses `server/discover`)."""
    peer = start_fixture(
        "conformance-server-2025", ["--protocol-version", SPEC_VERSION], sandbox_env, log_dir
    )
    yield peer
    peer.proc.stop()


@dataclass
class Setup:
    gateway: Gateway
    hop: HttpPeer

    def url(self, server: str) -> str:
        """`/mcp/SERVER` of the gateway, as reached through the token hop."""
        return f"{self.hop.url}/mcp/{server}"


@pytest.fixture(scope="module")
def setup(
    make_gateway,
    fixture_server: HttpPeer,
    legacy_fixture_server: HttpPeer,
    everything_http: HttpPeer,
    sandbox_env,
    log_dir,
) -> Setup:
    def configure(switchboard) -> None:
        switchboard.add_http(FIXTURE, fixture_server.url)
        switchboard.add_http(FIXTURE_LEGACY, legacy_fixture_server.url)
        switchboard.add_stdio(FIXTURE_STDIO, paths.CONFORMANCE_SERVER, "--stdio")
        switchboard.add_stdio(
            FIXTURE_LEGACY_STDIO, paths.CONFORMANCE_SERVER, "--stdio", "--protocol-version", SPEC_VERSION
        )
        switchboard.add_http(EV_HTTP, everything_http.url)
        add_everything_stdio(switchboard)

    gateway = make_gateway(
        "gateway-conformance", configure, ready=[FIXTURE, FIXTURE_LEGACY, FIXTURE_STDIO, FIXTURE_LEGACY_STDIO, EV_HTTP, EV_STDIO]
    )
    hop = start_token_hop("token-hop", gateway.origin, sandbox_env, log_dir, token=gateway.token)
    yield Setup(gateway, hop)
    hop.proc.stop()


def conformance(
    label: str, url: str, session_dir: Path, env, spec: str = SPEC_VERSION
) -> ConformanceRun:
    slug = label.replace(" ", "-").replace("/", "_")
    out = session_dir / "conformance" / f"{next(_runs):02d}-{slug}"
    return run_conformance(label, url, out, env, spec)


def compare(direct: ConformanceRun, through: ConformanceRun) -> None:
    print()
    print(direct.summary())
    print(through.summary())
    print(table(direct, through))
    assert direct.count("SUCCESS") > 0, (
        f"nothing passed directly, so nothing was compared:\n{direct.output[-2000:]}"
    )
    lost = regressions(direct, through)
    assert not lost, "the gateway fails checks the upstream passes directly:\n  " + "\n  ".join(lost)


@pytest.fixture(scope="module")
def everything_direct(everything_http: HttpPeer, session_dir, sandbox_env) -> ConformanceRun:
    return conformance("server-everything directly", everything_http.url, session_dir, sandbox_env)


@pytest.fixture(scope="module")
def legacy_direct(legacy_fixture_server: HttpPeer, session_dir, sandbox_env) -> ConformanceRun:
    return conformance("fixture 2025-11-25 directly", legacy_fixture_server.url, session_dir, sandbox_env)


@pytest.fixture(scope="module")
def modern_direct(fixture_server: HttpPeer, session_dir, sandbox_env) -> ConformanceRun:
    return conformance("fixture 2026-07-28 directly", fixture_server.url, session_dir, sandbox_env, SPEC_2026)


@pytest.mark.parametrize("server", [FIXTURE_LEGACY, FIXTURE_LEGACY_STDIO])
def test_fixture_through_the_gateway(
    setup: Setup, legacy_direct: ConformanceRun, server: str, session_dir, sandbox_env
) -> None:
    """Spec 2025-11-25, with the upstream on 2025-11-25 over HTTP or stdio. Its requests
    (tool calls with elicitation, sampling, logging and progress, errors, content kinds)
    are relayed as bytes on the gateway's own session with the server."""
    before = setup.gateway.status()["direct_requests"]
    through = conformance(f"fixture 2025-11-25 via /mcp/{server}", setup.url(server), session_dir, sandbox_env)
    relayed = setup.gateway.status()["direct_requests"] - before
    print(f"requests relayed as bytes: {relayed}")
    compare(legacy_direct, through)
    assert relayed >= 8, f"only {relayed} requests were relayed as bytes"


@pytest.mark.parametrize("server", [FIXTURE, FIXTURE_STDIO])
def test_2025_clients_of_a_2026_upstream(
    setup: Setup, legacy_direct: ConformanceRun, server: str, session_dir, sandbox_env
) -> None:
    """Spec 2025-11-25 clients, upstream on 2026-07-28: the gateway bridges the eras (the
    server's input requests become elicitation/sampling requests to the session, logging,
    ping and resource subscriptions map onto per-request levels and a listen stream)."""
    through = conformance(
        f"fixture 2026-07-28 via /mcp/{server} for 2025-11-25 clients", setup.url(server), session_dir, sandbox_env
    )
    compare(legacy_direct, through)


@pytest.mark.parametrize("server", [FIXTURE, FIXTURE_STDIO])
def test_fixture_2026_through_the_gateway(
    setup: Setup, modern_direct: ConformanceRun, server: str, session_dir, sandbox_env
) -> None:
    """Spec 2026-07-28, with the upstream on 2026-07-28 over HTTP or stdio: stateless
    requests, relayed as bytes, with the gateway checking the SEP-2243 headers as the
    server itself does."""
    before = setup.gateway.status()["direct_requests"]
    through = conformance(f"fixture 2026-07-28 via /mcp/{server}", setup.url(server), session_dir, sandbox_env, SPEC_2026)
    relayed = setup.gateway.status()["direct_requests"] - before
    print(f"requests relayed as bytes: {relayed}")
    compare(modern_direct, through)
    assert relayed >= 5, f"only {relayed} requests were relayed as bytes"


@pytest.mark.parametrize("server", [EV_HTTP, EV_STDIO])
def test_everything_through_the_gateway(
    setup: Setup, everything_direct: ConformanceRun, server: str, session_dir, sandbox_env
) -> None:
    through = conformance(f"server-everything via /mcp/{server}", setup.url(server), session_dir, sandbox_env)
    compare(everything_direct, through)
