-- A stdio server's sandbox settings (JSON). NULL: the default.
ALTER TABLE servers ADD COLUMN sandbox TEXT CHECK (sandbox IS NULL OR sandbox::jsonb IS NOT NULL);
