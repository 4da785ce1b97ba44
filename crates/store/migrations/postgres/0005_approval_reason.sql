-- Why a call was put to the user. NULL for older rows.
ALTER TABLE approvals ADD COLUMN reason TEXT;
