-- An app can be disabled: its keys stop authenticating and its jobs wait
-- until it is enabled again (README.md, "Admin").
ALTER TABLE apps ADD COLUMN disabled_at timestamptz;
