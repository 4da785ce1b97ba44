"""Stdio servers run sandboxed by default, on the real kernel: Landlock file and network rules,
a private network namespace, no new privileges, a minimal environment.

A real Python MCP server (`helpers/nosy_server.py`) tries what a compromised server would: read a
key under ~/.ssh, write outside its grants, connect to a loopback listener, read the gateway's
environment (its own and through /proc). Real third-party servers (server-filesystem and
server-memory from npm, mcp-server-git from PyPI) work sandboxed with the grants inferred from
their launch.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import paths
from helpers.gateway import Gateway
from helpers.mcp_client import connect, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

CANARY = "SANDBOX_CANARY_SECRET"
CANARY_VALUE = "canary-7d41f0c2"
NOSY = "nosy"
FILESYSTEM = "files"
MEMORY = "memory"
GIT = "git"

NOSY_SERVER = paths.HELPERS / "nosy_server.py"
SERVER_FILESYSTEM = paths.MCP_PACKAGES / "server-filesystem" / "dist" / "index.js"
SERVER_MEMORY = paths.MCP_PACKAGES / "server-memory" / "dist" / "index.js"
MCP_SERVER_GIT = paths.PYTHON.parent / "mcp-server-git"


@pytest.fixture(scope="module")
def places(session_dir: Path, sandbox_env: dict[str, str]) -> dict[str, Path]:
    """A fake key under the (private) HOME, folders for the servers, a git repository."""
    home = Path(sandbox_env["HOME"])
    (home / ".ssh").mkdir(exist_ok=True)
    key = home / ".ssh" / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n")
    root = session_dir / "sandbox-places"
    granted = root / "granted"
    granted.mkdir(parents=True)
    (granted / "note.txt").write_text("granted note")
    files = root / "files"
    files.mkdir()
    (files / "hello.txt").write_text("hello from the granted folder")
    memory = root / "memory"
    memory.mkdir()
    repo = root / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "README.md").write_text("sandboxed repository\n")
    subprocess.run([*git, "add", "README.md"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first commit in the sandbox test"], check=True)
    return {
        "key": key,
        "home": home,
        "root": root,
        "granted": granted,
        "files": files,
        "memory": memory,
        "repo": repo,
    }


@pytest.fixture(scope="module")
def gateway(
    session_dir: Path, sandbox_env: dict[str, str], log_dir: Path, places: dict[str, Path]
) -> Iterator[Gateway]:
    env = {**sandbox_env, CANARY: CANARY_VALUE}
    gateway = Gateway(session_dir / "gateway-sandbox", env, log_dir)
    gateway.add_stdio(NOSY, paths.PYTHON, NOSY_SERVER)
    gateway.add_stdio(FILESYSTEM, paths.NODE, SERVER_FILESYSTEM, places["files"])
    gateway.add_stdio(
        MEMORY, paths.NODE, SERVER_MEMORY, env={"MEMORY_FILE_PATH": str(places["memory"] / "graph.jsonl")}
    )
    gateway.add_stdio(GIT, MCP_SERVER_GIT, "--repository", places["repo"])
    for name in (NOSY, FILESYSTEM, MEMORY, GIT):
        gateway.trust(name)
    gateway.token = gateway.add_client("acceptance")
    gateway.start("gateway-sandbox")
    gateway.wait_all([NOSY, FILESYSTEM, MEMORY, GIT])
    yield gateway
    gateway.stop()


async def call(gateway: Gateway, server: str, tool: str, arguments: dict[str, Any] | None = None) -> Any:
    async with connect(gateway.url(server), gateway.token) as client:
        return await client.call_tool(tool, arguments or {})


async def nosy(gateway: Gateway, tool: str, **arguments: Any) -> str:
    return text_of(await call(gateway, NOSY, tool, arguments))


def nosy_pid(gateway: Gateway) -> int | None:
    pids = gateway.upstream_pids(str(NOSY_SERVER))
    return pids[0] if len(pids) == 1 else None


def wait_restarted(gateway: Gateway, before: int | None, timeout: float = 30) -> None:
    """Until the nosy server runs as a new process and is ready again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = nosy_pid(gateway)
        if pid is not None and pid != before and gateway.server(NOSY)["status"]["state"] == "ready":
            return
        time.sleep(0.1)
    raise AssertionError(f"{NOSY} did not restart (pid before {before}, now {nosy_pid(gateway)})")


