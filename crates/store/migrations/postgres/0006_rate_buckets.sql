-- Rate-limit buckets shared by the instances on this database: each call
-- takes a token from its client's, server's and tool's buckets in one
-- transaction, so a limit holds however many instances serve the calls.
CREATE TABLE rate_buckets (
    key        TEXT             NOT NULL PRIMARY KEY,
    tokens     DOUBLE PRECISION NOT NULL,
    at_ms      BIGINT           NOT NULL,
    per_minute BIGINT           NOT NULL
);
