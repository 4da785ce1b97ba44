-- How /mcp offers a client its tools: its tool mode, its budget, and the
-- tools listed to it whatever the mode. NULL: the default for its kind.
ALTER TABLE clients ADD COLUMN tool_mode TEXT
    CHECK (tool_mode IS NULL OR tool_mode IN ('passthrough', 'search', 'auto'));
ALTER TABLE clients ADD COLUMN budget_tools INTEGER CHECK (budget_tools IS NULL OR budget_tools >= 0);
ALTER TABLE clients ADD COLUMN budget_tokens INTEGER CHECK (budget_tokens IS NULL OR budget_tokens >= 0);
-- JSON array of tool names as /mcp lists them (SERVER__TOOL).
ALTER TABLE clients ADD COLUMN always_listed TEXT
    CHECK (always_listed IS NULL OR json_valid(always_listed));