def environment_of(result: Any) -> dict[str, str]:
    structured = getattr(result, "structured_content", None) or getattr(result, "structuredContent", None)
    if structured:
        return structured.get("result", structured)
    return json.loads(text_of(result))


async def test_default_sandbox_denies_secrets_writes_network_and_environment(
    gateway: Gateway, places: dict[str, Path], session_dir: Path
) -> None:
    read_key = await nosy(gateway, "read_file", path=str(places["key"]))
    assert read_key.startswith("denied: PermissionError"), read_key

    for outside in (places["home"] / "planted.txt", session_dir / "planted.txt", Path("/tmp/planted-by-server.txt")):
        wrote = await nosy(gateway, "write_file", path=str(outside), text="x")
        assert wrote.startswith("denied: PermissionError"), (outside, wrote)
        assert not outside.exists()

    env = environment_of(await call(gateway, NOSY, "environment"))
    assert CANARY not in env, f"the gateway's environment leaked into the server: {sorted(env)}"
    assert set(env) <= {"PATH", "HOME", "LANG", "TMPDIR", "LC_CTYPE"}, sorted(env)
    temp = Path(env["TMPDIR"])
    assert temp.is_relative_to(gateway.data_dir), temp
    wrote = await nosy(gateway, "write_file", path=str(temp / "scratch.txt"), text="scratch")
    assert wrote.startswith("ok"), wrote

    through_proc = await nosy(gateway, "proc_environ", pid=gateway.pid)
    assert through_proc.startswith("denied"), through_proc
    assert CANARY_VALUE not in through_proc

    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        dialed = await nosy(gateway, "connect", host="127.0.0.1", port=port)
        assert dialed.startswith("denied"), dialed
        with pytest.raises(TimeoutError):
            listener.accept()

    (pid,) = gateway.upstream_pids(str(NOSY_SERVER))
    status = Path(f"/proc/{pid}/status").read_text()
    assert "NoNewPrivs:\t1" in status
    assert Path(f"/proc/{pid}/ns/net").readlink() != Path("/proc/self/ns/net").readlink()


async def test_a_granted_folder_is_readable_after_approval(gateway: Gateway, places: dict[str, Path]) -> None:
    note = places["granted"] / "note.txt"
    assert (await nosy(gateway, "read_file", path=str(note))).startswith("denied")

    changed = gateway.cli("servers", "sandbox", NOSY, "--allow-read", places["granted"])
    assert "approve" in changed.stderr, changed.describe()
    listed = gateway.server(NOSY)
    assert listed["sandbox"]["settings"]["allow_read"] == [str(places["granted"].resolve())]
    # Wider than what was approved: the server does not run until the user approves.
    gateway.wait_until(NOSY, "blocked", timeout=20)
    assert nosy_pid(gateway) is None
    gateway.cli("servers", "approve", NOSY)
    wait_restarted(gateway, None)

    assert await nosy(gateway, "read_file", path=str(note)) == "ok: granted note"
    # Read only: a read grant does not let it write there.
    wrote = await nosy(gateway, "write_file", path=str(places["granted"] / "new.txt"), text="x")
    assert wrote.startswith("denied"), wrote
    # The key stays out of reach.
    assert (await nosy(gateway, "read_file", path=str(places["key"]))).startswith("denied")


