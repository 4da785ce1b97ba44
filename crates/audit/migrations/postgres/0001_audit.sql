-- The audit log, as on SQLite. One row per MCP message that crossed the
-- gateway; a call's request and response share one row. Timestamps are unix
-- milliseconds. Ids are given by the writer that chains the row, under the
-- chain's lock, so several instances write one chain.
CREATE TABLE audit_events (
    id             BIGINT  PRIMARY KEY,
    ts             BIGINT  NOT NULL,
    client         TEXT,
    session        TEXT,
    server         TEXT,
    direction      TEXT    NOT NULL CHECK (direction IN ('client_to_server', 'server_to_client')),
    method         TEXT    NOT NULL,
    name           TEXT,
    request        TEXT,
    request_size   BIGINT  NOT NULL DEFAULT 0,
    response       TEXT,
    response_size  BIGINT  NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL,
    error_code     BIGINT,
    error_message  TEXT,
    latency_us     BIGINT,
    decision       TEXT    NOT NULL,
    rule           TEXT,
    prev_hash      TEXT    NOT NULL,
    hash           TEXT    NOT NULL
);

CREATE INDEX audit_events_ts ON audit_events (ts);
CREATE INDEX audit_events_server ON audit_events (server, id);
CREATE INDEX audit_events_client ON audit_events (client, id);
CREATE INDEX audit_events_name ON audit_events (name, id);
CREATE INDEX audit_events_method ON audit_events (method, id);

-- Where the hash chain starts after pruning: the hash of the last removed row.
CREATE TABLE audit_anchor (
    singleton  BIGINT PRIMARY KEY CHECK (singleton = 1),
    last_id    BIGINT NOT NULL,
    last_hash  TEXT   NOT NULL
);
