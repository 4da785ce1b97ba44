"""The MCP conformance suite's OAuth scenarios in client mode, against Switchboard's upstream connector.

For each scenario the suite starts its own protected MCP server and authorization server and runs
`oauth-conformance-client URL` (tests/fixtures): a gateway with URL as its only server, signed in
through the control API as a host does, the browser played by following the authorization redirect
to the gateway's loopback listener, then tools listed and called through the gateway. Scenarios the
connector does not pass are listed, with the reason, in tests/oauth/conformance-expected-failures.yaml;
the suite fails on any other failure and on a listed scenario that passes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from helpers import paths
from helpers.procs import run

pytestmark = pytest.mark.timeout(900)

EXPECTED_FAILURES = paths.TESTS / "oauth" / "conformance-expected-failures.yaml"
# The identity a Client ID Metadata Document gives Switchboard in the suite's scenarios.
CLIENT_METADATA_URL = "https://conformance-test.local/client-metadata.json"
# Auth scenarios outside the `auth` suite: 2025-03-26 back-compatibility, drafts, extensions.
EXTRA = [
    "auth/2025-03-26-oauth-metadata-backcompat",
    "auth/2025-03-26-oauth-endpoint-fallback",
    "auth/resource-mismatch",
    "auth/offline-access-scope",
    "auth/offline-access-not-supported",
    "auth/client-credentials-jwt",
    "auth/client-credentials-basic",
    "auth/cross-app-access-complete-flow",
]


def _env(sandbox_env: dict[str, str]) -> dict[str, str]:
    env = dict(sandbox_env)
    # Each scenario's gateway keeps its sign-in in a private file of its temporary data directory.
    env["SWITCHBOARD_SECRET_STORE"] = "file"
    env["SWITCHBOARD_OAUTH_CLIENT_METADATA_URL"] = CLIENT_METADATA_URL
    env["RUST_LOG"] = "info"
    return env


def _checks(out_dir: Path) -> dict[str, list[str]]:
    """scenario -> statuses of its checks, from the suite's result folders."""
    found: dict[str, list[str]] = {}
    for checks in out_dir.rglob("checks.json"):
        scenario = re.sub(r"-\d{4}-\d\d-\d\dT[\d-]+Z$", "", checks.parent.name)
        scenario = f"{checks.parent.parent.name}/{scenario}"
        found[scenario] = [c["status"] for c in json.loads(checks.read_text())]
    return found


def _conformance(args: list[str], out_dir: Path, env: dict[str, str]):
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        paths.NODE, paths.CONFORMANCE, "client",
        "--command", paths.OAUTH_CONFORMANCE_CLIENT,
        "--timeout", "90000",
        "--expected-failures", EXPECTED_FAILURES,
        "--output-dir", out_dir,
        *args,
    ]  # fmt: skip
    done = run(argv, env=env, timeout=850)
    (out_dir / "output.txt").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    return done


def test_auth_suite(session_dir: Path, sandbox_env) -> None:
    out_dir = session_dir / "oauth-conformance" / "suite"
    done = _conformance(["--suite", "auth"], out_dir, _env(sandbox_env))
    checks = _checks(out_dir)
    passed = sorted(s for s, st in checks.items() if st and "FAILURE" not in st)
    total_ok = sum(st.count("SUCCESS") for st in checks.values())
    total = sum(len([x for x in st if x in ("SUCCESS", "FAILURE", "WARNING")]) for st in checks.values())
    print(f"\nconformance auth suite: {len(passed)}/{len(checks)} scenarios passed, {total_ok}/{total} checks")
    assert checks, f"no results:\n{done.stdout[-3000:]}"
    assert done.returncode == 0, f"conformance auth suite failed:\n{done.stdout[-5000:]}"


@pytest.mark.parametrize("scenario", EXTRA)
def test_auth_scenario(scenario: str, session_dir: Path, sandbox_env) -> None:
    out_dir = session_dir / "oauth-conformance" / scenario.replace("/", "_")
    done = _conformance(["--scenario", scenario], out_dir, _env(sandbox_env))
    statuses = [s for s in next(iter(_checks(out_dir).values()), []) if s in ("SUCCESS", "FAILURE", "WARNING")]
    print(f"\n{scenario}: {statuses.count('SUCCESS')}/{len(statuses)} checks passed")
    assert done.returncode == 0, f"{scenario}:\n{done.stdout[-4000:]}"
