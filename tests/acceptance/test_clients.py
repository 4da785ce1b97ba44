"""Client integrations: detect, import, install and uninstall on real-shaped client configs
in a private home (`--home` / SWITCHBOARD_HOME_OVERRIDE), the installed `switchboard connect`
entry launched the way Claude Desktop launches it, the catalog (bundled, a registry file, a
registry URL), the doctor, and secrets kept in a real Secret Service."""

from __future__ import annotations

import http.server
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from conftest import EV_STDIO, HttpPeer, add_everything_stdio
from helpers import paths
from helpers.gateway import Gateway, Switchboard, check_one_line_error
from helpers.mcp_client import text_of
from helpers.procs import run

CLAUDE_CONFIG = Path(".config") / "Claude" / "claude_desktop_config.json"


def claude_desktop_config() -> str:
    """A Claude Desktop config as users have them: other settings, servers, one with a secret."""
    config = {
        "mcpServers": {
            "everything": {"command": str(paths.NODE), "args": [str(paths.SERVER_EVERYTHING), "stdio"]},
            "weather": {
                "command": "npx",
                "args": ["-y", "@example/weather-mcp"],
                "env": {"WEATHER_API_KEY": "wk_fixture_secret", "UNITS": "metric"},
            },
        },
        "globalShortcut": "Alt+Space",
        "preferences": {"menuBarEnabled": True, "quickEntryShortcut": "off"},
    }
    return json.dumps(config, indent=2) + "\n"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private home for client configs; the real one is never read."""
    path = tmp_path / "home"
    path.mkdir()
    return path


def client_env(home: Path, **extra: str) -> dict[str, str]:
    # The secrets file is the explicit opt-in for machines without a keyring (CI).
    return {"SWITCHBOARD_HOME_OVERRIDE": str(home), "SWITCHBOARD_SECRET_STORE": "file", **extra}


def database_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.glob("switchboard.db*"))


@pytest.mark.anyio
async def test_claude_desktop_end_to_end(make_gateway, home: Path, sandbox_env, log_dir) -> None:
    """Import a Claude Desktop config holding server-everything, install Switchboard into it,
    launch the written `switchboard connect` entry as Claude Desktop would, list and call
    tools through the gateway, then uninstall and get the original bytes back."""

    def private(switchboard: Switchboard) -> None:
        switchboard.data_dir.chmod(0o700)

    gateway: Gateway = make_gateway("gateway-clients", private)
    config_path = home / CLAUDE_CONFIG
    config_path.parent.mkdir(parents=True)
    original = claude_desktop_config()
    config_path.write_text(original)
    env = client_env(home)

    detected = {c["kind"]: c for c in gateway.cli("clients", "detect", "--json", env=env).json()}
    claude = detected["claude-desktop"]
    assert claude["installed"], claude
    assert claude["files"][0]["servers"] == ["everything", "weather"], claude

    dry = gateway.cli("clients", "import", "claude-desktop", "--dry-run", env=env)
    assert "everything" in dry.stdout and "weather" in dry.stdout, dry.describe()
    assert gateway.servers() == [], "a dry run changes nothing"

    dry = gateway.cli("clients", "install", "claude-desktop", "--dry-run", env=env)
    assert "+    \"switchboard\": {" in dry.stdout, dry.describe()
    assert config_path.read_text() == original, "a dry run changes nothing"

    done = gateway.cli("clients", "install", "claude-desktop", env=env)
    assert "switchboard servers approve everything" in done.stdout, done.describe()
    backups = list(config_path.parent.glob("claude_desktop_config.json.switchboard-backup-*"))
    assert len(backups) == 1 and backups[0].read_text() == original

    # Only the MCP entries changed; the secret went to the secrets store, not SQLite.
    installed = json.loads(config_path.read_text())
    assert installed["globalShortcut"] == "Alt+Space"
    assert installed["preferences"] == {"menuBarEnabled": True, "quickEntryShortcut": "off"}
    assert list(installed["mcpServers"]) == ["switchboard"]
    entry = installed["mcpServers"]["switchboard"]
    assert entry["args"][-1] == "connect"
    assert entry["env"]["SWITCHBOARD_TOKEN"].startswith("sbt_")
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    assert b"wk_fixture_secret" not in database_bytes(gateway.data_dir)
    assert "wk_fixture_secret" in (gateway.data_dir / "secrets.json").read_text()
    weather = gateway.server("weather")
    assert weather["transport"]["env"]["UNITS"] == "metric"
    assert weather["transport"]["env"]["WEATHER_API_KEY"].startswith("<secret:weather/env:WEATHER_API_KEY#")

    # Imported commands wait for the user's approval.
    gateway.wait_until("everything", "blocked")
    gateway.cli("servers", "approve", "everything")
    gateway.trust("everything")
    gateway.wait_until("everything", "ready")

    # Launch the entry exactly as written, the way Claude Desktop does.
    params = StdioServerParameters(
        command=entry["command"], args=entry["args"], env={**sandbox_env, **entry["env"]}
    )
    with (log_dir / "clients-bridge.stderr.log").open("a") as errlog:
        async with Client(stdio_client(params, errlog=errlog)) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert "everything__echo" in names, sorted(names)
            result = await client.call_tool("everything__echo", {"message": "via Claude Desktop's entry"})
            assert text_of(result) == "Echo: via Claude Desktop's entry"
            result = await client.call_tool("everything__get-sum", {"a": 2, "b": 3})
            assert "5" in text_of(result)
    print(f"installed entry: {len(names)} tools through the gateway")

    # Installing again is a no-op; uninstall restores the file byte for byte.
    again = gateway.cli("clients", "install", "claude-desktop", env=env)
    assert "nothing to do" in again.stdout, again.describe()
    gone = gateway.cli("clients", "uninstall", "claude-desktop", env=env)
    assert "byte for byte" in gone.stdout, gone.describe()
    assert config_path.read_bytes() == original.encode()
    assert "claude-desktop" not in [c["name"] for c in gateway.cli("clients", "list", "--json").json()]


def test_every_client_format_round_trips(switchboard_factory, home: Path) -> None:
    """Install and uninstall for each client kind through the CLI: the original comes back."""
    configs: dict[str, tuple[Path, str]] = {
        "claude-code": (Path(".claude.json"), '{\n  "numStartups": 3,\n  "mcpServers": {}\n}\n'),
        "cursor": (Path(".cursor/mcp.json"), '{\n  // mine\n  "mcpServers": {\n    "t": {"command": "uvx", "args": ["mcp-server-time"]}\n  }\n}\n'),
        "vscode": (Path(".config/Code/User/mcp.json"), '{\n\t"inputs": [],\n\t"servers": {},\n}\n'),
        "windsurf": (Path(".codeium/windsurf/mcp_config.json"), '{"mcpServers": {}}\n'),
        "codex": (Path(".codex/config.toml"), '# mine\nmodel = "o3"\n\n[mcp_servers.t]\ncommand = "uvx"\nargs = ["mcp-server-time"]\n'),
        "gemini": (Path(".gemini/settings.json"), '{\n  "theme": "Dracula" // mine\n}\n'),
        "zed": (Path(".config/zed/settings.json"), '// Zed settings\n{\n  "vim_mode": true,\n}\n'),
    }
    switchboard = switchboard_factory()
    env = client_env(home)
    for kind, (relative, text) in configs.items():
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        switchboard.cli("clients", "install", kind, env=env)
        assert '"switchboard"' in path.read_text() or "[mcp_servers.switchboard]" in path.read_text(), kind
        switchboard.cli("clients", "uninstall", kind, env=env)
        assert path.read_text() == text, kind
    assert switchboard.cli("clients", "list", "--json").json() == []


@pytest.fixture
def switchboard_factory(tmp_path: Path, sandbox_env, log_dir):
    def make(name: str = "data") -> Switchboard:
        return Switchboard(tmp_path / name, sandbox_env, log_dir)

    return make


def test_a_malformed_config_is_reported_and_left_untouched(switchboard_factory, home: Path) -> None:
    switchboard = switchboard_factory()
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir(parents=True)
    broken = '{\n  "mcpServers": {\n    "a": {"command": "x"\n'
    path.write_text(broken)
    env = client_env(home)
    for args in (("clients", "import", "cursor"), ("clients", "install", "cursor")):
        result = switchboard.cli(*args, check=False, env=env)
        check_one_line_error(result)
        assert "cursor/mcp.json" in result.stderr and "left untouched" in result.stderr, result.describe()
    assert path.read_text() == broken
    assert sorted(p.name for p in path.parent.iterdir()) == ["mcp.json"], "no backup or temp file"
    detected = {c["kind"]: c for c in switchboard.cli("clients", "detect", "--json", env=env).json()}
    assert detected["cursor"]["files"][0]["state"] == "malformed"
    assert switchboard.servers() == []


def test_import_all_merges_duplicates(switchboard_factory, home: Path) -> None:
    switchboard = switchboard_factory()
    same = {"command": "uvx", "args": ["mcp-server-time"]}
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_text(json.dumps({"mcpServers": {"time": same}}))
    (home / ".gemini").mkdir()
    (home / ".gemini" / "settings.json").write_text(json.dumps({"mcpServers": {"clock": same}}))
    done = switchboard.cli("clients", "import", "all", env=client_env(home))
    assert 'same as the server "time": merged' in done.stdout, done.describe()
    assert [s["name"] for s in switchboard.servers()] == ["time"]


class RegistryHandler(http.server.BaseHTTPRequestHandler):
    """A tiny MCP registry: /v0/servers in two pages (cursor paging)."""

    pages: dict[str, Any] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        cursor = self.path.partition("cursor=")[2] or "first"
        body = json.dumps(self.pages.get(cursor, {"servers": []})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry(everything_http: HttpPeer) -> Iterator[str]:
    """A registry URL whose second page lists the session's server-everything (HTTP)."""
    RegistryHandler.pages = {
        "first": {
            "servers": [{"server": {"name": "io.test/other", "description": "another server",
                                    "packages": [{"registryType": "npm", "identifier": "other-mcp"}]}}],
            "metadata": {"nextCursor": "page2"},
        },
        "page2": {
            "servers": [{"server": {
                "name": "io.test/everything", "title": "Everything", "description": "exercises every MCP feature",
                "remotes": [{"type": "streamable-http", "url": everything_http.url,
                             "headers": [{"name": "X-Team", "description": "your team", "isRequired": True}]}],
            }}],
            "metadata": {},
        },
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RegistryHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v0/servers?limit=1"
    server.shutdown()
    server.server_close()


def test_catalog_bundled_and_from_a_registry(switchboard_factory, registry: str, tmp_path: Path) -> None:
    switchboard = switchboard_factory()
    found = switchboard.cli("catalog", "search", "brave")
    assert found.stdout.splitlines()[0].startswith("io.github.brave/brave-search-mcp-server"), found.describe()
    shown = switchboard.cli("catalog", "show", "brave-search-mcp-server")
    assert "--env BRAVE_API_KEY=" in shown.stdout and "required" in shown.stdout, shown.describe()

    # The form says what is missing, in one line.
    missing = switchboard.cli("catalog", "add", "brave-search-mcp-server", check=False)
    check_one_line_error(missing)
    assert "--env BRAVE_API_KEY=" in missing.stderr

    # A secret given to the form goes to the secrets store; the command waits for approval.
    added = switchboard.cli(
        "catalog", "add", "brave-search-mcp-server", "--env", "BRAVE_API_KEY=bsa_fixture",
        env={"SWITCHBOARD_SECRET_STORE": "file"},
    )  # fmt: skip
    assert "switchboard servers approve brave-search" in added.stdout, added.describe()
    brave = switchboard.server("brave-search")
    assert brave["transport"]["command"] == "npx"
    assert brave["transport"]["env"]["BRAVE_API_KEY"].startswith("<secret:")
    assert b"bsa_fixture" not in database_bytes(switchboard.data_dir)

    # A registry URL (paged), then adding from it: the entry reaches the real peer.
    listed = switchboard.cli("catalog", "search", "--from", registry, "--json").json()
    assert sorted(s["name"] for s in listed) == ["io.test/everything", "io.test/other"]
    switchboard.cli("catalog", "add", "everything", "--from", registry, "--header", "X-Team=core", "--name", "ev-catalog")
    entry = switchboard.server("ev-catalog")
    assert entry["transport"]["type"] == "http" and entry["transport"]["headers"] == {"X-Team": "core"}
    tools = switchboard.cli("tools", "list", "--server", "ev-catalog", "--json").json()
    assert "echo" in [t["name"] for t in tools["ev-catalog"]["tools"]], tools

    # A registry file works the same way.
    file = tmp_path / "registry.json"
    file.write_text(json.dumps(RegistryHandler.pages["page2"]))
    assert "io.test/everything" in switchboard.cli("catalog", "search", "every", "--from", file).stdout


def test_doctor_reports_no_false_alarms_and_real_problems_with_fixes(make_gateway, home: Path, keyring_env) -> None:
    """A healthy desktop set-up (an unlocked OS keyring keys the audit chain) has no alarms."""

    def configure(switchboard: Switchboard) -> None:
        switchboard.data_dir.chmod(0o700)
        add_everything_stdio(switchboard)

    gateway: Gateway = make_gateway("gateway-doctor", configure, ready=[EV_STDIO], env=keyring_env)
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir(parents=True)
    cursor.write_text('{"mcpServers": {}}\n')
    env = {"SWITCHBOARD_HOME_OVERRIDE": str(home)}
    gateway.cli("clients", "install", "cursor", env=env)

    report = gateway.cli("doctor", "--json", env=env).json()
    alarms = [c for c in report["checks"] if c["severity"] in ("warning", "problem")]
    assert alarms == [], json.dumps(alarms, indent=2)
    fine = {(c["area"], c["subject"]) for c in report["checks"] if c["severity"] == "ok"}
    assert ("server", EV_STDIO) in fine and ("client", "cursor") in fine, report
    assert any(area == "gateway" and subject.rstrip("/") == gateway.mcp_url for area, subject in fine), report
    text = gateway.cli("doctor", env=env)
    assert "0 problem(s), 0 warning(s)" in text.stdout, text.describe()
    print(text.stdout)

    # A real problem: reported with its fix, and the exit status says so.
    gateway.cli("servers", "add", "broken", "--command", "/nonexistent/mcp-tool")
    bad = gateway.cli("doctor", check=False, env=env)
    assert bad.returncode != 0
    assert "PROBLEM  server   broken: its command `/nonexistent/mcp-tool` is not on" in bad.stdout, bad.describe()
    assert "fix: install `mcp-tool`" in bad.stdout, bad.describe()


KEYRING_SCRIPT = r"""
set -e
export XDG_DATA_HOME="$(mktemp -d)" XDG_RUNTIME_DIR="$(mktemp -d)"
chmod 700 "$XDG_RUNTIME_DIR"
eval "$(printf keyring-test-pass | gnome-keyring-daemon --unlock --components=secrets)"
"$SB" --data-dir "$DATA" clients import claude-desktop
"$SB" --data-dir "$DATA" doctor --json > "$DATA/doctor.json" || true
"""


def test_secrets_go_to_a_real_secret_service(home: Path, tmp_path: Path, sandbox_env) -> None:
    """Under a private D-Bus session with an unlocked gnome-keyring: import stores the secret
    in the Secret Service (no opt-in file), and the doctor reads it back."""
    config = home / CLAUDE_CONFIG
    config.parent.mkdir(parents=True)
    config.write_text(claude_desktop_config())
    data = tmp_path / "data"
    env = {**sandbox_env, "SB": str(paths.SWITCHBOARD), "DATA": str(data), "SWITCHBOARD_HOME_OVERRIDE": str(home)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    done = run(["dbus-run-session", "--", "bash", "-c", KEYRING_SCRIPT], env=env, timeout=120)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Secrets stored in the OS keyring" in done.stdout, done.stdout
    assert b"wk_fixture_secret" not in database_bytes(data)
    assert not (data / "secrets.json").exists()
    report = json.loads((data / "doctor.json").read_text())
    keyring = [c for c in report["checks"] if c["area"] == "keyring"]
    assert keyring and keyring[0]["severity"] == "ok", keyring
    weather = [c for c in report["checks"] if c["area"] == "server" and c["subject"] == "weather"]
    assert not any("missing" in c["detail"] for c in weather), weather
