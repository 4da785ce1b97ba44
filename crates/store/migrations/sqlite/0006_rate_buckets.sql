-- Rate-limit buckets kept in the database (PostgreSQL: shared by its instances;
-- a gateway on SQLite keeps its buckets in memory). Each call
-- takes a token from its client's, server's and tool's buckets in one
-- transaction, so a limit holds however many instances serve the calls.
CREATE TABLE rate_buckets (
    key        TEXT    NOT NULL PRIMARY KEY,
    tokens     REAL    NOT NULL,
    at_ms      INTEGER NOT NULL,
    per_minute INTEGER NOT NULL
) STRICT;
