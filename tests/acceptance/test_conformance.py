"""The MCP conformance suite's server scenarios, directly against an upstream and through the gateway.

The suite's server mode cannot send custom headers, so it reaches `/mcp/SERVER` through the
test-only token hop (helpers/token_hop.py), which adds the client token and passes Host and
Origin through unchanged (so the DNS-rebinding scenario tests the gateway's own guard).
The gateway must pass every check the upstream passes when tested directly.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import EV_HTTP, EV_STDIO, HttpPeer, add_everything_stdio, start_token_hop
from helpers import paths
from helpers.conformance import ConformanceRun, regressions, run_conformance, table
from helpers.gateway import Gateway
from helpers.procs import Proc

FIXTURE = "fixture"

pytestmark = pytest.mark.timeout(900)

_runs = itertools.count()


@pytest.fixture(scope="module")
def fixture_server(sandbox_env, log_dir) -> HttpPeer:
    """The rmcp fixture implementing the suite's scenario tools (tests/fixtures)."""
    proc = Proc(
        "conformance-server", [paths.CONFORMANCE_SERVER, "--port", "0"], env=sandbox_env, log_dir=log_dir
    )
    url = proc.wait_for(r"listening on (http://\S+)", 30).group(1)
    yield HttpPeer(proc, url)
    proc.stop()


@dataclass
class Setup:
    gateway: Gateway
    hop: HttpPeer

    def url(self, server: str) -> str:
        """`/mcp/SERVER` of the gateway, as reached through the token hop."""
        return f"{self.hop.url}/mcp/{server}"


@pytest.fixture(scope="module")
def setup(make_gateway, fixture_server: HttpPeer, everything_http: HttpPeer, sandbox_env, log_dir) -> Setup:
    def configure(switchboard) -> None:
        switchboard.add_http(FIXTURE, fixture_server.url)
        switchboard.add_http(EV_HTTP, everything_http.url)
        add_everything_stdio(switchboard)

    gateway = make_gateway("gateway-conformance", configure, ready=[FIXTURE, EV_HTTP, EV_STDIO])
    hop = start_token_hop("token-hop", gateway.origin, sandbox_env, log_dir, token=gateway.token)
    yield Setup(gateway, hop)
    hop.proc.stop()


def conformance(label: str, url: str, session_dir: Path, env) -> ConformanceRun:
    slug = label.replace(" ", "-").replace("/", "_")
    return run_conformance(label, url, session_dir / "conformance" / f"{next(_runs):02d}-{slug}", env)


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


def test_fixture_through_the_gateway(
    setup: Setup, fixture_server: HttpPeer, session_dir, sandbox_env
) -> None:
    direct = conformance("fixture directly", fixture_server.url, session_dir, sandbox_env)
    through = conformance(f"fixture via /mcp/{FIXTURE}", setup.url(FIXTURE), session_dir, sandbox_env)
    compare(direct, through)


@pytest.mark.parametrize("server", [EV_HTTP, EV_STDIO])
def test_everything_through_the_gateway(
    setup: Setup, everything_direct: ConformanceRun, server: str, session_dir, sandbox_env
) -> None:
    through = conformance(f"server-everything via /mcp/{server}", setup.url(server), session_dir, sandbox_env)
    compare(everything_direct, through)
