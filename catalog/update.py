#!/usr/bin/env python3
"""Refreshes catalog/servers.json, the server catalog bundled with Switchboard.

The catalog is a snapshot of entries from the official MCP registry
(https://registry.modelcontextprotocol.io), in the registry's own list format:

    {"servers": [{"server": {<server.json>}, "_meta": {...}}, ...], "metadata": {"count": N}}

Every server already in the file is fetched again at its latest version; `--add NAME`
adds more (registry names such as `io.github.owner/repo`). Entries the registry no
longer has are kept as they are and listed on stderr, so a flaky network never
shrinks the catalog. Only the Python standard library is used.

This script needs the internet: run it by hand, then review and commit the diff.
Tests and CI never run it; they read the committed file.

    python3 catalog/update.py                      # refresh every entry
    python3 catalog/update.py --add com.example/x  # and add one
    python3 catalog/update.py --dry-run            # print, do not write
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.modelcontextprotocol.io"
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "servers.json"
OFFICIAL = "io.modelcontextprotocol.registry/official"
# What a local package of the entry may use in its sandbox (Switchboard's own key).
SANDBOX = "io.github.switchboard-mcp/sandbox"


def get_json(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def latest(registry: str, name: str) -> dict | None:
    """The registry's latest entry for `name` ({"server": ..., "_meta": ...}), or None."""
    quoted = urllib.parse.quote(name, safe="")
    try:
        return get_json(f"{registry}/v0/servers/{quoted}/versions/latest")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
    # Older registries only answer searches.
    query = urllib.parse.urlencode({"search": name, "version": "latest"})
    for item in get_json(f"{registry}/v0/servers?{query}").get("servers", []):
        if item.get("server", {}).get("name") == name:
            return item
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registry", default=REGISTRY, help="registry base URL")
    parser.add_argument("--add", action="append", default=[], metavar="NAME", help="add a server by registry name")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the catalog file")
    parser.add_argument("--dry-run", action="store_true", help="print the result instead of writing it")
    args = parser.parse_args()

    current = json.loads(args.out.read_text()) if args.out.exists() else {"servers": []}
    entries = [item for item in current.get("servers", []) if item.get("server", {}).get("name")]
    names = [item["server"]["name"] for item in entries] + [n for n in args.add if n]

    refreshed: list[dict] = []
    for name in dict.fromkeys(names):
        old = next((item for item in entries if item["server"]["name"] == name), None)
        try:
            item = latest(args.registry.rstrip("/"), name)
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as error:
            print(f"{name}: {error}; kept as it was", file=sys.stderr)
            item = None
        if item is None:
            if old is None:
                print(f"{name}: not in the registry; not added", file=sys.stderr)
                continue
            print(f"{name}: not found; kept as it was", file=sys.stderr)
            item = old
        meta = {OFFICIAL: item.get("_meta", {}).get(OFFICIAL, {})}
        # The sandbox grants are ours, not the registry's: keep what the entry declared.
        if old is not None and SANDBOX in old.get("_meta", {}):
            meta[SANDBOX] = old["_meta"][SANDBOX]
        refreshed.append({"server": item["server"], "_meta": meta})
        print(f"{name} {item['server'].get('version', '?')}", file=sys.stderr)

    refreshed.sort(key=lambda item: item["server"]["name"].lower())
    text = json.dumps({"servers": refreshed, "metadata": {"count": len(refreshed)}}, indent=2, ensure_ascii=False) + "\n"
    if args.dry_run:
        sys.stdout.write(text)
    else:
        args.out.write_text(text)
        print(f"wrote {args.out} ({len(refreshed)} servers)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
