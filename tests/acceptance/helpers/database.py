"""The database behind a data dir: SQLite files, or, when the suites run on PostgreSQL
(`SWITCHBOARD_TEST_POSTGRES` names a server, as `make test` does), a database of its own on
that server. Tests read and tamper with the audit log through these, whichever it is."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

SERVER_ENV = "SWITCHBOARD_TEST_POSTGRES"


def postgres_server() -> str | None:
    """The PostgreSQL server the suites run on, if any."""
    return os.environ.get(SERVER_ENV) or None


def _with_database(server: str, name: str) -> str:
    base, _, query = server.partition("?")
    scheme, _, rest = base.partition("://")
    authority = rest.split("/", 1)[0]
    return f"{scheme}://{authority}/{name}" + (f"?{query}" if query else "")


def database_for(data_dir: Path) -> str | None:
    """The database URL of `data_dir` on the test server (made on first use), or None on SQLite."""
    server = postgres_server()
    if server is None:
        return None
    name = "sb_" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:20]
    return create_database(server, name)


def create_database(server: str, name: str) -> str:
    """Creates database `name` on `server` unless it exists; returns its URL."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return _with_database(server, name)


def audit_rows(
    url: str | None, data_dir: Path, where: str = "1 = 1", params: tuple[Any, ...] = ()
) -> list[dict[str, Any]]:
    """Rows of the audit log, read directly (SQLite read-only), in id order. `where` uses `?`."""
    query = f"SELECT * FROM audit_events WHERE {where} ORDER BY id"
    if url is None:
        uri = f"file:{data_dir / 'audit.db'}?mode=ro"
        with closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(query, params)]
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, row_factory=dict_row, options="-c search_path=switchboard_audit") as conn:
        rows = conn.execute(query.replace("?", "%s"), params).fetchall()
    for row in rows:
        row.pop("search", None)
    return rows


def audit_write(url: str | None, data_dir: Path, sql: str, params: tuple[Any, ...]) -> int:
    """Changes the audit log behind the gateway's back; returns the number of rows touched."""
    if url is None:
        with closing(sqlite3.connect(data_dir / "audit.db", timeout=10)) as db:
            changed = db.execute(sql, params).rowcount
            db.commit()
            return changed
    import psycopg

    with psycopg.connect(url, options="-c search_path=switchboard_audit") as conn:
        changed = conn.execute(sql.replace("?", "%s"), params).rowcount
        conn.commit()
        return changed


def everything_stored(url: str | None) -> bytes:
    """On PostgreSQL, every row of both schemas as text (for secret scans); empty on SQLite."""
    if url is None:
        return b""
    import psycopg

    out: list[str] = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('switchboard', 'switchboard_audit') AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t'):
                out.append(row)
    return "\n".join(out).encode()
