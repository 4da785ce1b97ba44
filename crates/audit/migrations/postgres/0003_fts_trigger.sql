-- Full-text search over names, arguments and results with PostgreSQL's own
-- text search: a generated tsvector (the 'simple' configuration: no stemming,
-- no stop words, like SQLite's unicode61) and a GIN index. The text indexed
-- per row is bounded, since a tsvector holds at most 1 MB.
ALTER TABLE audit_events ADD COLUMN search tsvector GENERATED ALWAYS AS (
    to_tsvector('simple'::regconfig, left(
        coalesce(name, '') || ' ' || coalesce(method, '') || ' ' || coalesce(server, '') || ' ' ||
        coalesce(request, '') || ' ' || coalesce(response, '') || ' ' || coalesce(error_message, ''),
        200000))
) STORED;

CREATE INDEX audit_events_search ON audit_events USING gin (search);
