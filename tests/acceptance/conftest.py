"""Fixtures for the acceptance tests: real MCP peers and Switchboard gateways.

Every background process is started directly (never through npx or a shell), held by its
real PID and stopped by that PID at teardown. Ports come from binding port 0. Each test
session works in its own temp dir: gateway data dirs, HOME for the peers, and logs (kept
under the session dir's logs/ for reading after a failure).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import paths
from helpers.gateway import Gateway, Switchboard
from helpers.procs import Proc, ProcessExited, free_port, stop_all

# Names of the server-everything upstreams of the main gateway.
EV_STDIO = "ev-stdio"
EV_HTTP = "ev-http"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("switchboard")


@pytest.fixture(scope="session")
def log_dir(session_dir: Path) -> Path:
    logs = session_dir / "logs"
    logs.mkdir()
    return logs


@pytest.fixture(scope="session", autouse=True)
def _preflight_and_reaper(session_dir: Path) -> Iterator[None]:
    """Fail fast with the command to run when a peer or binary is missing; reap leftovers."""
    if missing := paths.missing():
        pytest.fail("not installed or not built:\n  " + "\n  ".join(missing), pytrace=False)
    print(f"\nacceptance session dir: {session_dir}")
    yield
    stop_all()


@pytest.fixture(scope="session")
def sandbox_env(session_dir: Path) -> dict[str, str]:
    """The environment for every process we start: a private HOME, no inherited Switchboard settings."""
    home = session_dir / "home"
    env = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local" / "state"),
        RUST_BACKTRACE="1",
        NO_COLOR="1",
    )
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    return env


@dataclass
class HttpPeer:
    """An MCP server we run on its own loopback port."""

    proc: Proc
    url: str


def start_everything_http(name: str, env: dict[str, str], log_dir: Path) -> HttpPeer:
    """server-everything over streamable HTTP. It cannot bind port 0, so pick one and retry on a clash."""
    for _attempt in range(5):
        port = free_port()
        proc = Proc(
            name,
            [paths.NODE, paths.SERVER_EVERYTHING, "streamableHttp"],
            env={**env, "PORT": str(port)},
            log_dir=log_dir,
        )
        try:
            proc.wait_for(r"listening on port \d+", 30)
            return HttpPeer(proc, f"http://127.0.0.1:{port}/mcp")
        except ProcessExited:
            if "already in use" not in proc.text():
                raise
    raise RuntimeError("server-everything found no free port in 5 attempts")


def start_token_hop(
    name: str,
    target_origin: str,
    env: dict[str, str],
    log_dir: Path,
    *,
    token: str | None = None,
    record: Path | None = None,
) -> HttpPeer:
    """The test-only hop (helpers/token_hop.py): adds the client token, optionally records traffic."""
    argv: list[str | os.PathLike[str]] = [paths.PYTHON, paths.TOKEN_HOP, "--target", target_origin]
    if token is not None:
        argv += ["--header", f"Authorization: Bearer {token}"]
    if record is not None:
        argv += ["--record", record]
    proc = Proc(name, argv, env=env, log_dir=log_dir)
    origin = proc.wait_for(r"listening on (http://\S+)", 30).group(1)
    return HttpPeer(proc, origin)


@pytest.fixture(scope="session")
def everything_http(sandbox_env: dict[str, str], log_dir: Path) -> Iterator[HttpPeer]:
    """server-everything on its own HTTP port: the `ev-http` upstream and the direct baseline."""
    peer = start_everything_http("everything-http", sandbox_env, log_dir)
    yield peer
    peer.proc.stop()


@pytest.fixture(scope="session")
def make_gateway(
    session_dir: Path, sandbox_env: dict[str, str], log_dir: Path
) -> Iterator[Callable[..., Gateway]]:
    """Factory: configure a fresh data dir with `configure(switchboard)`, then start `serve` on it.

    The gateway gets one client, whose token is `gateway.token`. Upstreams named in `ready`
    are awaited; `env` replaces the sandbox environment (e.g. `keyring_env`). Every gateway is stopped by PID at the end of the session at the latest.
    """
    started: list[Gateway] = []

    def make(
        name: str,
        configure: Callable[[Switchboard], None],
        ready: list[str] | tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> Gateway:
        gateway = Gateway(session_dir / name, env or sandbox_env, log_dir)
        configure(gateway)
        gateway.token = gateway.add_client("acceptance")
        gateway.start(name)
        started.append(gateway)
        gateway.wait_all(ready)
        return gateway

    yield make
    for gateway in started:
        gateway.stop()


def add_everything_stdio(switchboard: Switchboard, name: str = EV_STDIO) -> None:
    switchboard.add_stdio(name, paths.NODE, paths.SERVER_EVERYTHING, "stdio")


@pytest.fixture(scope="session")
def gateway(make_gateway, everything_http: HttpPeer) -> Gateway:
    """The main gateway: server-everything over stdio (`ev-stdio`) and over streamable HTTP (`ev-http`)."""

    def configure(switchboard: Switchboard) -> None:
        add_everything_stdio(switchboard)
        switchboard.add_http(EV_HTTP, everything_http.url)
        # The suite calls server-everything's sampling trigger, an open-world
        # tool that the default policy would put to the user first.
        switchboard.trust(EV_STDIO)
        switchboard.trust(EV_HTTP)

    return make_gateway("gateway-main", configure, ready=[EV_STDIO, EV_HTTP])


# A private session bus with an unlocked gnome-keyring; prints the bus address, then waits.
KEYRING_BUS = r"""
set -e
export XDG_DATA_HOME="$(mktemp -d)" XDG_RUNTIME_DIR="$(mktemp -d)"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf keyring-e2e-pass | gnome-keyring-daemon --unlock --components=secrets)"
echo "bus $DBUS_SESSION_BUS_ADDRESS"
exec sleep 100000
"""


@pytest.fixture
def keyring_env(sandbox_env, log_dir) -> Iterator[dict[str, str]]:
    """The sandbox environment with a real Secret Service: gnome-keyring, unlocked, on a private D-Bus."""
    env = {k: v for k, v in sandbox_env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    bus = Proc("keyring-bus", ["dbus-run-session", "--", "bash", "-c", KEYRING_BUS], env=env, log_dir=log_dir)
    address = bus.wait_for(r"^bus (\S+)", 30, stream="out").group(1)
    yield {**env, "DBUS_SESSION_BUS_ADDRESS": address}
    bus.stop()
