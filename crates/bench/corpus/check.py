#!/usr/bin/env python3
"""Validate the tool-search corpus: servers.toml, tools/*.json and queries.jsonl.

Checks that every file parses, every captured server is listed in servers.toml
with the same package and version, tool names are unique per server, the
corpus holds at least MIN_TOOLS tool definitions, and every query label (and
every `also` entry) names a tool that exists. Prints counts; exits 1 on failure.
"""
from __future__ import annotations

import collections
import json
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIN_TOOLS = 1000
MIN_QUERIES = 200
MIN_QUERY_SERVERS = 35
REQUIRED = ("key", "package", "registry", "version", "captured", "command", "tools")


def is_identifier(name: str) -> bool:
    """A tool name that reads as code (snake, kebab or camel case) rather than a plain word."""
    return any(c in name for c in "_-.") or any(c.isupper() for c in name[1:])


def main() -> int:
    errors: list[str] = []

    def err(msg: str) -> None:
        errors.append(msg)

    try:
        servers = tomllib.loads((HERE / "servers.toml").read_text())["server"]
    except Exception as exc:  # noqa: BLE001
        print(f"servers.toml: {exc}")
        return 1
    listed = {s["key"]: s for s in servers}

    tools: dict[str, set[str]] = {}
    total = 0
    packages: dict[tuple[str, str], str] = {}
    for path in sorted((HERE / "tools").glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            err(f"{path.name}: invalid JSON: {exc}")
            continue
        missing = [f for f in REQUIRED if f not in data]
        if missing:
            err(f"{path.name}: missing fields {missing}")
            continue
        key = data["key"]
        if path.stem != key:
            err(f"{path.name}: key {key!r} does not match the file name")
        if data["registry"] not in ("npm", "pypi"):
            err(f"{path.name}: registry must be npm or pypi")
        entry = listed.get(key)
        if entry is None:
            err(f"{path.name}: no [[server]] entry with key {key!r} in servers.toml")
        elif (entry["package"], entry["version"], entry["registry"]) != (data["package"], data["version"], data["registry"]):
            err(f"{path.name}: package/version differ from servers.toml")
        elif entry.get("skip"):
            err(f"{path.name}: captured, but servers.toml marks it skip")
        pkg = (data["registry"], data["package"])
        if pkg in packages:
            err(f"{path.name}: package {data['package']} also captured as {packages[pkg]}")
        packages[pkg] = key
        names = []
        for i, tool in enumerate(data["tools"]):
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
                err(f"{path.name}: tool #{i} has no name")
                continue
            if not isinstance(tool.get("inputSchema"), dict):
                err(f"{path.name}: tool {tool['name']} has no inputSchema object")
            names.append(tool["name"])
        dupes = sorted(n for n, c in collections.Counter(names).items() if c > 1)
        if dupes:
            err(f"{path.name}: duplicate tool names {dupes}")
        if not names:
            err(f"{path.name}: no tools")
        if data.get("tool_count", len(names)) != len(data["tools"]):
            err(f"{path.name}: tool_count does not match the tools list")
        tools[key] = set(names)
        total += len(names)

    queries = 0
    by_server: collections.Counter = collections.Counter()
    by_target: collections.Counter = collections.Counter()
    seen_text: set[str] = set()
    qpath = HERE / "queries.jsonl"
    for lineno, line in enumerate(qpath.read_text().splitlines(), 1):
        if not line.strip():
            continue
        where = f"queries.jsonl:{lineno}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as exc:
            err(f"{where}: invalid JSON: {exc}")
            continue
        if not isinstance(q.get("query"), str) or not q["query"].strip():
            err(f"{where}: empty query")
            continue
        text = q["query"].strip().lower()
        if text in seen_text:
            err(f"{where}: duplicate query text")
        seen_text.add(text)
        server, tool = q.get("server"), q.get("tool")
        if server not in tools:
            err(f"{where}: unknown server {server!r}")
        elif tool not in tools[server]:
            err(f"{where}: {server} has no tool {tool!r}")
        elif is_identifier(tool) and tool.lower() in text:
            err(f"{where}: query names the tool {tool!r}")
        also = q.get("also", [])
        if not isinstance(also, list):
            err(f"{where}: also must be a list")
            also = []
        for ref in also:
            s, _, t = str(ref).partition("/")
            if s == server:
                err(f"{where}: also entry {ref!r} is in the labelled server")
            elif s not in tools or t not in tools[s]:
                err(f"{where}: also entry {ref!r} does not resolve")
        queries += 1
        by_server[server] += 1
        by_target[(server, tool)] += 1

    if total < MIN_TOOLS:
        err(f"only {total} tool definitions (need at least {MIN_TOOLS})")
    if queries < MIN_QUERIES:
        err(f"only {queries} queries (need at least {MIN_QUERIES})")
    if len(by_server) < MIN_QUERY_SERVERS:
        err(f"queries cover only {len(by_server)} servers (need at least {MIN_QUERY_SERVERS})")

    npm = sum(1 for k in tools if listed.get(k, {}).get("registry") == "npm")
    print(f"servers: {len(tools)} captured ({npm} npm, {len(tools) - npm} PyPI), "
          f"{sum(1 for s in servers if s.get('skip'))} listed as skipped")
    print(f"tools:   {total}")
    print(f"queries: {queries} over {len(by_server)} servers and {len(by_target)} distinct tools, "
          f"{sum(1 for l in qpath.read_text().splitlines() if l.strip() and json.loads(l).get('also'))} with equivalents")
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print(f"  {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
