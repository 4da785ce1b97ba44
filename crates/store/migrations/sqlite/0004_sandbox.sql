-- A stdio server's sandbox settings (JSON, switchboard_sandbox::SandboxConfig).
-- NULL: the default, on with the inferred grants only.
ALTER TABLE servers ADD COLUMN sandbox TEXT CHECK (sandbox IS NULL OR json_valid(sandbox));
