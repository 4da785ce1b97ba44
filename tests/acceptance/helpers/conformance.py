"""Runs the MCP conformance suite's server scenarios and reads their results."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import paths
from .procs import run

SPEC_VERSION = "2025-11-25"
SPEC_2026 = "2026-07-28"
# Result folders are named server-<scenario>-<ISO timestamp with dashes>.
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d\d-\d\dT[\d-]+Z$")


@dataclass
class ConformanceRun:
    label: str
    returncode: int
    output: str
    # scenario -> check id -> status (SUCCESS, FAILURE, WARNING, ...)
    checks: dict[str, dict[str, str]] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(s == status for checks in self.checks.values() for s in checks.values())

    @property
    def scenarios_passed(self) -> list[str]:
        return sorted(
            name
            for name, checks in self.checks.items()
            if checks and all(s == "SUCCESS" for s in checks.values())
        )

    def summary(self) -> str:
        total = sum(len(checks) for checks in self.checks.values())
        return (
            f"{self.label}: {self.count('SUCCESS')}/{total} checks passed, "
            f"{len(self.scenarios_passed)}/{len(self.checks)} scenarios fully passed"
        )


def run_conformance(
    label: str, url: str, out_dir: Path, env: Mapping[str, str], spec: str = SPEC_VERSION
) -> ConformanceRun:
    """`conformance server --url URL --spec-version SPEC`; exit 1 just means a failure.
    2026-07-28 needs the 0.2 line of the suite and runs all of it (its input-required-result,
    stateless and caching scenarios are still marked pending); older versions run the
    active suite of 0.1."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suite = paths.CONFORMANCE_2026 if spec == SPEC_2026 else paths.CONFORMANCE
    argv = [
        paths.NODE, suite, "server",
        "--url", url,
        "--spec-version", spec,
        "--output-dir", out_dir,
    ]  # fmt: skip
    if spec == SPEC_2026:
        argv += ["--suite", "all"]
    done = run(argv, env=env, timeout=600)
    (out_dir / "output.txt").write_text(done.stdout + "\n--- stderr ---\n" + done.stderr)
    result = ConformanceRun(label, done.returncode, done.stdout + done.stderr)
    for folder in sorted(out_dir.iterdir()):
        match = RESULT_DIR.match(folder.name)
        checks_file = folder / "checks.json"
        if not match or not checks_file.exists():
            continue
        checks = json.loads(checks_file.read_text())
        result.checks[match.group("scenario")] = {check["id"]: check["status"] for check in checks}
    assert result.returncode in (0, 1), f"{label}: conformance crashed:\n{result.output[-3000:]}"
    assert result.checks, f"{label}: conformance wrote no results:\n{result.output[-3000:]}"
    return result


def regressions(direct: ConformanceRun, through: ConformanceRun) -> list[str]:
    """Checks that pass directly against the server but not through the gateway."""
    lost = []
    for scenario, checks in sorted(direct.checks.items()):
        for check, status in sorted(checks.items()):
            if status != "SUCCESS":
                continue
            seen = through.checks.get(scenario, {}).get(check, "missing")
            if seen != "SUCCESS":
                lost.append(f"{scenario} / {check}: {status} directly, {seen} through the gateway")
    return lost


def table(direct: ConformanceRun, through: ConformanceRun) -> str:
    """One line per scenario: passed/total checks directly and through the gateway."""

    def score(run: ConformanceRun, scenario: str) -> str:
        checks = run.checks.get(scenario)
        if checks is None:
            return "-"
        return f"{sum(s == 'SUCCESS' for s in checks.values())}/{len(checks)}"

    scenarios = sorted(set(direct.checks) | set(through.checks))
    width = max(len(s) for s in scenarios)
    lines = [f"  {'scenario'.ljust(width)}  direct  gateway"]
    for scenario in scenarios:
        lines.append(
            f"  {scenario.ljust(width)}  {score(direct, scenario):>6}  {score(through, scenario):>7}"
        )
    return "\n".join(lines)
