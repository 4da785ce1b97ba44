#!/usr/bin/env python3
"""Capture the tool definitions of real MCP servers into tools/<key>.json.

Usage:
    python capture.py                 # every server in servers.toml that is not marked skip
    python capture.py filesystem git  # only these keys (skip marks are ignored for named keys)
    python capture.py -j 4 --timeout 240

Needs a Python with the official MCP SDK (`pip install mcp`), plus node/npm for
npm servers. Packages are installed at the exact pinned version into
~/.cache/switchboard/corpus-npm/ and ~/.cache/switchboard/corpus-py/, each
server is started over stdio, and every page of tools/list is recorded as the
server sent it.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "servers.toml"
TOOLS_DIR = HERE / "tools"
CACHE = Path(os.environ.get("SWITCHBOARD_CORPUS_CACHE", Path.home() / ".cache" / "switchboard"))
NPM_ROOT = CACHE / "corpus-npm"
PY_ROOT = CACHE / "corpus-py"
LOG_ROOT = CACHE / "corpus-logs"
NPM_CACHE = CACHE / "corpus-npm-cache"
PIP_CACHE = CACHE / "corpus-pip-cache"
DEFAULT_TIMEOUT = 180.0

# Keep installs from fetching browsers or other large side downloads.
INSTALL_ENV = {
    "PUPPETEER_SKIP_DOWNLOAD": "1",
    "PUPPETEER_SKIP_CHROMIUM_DOWNLOAD": "1",
    "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
    "npm_config_cache": str(NPM_CACHE),
    "npm_config_audit": "false",
    "npm_config_fund": "false",
    "npm_config_update_notifier": "false",
    "PIP_CACHE_DIR": str(PIP_CACHE),
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


def load_servers() -> list[dict]:
    with SERVERS.open("rb") as fh:
        data = tomllib.load(fh)
    servers = data.get("server", [])
    keys = [s["key"] for s in servers]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise SystemExit(f"duplicate keys in servers.toml: {sorted(dupes)}")
    return servers


def safe_name(package: str, version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{package}@{version}").strip("_")


def run_logged(argv: list[str], log, env: dict, timeout: float, cwd: str | None = None) -> None:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    proc = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"install failed: {' '.join(argv[:3])} ... exited {proc.returncode}")


# ---------------------------------------------------------------- install


def install_npm(entry: dict, log, env: dict, deadline: float) -> tuple[list[str], list[str]]:
    """Install the pinned npm package; return (argv to run, argv to record)."""
    pkg, ver = entry["package"], entry["version"]
    prefix = NPM_ROOT / safe_name(pkg, ver)
    marker = prefix / ".installed"
    spec = json.dumps([pkg, ver, bool(entry.get("ignore_scripts"))])
    if not marker.exists() or marker.read_text() != spec:
        prefix.mkdir(parents=True, exist_ok=True)
        argv = ["npm", "install", "--no-save", "--prefix", str(prefix), f"{pkg}@{ver}"]
        if entry.get("ignore_scripts"):
            argv.append("--ignore-scripts")
        run_logged(argv, log, env, max(10.0, deadline - time.monotonic()))
        marker.write_text(spec)
    manifest = json.loads((prefix / "node_modules" / pkg / "package.json").read_text())
    if manifest.get("version") != ver:
        raise RuntimeError(f"installed {manifest.get('version')} instead of {ver}")
    bins = manifest.get("bin") or {}
    if isinstance(bins, str):
        bins = {pkg.split("/")[-1]: bins}
    if not bins:
        raise RuntimeError("package has no bin entry")
    name = entry.get("bin")
    if name is None:
        if len(bins) == 1:
            name = next(iter(bins))
        else:
            base = pkg.split("/")[-1]
            name = base if base in bins else sorted(bins)[0]
    if name not in bins:
        raise RuntimeError(f"bin {name!r} not in {sorted(bins)}")
    script = (prefix / "node_modules" / pkg / bins[name]).resolve()
    run = ["node", str(script)]
    shown = ["npx", "-y", f"{pkg}@{ver}"] if name == pkg.split("/")[-1] or len(bins) == 1 else [
        "npx", "-y", "-p", f"{pkg}@{ver}", name]
    return run, shown


def install_pypi(entry: dict, log, env: dict, deadline: float) -> tuple[list[str], list[str]]:
    pkg, ver = entry["package"], entry["version"]
    venv = PY_ROOT / safe_name(pkg, ver)
    marker = venv / ".installed"
    py = venv / "bin" / "python"
    spec = json.dumps([pkg, ver, entry.get("pip_extra", [])])
    if not marker.exists() or marker.read_text() != spec:
        if venv.exists():
            shutil.rmtree(venv)
        base_python = entry.get("python") or shutil.which("python3") or sys.executable
        run_logged([base_python, "-m", "venv", str(venv)], log, env, 60)
        extra = entry.get("pip_extra", [])
        run_logged([str(py), "-m", "pip", "install", "--quiet", f"{pkg}=={ver}", *extra], log, env,
                   max(10.0, deadline - time.monotonic()))
        marker.write_text(spec)
    if "module" in entry:
        return [str(py), "-m", entry["module"]], ["python", "-m", entry["module"]]
    script = entry.get("bin") or pkg
    path = venv / "bin" / script
    if not path.exists() and "bin" not in entry:
        # fall back to the package's only MCP console script
        skip = {"python", "python3", "pip", "pip3", "wheel", "mcp", "fastmcp"}
        found = [f.name for f in (venv / "bin").iterdir()
                 if f.is_file() and "mcp" in f.name.lower() and not f.name.startswith(("activate", "python", "pip"))
                 and f.name not in skip]
        if len(found) == 1:
            script, path = found[0], venv / "bin" / found[0]
    if not path.exists():
        raise RuntimeError(f"console script {script!r} not found in venv")
    return [str(path)], ["uvx", f"{pkg}=={ver}"] if script == pkg else ["uvx", "--from", f"{pkg}=={ver}", script]


# ---------------------------------------------------------------- capture


def substitute(value: str, tmp: Path) -> str:
    return value.replace("{tmp}", str(tmp)).replace("{home}", str(Path.home()))


def prepare_tmp(tmp: Path) -> None:
    (tmp / "notes").mkdir(parents=True, exist_ok=True)
    (tmp / "notes" / "todo.md").write_text("# todo\n- write the report\n")
    (tmp / "data.csv").write_text("id,name\n1,alpha\n2,beta\n")
    # a small git repository for git servers
    subprocess.run(["git", "init", "-q", str(tmp)], check=False)
    subprocess.run(["git", "-C", str(tmp), "add", "-A"], check=False)
    subprocess.run(["git", "-C", str(tmp), "-c", "user.name=corpus", "-c", "user.email=corpus@example.invalid",
                    "commit", "-q", "-m", "initial"], check=False)


async def list_all_tools(run: list[str], env: dict, cwd: str, errlog, list_timeout: float):
    import anyio
    from mcp import ClientSession, StdioServerParameters
    from mcp import types
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=run[0], args=run[1:], env=env, cwd=cwd)
    raw_pages: dict = {}

    async with stdio_client(params, errlog=errlog) as (read, write):
        tap_send, tap_recv = anyio.create_memory_object_stream(0)

        async def tap() -> None:
            # Record tools/list results exactly as served, before any client-side parsing.
            async with tap_send:
                async for item in read:
                    msg = getattr(item, "message", None)
                    result = getattr(msg, "result", None)
                    if isinstance(result, dict) and isinstance(result.get("tools"), list):
                        raw_pages[msg.id] = result
                    await tap_send.send(item)

        async with anyio.create_task_group() as tg:
            tg.start_soon(tap)
            async with ClientSession(tap_recv, write) as session:
                with anyio.fail_after(list_timeout):
                    init = await session.initialize()
                    tools: list[dict] = []
                    cursor = None
                    seen_cursors = set()
                    while True:
                        before = set(raw_pages)
                        req = types.PaginatedRequestParams(cursor=cursor) if cursor else None
                        try:
                            result = await session.list_tools(params=req)
                        except Exception as exc:  # noqa: BLE001 - a page the SDK rejects is still recorded raw
                            result, failure = None, exc
                        new = [raw_pages[k] for k in raw_pages if k not in before]
                        if new:
                            page = new[-1]
                            tools.extend(page["tools"])
                            cursor = page.get("nextCursor")
                        elif result is not None:  # fall back to the parsed model
                            tools.extend(t.model_dump(mode="json", by_alias=True, exclude_none=True)
                                         for t in result.tools)
                            cursor = result.next_cursor
                        else:
                            raise RuntimeError(f"tools/list failed: {failure}")
                        if not cursor or cursor in seen_cursors:
                            break
                        seen_cursors.add(cursor)
            tg.cancel_scope.cancel()
    info = init.server_info.model_dump(mode="json", by_alias=True, exclude_none=True)
    return tools, info, init.protocol_version


def worker(key: str, timeout: float) -> dict:
    """Install and capture one server; runs in its own process."""
    import anyio

    entries = {s["key"]: s for s in load_servers()}
    entry = entries[key]
    deadline = time.monotonic() + timeout
    LOG_ROOT.mkdir(parents=True, exist_ok=True)
    log_path = LOG_ROOT / f"{key}.log"
    with log_path.open("w") as log, tempfile.TemporaryDirectory(prefix=f"corpus-{key}-") as tmpname:
        tmp = Path(tmpname)
        prepare_tmp(tmp)
        for rel, content in entry.get("files", {}).items():  # e.g. placeholder credential files
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(substitute(content, tmp))
        env = dict(os.environ)
        env.update(INSTALL_ENV)
        if entry["registry"] == "npm":
            run, shown = install_npm(entry, log, env, deadline)
        elif entry["registry"] == "pypi":
            run, shown = install_pypi(entry, log, env, deadline)
        else:
            raise RuntimeError(f"unknown registry {entry['registry']!r}")
        args = [substitute(a, tmp) for a in entry.get("args", [])]
        server_env = {k: substitute(str(v), tmp) for k, v in entry.get("env", {}).items()}
        run_env = dict(env)
        run_env.update(server_env)
        log.write(f"$ {' '.join(run + args)}\n--- server stderr ---\n")
        log.flush()
        remaining = max(15.0, deadline - time.monotonic())
        tools, info, proto = anyio.run(list_all_tools, run + args, run_env, str(tmp), log, remaining)
    if not tools:
        raise RuntimeError("server listed no tools")
    names = [t.get("name") for t in tools]
    record = {
        "key": key,
        "package": entry["package"],
        "registry": entry["registry"],
        "version": entry["version"],
        "captured": dt.date.today().isoformat(),
        "command": shown + [a.replace(str(tmp), "{tmp}") for a in entry.get("args", [])],
        "env": {k: str(v) for k, v in entry.get("env", {}).items()},
        "server_info": info,
        "protocol_version": proto,
        "tool_count": len(tools),
        "tools": tools,
    }
    if len(set(names)) != len(names):
        record["duplicate_names"] = sorted({n for n in names if names.count(n) > 1})
    TOOLS_DIR.mkdir(exist_ok=True)
    out = TOOLS_DIR / f"{key}.json"
    out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return {"key": key, "ok": True, "tools": len(tools)}


def run_one(key: str, timeout: float) -> dict:
    """Run a worker process with a hard timeout; kill its whole process group on expiry."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", key, "--timeout", str(timeout)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"key": key, "ok": False, "error": f"timed out after {timeout:.0f}s", "secs": time.monotonic() - started}
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stray server children
        except ProcessLookupError:
            pass
    result = None
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
                break
            except json.JSONDecodeError:
                pass
    if result is None:
        tail = (err or out).strip().splitlines()[-3:]
        result = {"key": key, "ok": False, "error": " | ".join(tail)[-300:] or f"exit {proc.returncode}"}
    result["secs"] = round(time.monotonic() - started, 1)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("keys", nargs="*", help="server keys to capture (default: all not marked skip)")
    ap.add_argument("-j", "--jobs", type=int, default=3, help="servers captured in parallel")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per server incl. install")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--missing", action="store_true", help="only servers without a tools/<key>.json yet")
    opts = ap.parse_args()

    if opts.worker:
        try:
            res = worker(opts.worker, opts.timeout or DEFAULT_TIMEOUT)
        except BaseException as exc:  # noqa: BLE001 - report any failure as a result line
            while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
                exc = exc.exceptions[0]
            res = {"key": opts.worker, "ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        print(json.dumps(res), flush=True)
        return 0

    servers = load_servers()
    by_key = {s["key"]: s for s in servers}
    unknown = [k for k in opts.keys if k not in by_key]
    if unknown:
        print(f"unknown keys: {unknown}", file=sys.stderr)
        return 2
    chosen = [by_key[k] for k in opts.keys] if opts.keys else [s for s in servers if not s.get("skip")]
    if opts.missing:
        chosen = [s for s in chosen if not (TOOLS_DIR / f"{s['key']}.json").exists()]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        futs = {pool.submit(run_one, s["key"], opts.timeout or float(s.get("timeout", DEFAULT_TIMEOUT))): s
                for s in chosen}
        for fut in concurrent.futures.as_completed(futs):
            res = fut.result()
            results.append(res)
            status = f"{res['tools']:4d} tools" if res["ok"] else f"FAILED: {res['error']}"
            print(f"{res['key']:<28} {status}  ({res.get('secs', 0):.0f}s)", flush=True)
    ok = [r for r in results if r["ok"]]
    print(f"\ncaptured {len(ok)}/{len(results)} servers, {sum(r['tools'] for r in ok)} tools this run")
    LOG_ROOT.mkdir(parents=True, exist_ok=True)
    (LOG_ROOT / "summary.json").write_text(json.dumps(sorted(results, key=lambda r: r["key"]), indent=2))
    return 0 if len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
