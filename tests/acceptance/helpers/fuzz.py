"""Random and mutated JSON-RPC messages for throwing at an MCP endpoint.

Every case is built from a seeded `random.Random`, so a failing run is reproduced by its seed.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

from . import raw

WEIRD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 1e308, 2**63, -(2**63) - 1, 10**40,
    "", "x", "\u0000", "💥" * 8, [], [None], {}, {"": ""}, {"_meta": None},
]  # fmt: skip

WEIRD_IDS: list[Any] = [
    2**64, -(2**63) - 1, 10**100, 1e308, -0.0, 0.5, "", "x" * 10_000, None, [], {}, True,
    "🙂" * 50, "\u202e\u0000id",
]  # fmt: skip

WEIRD_METHODS = [
    "", "tools", "tools/", "/tools/list", "TOOLS/LIST", "tools/list\u0000", "rpc.discover",
    "notifications/", "x" * 5000, "résumé/列表", "$/cancelRequest", "initialize/extra",
]  # fmt: skip

WEIRD_TOOL_NAMES = [
    "nope__echo", "__", "ev-stdio__", "__echo", "ev-stdio____echo", "ev-stdio__echo__echo",
    "../../etc/passwd", "ev-stdio/echo", "ev-stdio+echo", "\u0000", "é" * 300, "echo " * 200,
]  # fmt: skip


def base_messages(tool_prefix: str) -> list[dict[str, Any]]:
    """Valid messages a client could send inside a session; mutations start from these."""
    return [
        raw.initialize_request(1),
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
         "params": {"name": f"{tool_prefix}echo", "arguments": {"message": "fuzz"}}},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
         "params": {"name": f"{tool_prefix}get-sum", "arguments": {"a": 1, "b": 2}}},
        {"jsonrpc": "2.0", "id": 6, "method": "resources/list"},
        {"jsonrpc": "2.0", "id": 7, "method": "resources/templates/list"},
        {"jsonrpc": "2.0", "id": 8, "method": "resources/read",
         "params": {"uri": "ev-stdio+demo://resource/static/document/architecture.md"}},
        {"jsonrpc": "2.0", "id": 9, "method": "prompts/list"},
        {"jsonrpc": "2.0", "id": 10, "method": "prompts/get",
         "params": {"name": f"{tool_prefix}args-prompt", "arguments": {"city": "Oslo"}}},
        {"jsonrpc": "2.0", "id": 11, "method": "completion/complete",
         "params": {"ref": {"type": "ref/prompt", "name": f"{tool_prefix}completable-prompt"},
                    "argument": {"name": "department", "value": "S"}}},
        {"jsonrpc": "2.0", "id": 12, "method": "logging/setLevel", "params": {"level": "debug"}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
        {"jsonrpc": "2.0", "method": "notifications/progress",
         "params": {"progressToken": "t", "progress": 1}},
        {"jsonrpc": "2.0", "id": 13, "result": {}},
        {"jsonrpc": "2.0", "id": 14, "error": {"code": -1, "message": "stray"}},
    ]  # fmt: skip


@dataclass
class Case:
    kind: str
    body: bytes
    session: str  # "valid", "bogus" or "none"
    headers: dict[str, str] = field(default_factory=dict)

    def preview(self) -> str:
        return f"{self.kind} (session {self.session}): {self.body[:160]!r}"


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside nested dicts and lists."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple) -> Any:
    if not path:
        return {}
    parent = root
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return root


def _random_text(rng: random.Random, length: int) -> str:
    pools = [
        (0x20, 0x7E), (0xA0, 0x2FF), (0x400, 0x4FF), (0x4E00, 0x4FFF),
        (0x1F300, 0x1F6FF), (0x202A, 0x202E), (0x0, 0x1F), (0xFFF0, 0xFFFF),
    ]  # fmt: skip
    out = []
    for _ in range(length):
        low, high = rng.choice(pools)
        out.append(chr(rng.randint(low, high)))
    return "".join(out)


def _dumps(message: Any) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8", errors="surrogatepass")


class Mutator:
    def __init__(self, rng: random.Random, tool_prefix: str) -> None:
        self.rng = rng
        self.bases = base_messages(tool_prefix)

    def base(self) -> dict[str, Any]:
        return copy.deepcopy(self.rng.choice(self.bases))

    # Each strategy returns (kind, body).

    def valid(self):
        return "valid", _dumps(self.base())

    def drop_field(self):
        message = self.base()
        return "drop-field", _dumps(_delete(message, self.rng.choice(_paths(message)[1:])))

    def wrong_type(self):
        message = self.base()
        path = self.rng.choice(_paths(message))
        return "wrong-type", _dumps(_set(message, path, copy.deepcopy(self.rng.choice(WEIRD_VALUES))))

    def weird_id(self):
        message = self.base()
        message["id"] = self.rng.choice(WEIRD_IDS)
        return "weird-id", _dumps(message)

    def unicode(self):
        message = self.base()
        strings = [p for p in _paths(message) if p and isinstance(_get(message, p), str)]
        for path in self.rng.sample(strings, k=min(len(strings), self.rng.randint(1, 3))):
            _set(message, path, _random_text(self.rng, self.rng.randint(0, 64)))
        body = _dumps(message)
        if self.rng.random() < 0.3:
            # Lone surrogates and invalid UTF-8 inside a string.
            body = body.replace(b'"2.0"', self.rng.choice([b'"\\ud800"', b'"\xff\xfe"', b'"2.0\xc3"']), 1)
        return "unicode", body

    def deep_nesting(self):
        depth = self.rng.choice([64, 129, 1_000, 10_000, 100_000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        nested = opener * depth + "1" + closer * depth
        body = (
            f'{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"x","arguments":{nested}}}}}'
        )
        return "deep-nesting", body.encode()

    def truncated(self):
        body = _dumps(self.base())
        return "truncated", body[: self.rng.randint(0, max(0, len(body) - 1))]

    def random_bytes(self):
        return "random-bytes", self.rng.randbytes(self.rng.randint(0, 2048))

    def batch(self):
        items = []
        for _ in range(self.rng.randint(0, 20)):
            kind, body = self.rng.choice([self.valid, self.wrong_type, self.weird_id])()
            items.append(json.loads(body))
        return "batch", _dumps(items)

    def bad_version(self):
        message = self.base()
        choice = self.rng.choice([None, "1.0", "2", 2.0, "", "2.0 "])
        if choice is None:
            message.pop("jsonrpc", None)
        else:
            message["jsonrpc"] = choice
        return "bad-version", _dumps(message)

    def weird_method(self):
        message = self.base()
        if self.rng.random() < 0.5:
            message["method"] = self.rng.choice(WEIRD_METHODS)
        else:
            message = {"jsonrpc": "2.0", "id": 77, "method": self.rng.choice(["tools/call", "prompts/get"]),
                       "params": {"name": self.rng.choice(WEIRD_TOOL_NAMES), "arguments": {}}}  # fmt: skip
        return "weird-method", _dumps(message)

    def duplicate_keys(self):
        return "duplicate-keys", b'{"jsonrpc":"2.0","id":1,"id":"two","method":"ping","method":"tools/list"}'

    def scalar(self):
        return "scalar", self.rng.choice([b"null", b"1", b'"str"', b"true", b"[]", b"{}", b"", b" ", b"\n"])

    def strategies(self):
        return [
            self.valid, self.drop_field, self.wrong_type, self.weird_id, self.unicode,
            self.deep_nesting, self.truncated, self.random_bytes, self.batch, self.bad_version,
            self.weird_method, self.duplicate_keys, self.scalar,
        ]  # fmt: skip


def _get(root: Any, path: tuple) -> Any:
    for step in path:
        root = root[step]
    return root


def cases(seed: int, count: int, tool_prefix: str) -> list[Case]:
    rng = random.Random(seed)
    mutator = Mutator(rng, tool_prefix)
    strategies = mutator.strategies()
    out = []
    for _ in range(count):
        kind, body = rng.choice(strategies)()
        session = rng.choices(["valid", "bogus", "none"], weights=[5, 1, 4])[0]
        headers: dict[str, str] = {}
        roll = rng.random()
        if roll < 0.05:
            headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form-urlencoded", ""])
        elif roll < 0.10:
            headers["Accept"] = rng.choice(["text/html", "*/*", "application/json", ""])
        elif roll < 0.13:
            headers["MCP-Protocol-Version"] = rng.choice(["1999-01-01", "", "2025-11-25, 2025-06-18"])
        out.append(Case(kind, body, session, headers))
    return out
