-- A lost claim response can be recovered (CLAIM_REPLAY_MINUTES): the same code with the
-- same app key, shortly after the claim, gets the same answer again. What recognises the
-- code is a keyed hash, never the code; the purge forgets it once the window is past.
ALTER TABLE encryption_keys ADD COLUMN claimed_code_hash bytea CHECK (octet_length(claimed_code_hash) = 32);
ALTER TABLE encryption_keys ADD COLUMN claimed_at timestamptz;
-- The purge looks only at the few rows that still hold one.
CREATE INDEX encryption_keys_claimed_at ON encryption_keys (claimed_at) WHERE claimed_at IS NOT NULL;
