-- The retention anchor's proof that pruning with the chain's key wrote it
-- (HMAC-SHA256 of its id and hash); NULL for anchors of unkeyed logs.
ALTER TABLE audit_anchor ADD COLUMN mac TEXT;
