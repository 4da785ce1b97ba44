-- Why a call was put to the user: the rule that asked (a tool's permission, a
-- default by its annotations, the toxic-flow guard). NULL for older rows.
ALTER TABLE approvals ADD COLUMN reason TEXT;
