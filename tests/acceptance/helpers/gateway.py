"""The `switchboard` binary under test: admin commands and a running `serve` gateway."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from . import paths
from .database import database_for
from .procs import Proc, cmdline, descendants, run

READY_TIMEOUT = 30.0
UPSTREAM_READY_TIMEOUT = 60.0


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (
            f"switchboard {' '.join(self.args)} -> exit {self.returncode}\n"
            f"stdout: {self.stdout!r}\nstderr: {self.stderr!r}"
        )


class Switchboard:
    """The CLI bound to one data dir (`--data-dir`), with a sandboxed environment."""

    def __init__(
        self, data_dir: Path, env: Mapping[str, str], log_dir: Path, database: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = dict(env)
        self.log_dir = log_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # On the PostgreSQL run every data dir gets a database of its own, unless it is
        # given one (instances sharing a database).
        self.database = database or database_for(data_dir)
        if self.database:
            self.env["SWITCHBOARD_DATABASE_URL"] = self.database

    def argv(self, *args: str | os.PathLike[str]) -> list[str]:
        return [str(paths.SWITCHBOARD), "--data-dir", str(self.data_dir), *map(str, args)]

    def cli(
        self,
        *args: str | os.PathLike[str],
        check: bool = True,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> CliResult:
        argv = self.argv(*args)
        done = run(argv, env={**self.env, **(env or {})}, timeout=timeout)
        result = CliResult([str(a) for a in args], done.returncode, done.stdout, done.stderr)
        with (self.log_dir / "cli.log").open("a", encoding="utf-8") as log:
            log.write(result.describe() + "\n")
        if check and result.returncode != 0:
            raise AssertionError(f"command failed:\n{result.describe()}")
        return result

    # Admin commands used by many tests.

    def add_stdio(
        self,
        name: str,
        command: str | os.PathLike[str],
        *args: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
    ) -> CliResult:
        argv: list[str | os.PathLike[str]] = ["servers", "add", name, "--command", command]
        for arg in args:
            # `--arg=VALUE` keeps values that start with a dash from being read as flags.
            argv.append(f"--arg={arg}")
        for key, value in (env or {}).items():
            argv += ["--env", f"{key}={value}"]
        return self.cli(*argv)

    def allow_write(self, name: str, folder: Path) -> None:
        """Let a sandboxed stdio server write in `folder` (made if missing), approved as a user would."""
        folder.mkdir(parents=True, exist_ok=True)
        self.cli("servers", "sandbox", name, "--allow-write", folder)
        self.cli("servers", "approve", name)

    def add_http(self, name: str, url: str, *, sse: bool = False) -> CliResult:
        return self.cli("servers", "add", name, "--url", url, *(["--sse"] if sse else []))

    def trust(self, server: str) -> CliResult:
        """Allow every tool of `server` for every client, as a user who trusts it would.

        Without this, tools that declare `openWorldHint` or `destructiveHint` wait
        for the user's approval (the gateway's default policy).
        """
        return self.cli("tools", "set", server, "*", "allow")

    def add_client(self, name: str) -> str:
        result = self.cli("clients", "add", name)
        lines = result.stdout.splitlines()
        assert len(lines) == 1 and lines[0].strip(), (
            f"`clients add` must print the token as the only line on stdout:\n{result.describe()}"
        )
        return lines[0].strip()

    def servers(self) -> list[dict[str, Any]]:
        listed = self.cli("servers", "list", "--json").json()
        assert isinstance(listed, list), f"servers list --json must print an array, got {listed!r}"
        return listed

    def server(self, name: str) -> dict[str, Any]:
        for entry in self.servers():
            if entry["name"] == name:
                return entry
        raise AssertionError(f"server {name!r} is not listed")

    def wait_until(
        self,
        name: str,
        state: str = "ready",
        *,
        min_restarts: int = 0,
        timeout: float = UPSTREAM_READY_TIMEOUT,
    ) -> dict[str, Any]:
        """Poll `servers list --json` until the server reports `state` (and enough restarts)."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            last = self.server(name)
            status = last.get("status") or {}
            if status.get("state") == state and (status.get("restarts") or 0) >= min_restarts:
                return last
            time.sleep(0.2)
        raise AssertionError(
            f"server {name!r} did not reach {state!r} (restarts >= {min_restarts}) in {timeout} s; "
            f"last seen: {last!r}; its log:\n{self.server_log(name)[-3000:]}"
        )

    def server_log(self, name: str) -> str:
        log = self.data_dir / "logs" / "servers" / f"{name}.log"
        return log.read_text(errors="replace") if log.exists() else f"(no {log})"


