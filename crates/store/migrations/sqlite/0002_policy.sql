-- Policy: profiles, per-tool permissions, pinned tool definitions, approvals of
-- single calls, and approval of the command a stdio server runs.

-- A profile is a named set of servers (NULL: every server) with its own
-- permissions; each client uses at most one.
CREATE TABLE profiles (
    name       TEXT    NOT NULL PRIMARY KEY,
    servers    TEXT    CHECK (servers IS NULL OR json_valid(servers)),
    created_at INTEGER NOT NULL
) STRICT;

ALTER TABLE clients ADD COLUMN profile TEXT REFERENCES profiles (name) ON DELETE SET NULL;

-- One permission per (scope, server, tool). scope: '' for everyone,
-- 'profile:NAME' or 'client:NAME'; server/tool '*' for "every".
CREATE TABLE permissions (
    scope      TEXT    NOT NULL,
    server     TEXT    NOT NULL,
    tool       TEXT    NOT NULL,
    permission TEXT    NOT NULL CHECK (permission IN ('allow', 'ask', 'deny')),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (scope, server, tool)
) STRICT;

-- The approved definition of each tool. A server that later serves a
-- different one leaves it pending here until the user approves it.
CREATE TABLE tool_pins (
    server             TEXT    NOT NULL,
    tool               TEXT    NOT NULL,
    definition         TEXT    NOT NULL CHECK (json_valid(definition)),
    hash               TEXT    NOT NULL,
    approved_at        INTEGER NOT NULL,
    pending_definition TEXT    CHECK (pending_definition IS NULL OR json_valid(pending_definition)),
    pending_hash       TEXT,
    pending_since      INTEGER,
    PRIMARY KEY (server, tool)
) STRICT;

-- Calls waiting for (or given) the user's answer. Arguments are stored
-- redacted; call_hash binds the answer to the exact call.
CREATE TABLE approvals (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    client      TEXT    NOT NULL,
    session     TEXT,
    server      TEXT    NOT NULL,
    tool        TEXT    NOT NULL,
    arguments   TEXT    CHECK (arguments IS NULL OR json_valid(arguments)),
    call_hash   TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'allowed', 'denied', 'expired')),
    scope       TEXT    CHECK (scope IS NULL OR scope IN ('once', 'session', 'always')),
    created_at  INTEGER NOT NULL,
    answered_at INTEGER
) STRICT;

CREATE INDEX approvals_status ON approvals (status, id);

-- Hash of the stdio launch (command, args, env, cwd) the user approved;
-- NULL or different from the current launch: the server does not start.
ALTER TABLE servers ADD COLUMN approved_launch TEXT;
