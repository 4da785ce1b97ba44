-- The MCP protocol version the client (or, for server-to-client messages, the
-- server) spoke. NULL for records written before it was kept.
ALTER TABLE audit_events ADD COLUMN protocol_version TEXT;