class Gateway(Switchboard):
    """A running `switchboard serve --listen 127.0.0.1:0` with its own data dir."""

    proc: Proc
    token: str  # the client token tests present (set by the fixture that configures the gateway)
    mcp_url: str
    control_url: str
    control_token: str
    startup_lines: list[str]

    def start(self, name: str = "gateway") -> Gateway:
        self.proc = Proc(
            name,
            self.argv("serve", "--listen", "127.0.0.1:0"),
            env=self.env,
            log_dir=self.log_dir,
        )
        self.proc.wait_for(r"Switchboard is ready", READY_TIMEOUT, stream="out")
        mcp = self.proc.wait_for(r"MCP endpoint:\s+(http://\S+)", 5, stream="out").group(1)
        control = self.proc.wait_for(r"Control:\s+(http://\S+)", 5, stream="out").group(1)
        self.startup_lines = self.proc.lines("out")
        info = self.info()
        assert info["pid"] == self.proc.pid, f"gateway.json names pid {info['pid']}, not {self.proc.pid}"
        assert info["mcp_url"] == mcp, f"gateway.json mcp_url {info['mcp_url']!r} != printed {mcp!r}"
        assert info["control_url"] == control, (info["control_url"], control)
        self.mcp_url = mcp.rstrip("/")
        self.control_url = control
        self.control_token = info["control_token"]
        return self

    @property
    def info_path(self) -> Path:
        return self.data_dir / "gateway.json"

    def info(self) -> dict[str, Any]:
        return json.loads(self.info_path.read_text())

    def info_mode(self) -> int:
        return stat.S_IMODE(self.info_path.stat().st_mode)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def origin(self) -> str:
        match = re.match(r"(https?://[^/]+)", self.mcp_url)
        assert match
        return match.group(1)

    @property
    def port(self) -> int:
        return int(self.origin.rsplit(":", 1)[1])

    def status(self) -> dict[str, Any]:
        """`GET /api/status` (sessions, servers, calls on the direct path)."""
        response = httpx2.get(
            f"{self.origin}/api/status",
            headers={"authorization": f"Bearer {self.control_token}"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def rpc(self, method: str, params: Any = None) -> Any:
        """A control API command (`POST /api/rpc` with the control token); it must succeed."""
        response = httpx2.post(
            f"{self.origin}/api/rpc",
            headers={"authorization": f"Bearer {self.control_token}", "x-switchboard": "1"},
            json={"method": method, "params": params},
            timeout=60,
        )
        assert response.status_code == 200, f"{method}: {response.status_code} {response.text}"
        return response.json()

    def url(self, server: str | None = None) -> str:
        """`/mcp` (all servers) or `/mcp/SERVER` (one server)."""
        return self.mcp_url if server is None else f"{self.mcp_url}/{server}"

    def wait_all(self, names: Iterable[str], timeout: float = UPSTREAM_READY_TIMEOUT) -> None:
        for name in names:
            self.wait_until(name, "ready", timeout=timeout)

    def upstream_pids(self, marker: str) -> list[int]:
        """PIDs of the gateway's descendants whose command line contains `marker`."""
        return [pid for pid in descendants(self.pid) if any(marker in part for part in cmdline(pid))]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        return self.proc.stop(sig, timeout)


def check_one_line_error(result: CliResult) -> None:
    """Errors are one clear line on stderr, nothing on stdout, and a non-zero exit."""
    assert result.returncode != 0, f"expected a failure:\n{result.describe()}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line on stderr:\n{result.describe()}"
    assert result.stdout.strip() == "", f"expected nothing on stdout:\n{result.describe()}"
