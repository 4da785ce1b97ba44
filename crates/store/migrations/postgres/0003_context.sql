-- How /mcp offers a client its tools. NULL: the default for its kind.
ALTER TABLE clients ADD COLUMN tool_mode TEXT
    CHECK (tool_mode IS NULL OR tool_mode IN ('passthrough', 'search', 'auto'));
ALTER TABLE clients ADD COLUMN budget_tools BIGINT CHECK (budget_tools IS NULL OR budget_tools >= 0);
ALTER TABLE clients ADD COLUMN budget_tokens BIGINT CHECK (budget_tokens IS NULL OR budget_tokens >= 0);
ALTER TABLE clients ADD COLUMN always_listed TEXT
    CHECK (always_listed IS NULL OR always_listed::jsonb IS NOT NULL);
