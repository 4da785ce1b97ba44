-- The audit log. One row per MCP message that crossed the gateway; a call's
-- request and response share one row. Timestamps are unix milliseconds.
CREATE TABLE audit_events (
    id             INTEGER PRIMARY KEY,
    ts             INTEGER NOT NULL,
    client         TEXT,
    session        TEXT,
    server         TEXT,
    direction      TEXT    NOT NULL CHECK (direction IN ('client_to_server', 'server_to_client')),
    method         TEXT    NOT NULL,
    name           TEXT,
    request        TEXT,
    request_size   INTEGER NOT NULL DEFAULT 0,
    response       TEXT,
    response_size  INTEGER NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL,
    error_code     INTEGER,
    error_message  TEXT,
    latency_us     INTEGER,
    decision       TEXT    NOT NULL,
    rule           TEXT,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
) STRICT;

CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_server ON audit_events (server, id);
CREATE INDEX audit_events_client ON audit_events (client, id);
CREATE INDEX audit_events_name ON audit_events (name, id);
CREATE INDEX audit_events_method ON audit_events (method, id);

-- Full-text index over names, arguments and results. Contentless (the text
-- lives in audit_events) with contentless_delete so pruning can remove rows.
CREATE VIRTUAL TABLE audit_fts USING fts5(
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2 tokenchars ''_-'''
);

-- Where the hash chain starts after pruning: the hash of the last removed row.
CREATE TABLE audit_anchor (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    last_id    INTEGER NOT NULL,
    last_hash  TEXT    NOT NULL
) STRICT;
