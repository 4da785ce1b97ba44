-- Initial schema. Timestamps are unix milliseconds; JSON columns hold serde_json output.

-- Servers are keyed by name: the gateway exposes their tools as "<server>__<tool>".
CREATE TABLE servers (
    name       TEXT    NOT NULL PRIMARY KEY,
    transport  TEXT    NOT NULL CHECK (json_valid(transport)),
    enabled    INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- AUTOINCREMENT so a removed client's id is never handed to a new client:
-- later tables (permissions, audit) will reference clients by id.
CREATE TABLE clients (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL UNIQUE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER
) STRICT;

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;