async def test_servers_list_json_carries_the_sandbox(gateway: Gateway, places: dict[str, Path]) -> None:
    files = gateway.server(FILESYSTEM)["sandbox"]
    assert files["settings"]["enabled"] is True
    plan = files["plan"]
    assert plan["network"] is False
    shown = {(g["path"], g["access"], g["why"]) for g in plan["grants"] if g["why"] != "system"}
    assert (str(places["files"]), "write", "argument") in shown, shown
    assert (str(paths.NODE_MODULES), "read", "package") in shown, shown
    memory = gateway.server(MEMORY)["sandbox"]["plan"]
    assert (str(places["memory"]), "write", "environment") in {
        (g["path"], g["access"], g["why"]) for g in memory["grants"]
    }
    remote = gateway.cli("servers", "sandbox", "no-such-server", check=False)
    assert remote.returncode != 0 and "no-such-server" in remote.stderr


async def test_server_filesystem_works_sandboxed(gateway: Gateway, places: dict[str, Path]) -> None:
    hello = places["files"] / "hello.txt"
    text = text_of(await call(gateway, FILESYSTEM, "read_text_file", {"path": str(hello)}))
    assert "hello from the granted folder" in text
    target = places["files"] / "written.txt"
    await call(gateway, FILESYSTEM, "write_file", {"path": str(target), "content": "written in the sandbox"})
    assert target.read_text() == "written in the sandbox"
    # Outside its root the server refuses by itself; the kernel would refuse as well.
    outside = await call(gateway, FILESYSTEM, "read_text_file", {"path": str(places["key"])})
    assert outside.is_error


async def test_server_memory_works_sandboxed(gateway: Gateway, places: dict[str, Path]) -> None:
    entity = {"name": "Sandbox", "entityType": "feature", "observations": ["runs under Landlock"]}
    await call(gateway, MEMORY, "create_entities", {"entities": [entity]})
    graph = text_of(await call(gateway, MEMORY, "read_graph"))
    assert "runs under Landlock" in graph
    assert "runs under Landlock" in (places["memory"] / "graph.jsonl").read_text()


async def test_mcp_server_git_works_sandboxed(gateway: Gateway, places: dict[str, Path]) -> None:
    repo = str(places["repo"])
    status = text_of(await call(gateway, GIT, "git_status", {"repo_path": repo}))
    assert "branch" in status.lower(), status
    log = text_of(await call(gateway, GIT, "git_log", {"repo_path": repo}))
    assert "first commit in the sandbox test" in log, log


async def test_sandbox_off_needs_approval_and_gives_full_rights(gateway: Gateway, places: dict[str, Path]) -> None:
    off = gateway.cli("servers", "sandbox", NOSY, "--off")
    assert "approve" in off.stderr, off.describe()
    gateway.wait_until(NOSY, "blocked", timeout=20)
    gateway.cli("servers", "approve", NOSY)
    wait_restarted(gateway, None)
    try:
        env = environment_of(await call(gateway, NOSY, "environment"))
        assert env.get(CANARY) == CANARY_VALUE, "unsandboxed, the server has the gateway's environment"
        assert (await nosy(gateway, "read_file", path=str(places["key"]))).startswith("ok")
        listed = gateway.cli("servers", "list").stdout
        assert "[unsandboxed]" in listed, listed
        checks = gateway.cli("doctor", "--json", check=False).json()["checks"]
        sandbox = {c["subject"]: c for c in checks if c["area"] == "sandbox"}
        assert sandbox["kernel"]["severity"] == "ok", sandbox
        assert sandbox["kernel"]["detail"].startswith("Landlock ABI "), sandbox["kernel"]
        assert "unsandboxed" in sandbox[NOSY]["detail"] and sandbox[NOSY]["severity"] == "warning"
        assert FILESYSTEM not in sandbox, "sandboxed servers are not flagged"
    finally:
        # Back on: narrower, so it keeps its approval and restarts sandboxed.
        before = nosy_pid(gateway)
        back = gateway.cli("servers", "sandbox", NOSY, "--on")
        assert "approve" not in back.stderr, back.describe()
        wait_restarted(gateway, before)
    env = environment_of(await call(gateway, NOSY, "environment"))
    assert CANARY not in env
