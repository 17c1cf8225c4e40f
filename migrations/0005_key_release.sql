-- KEY_RELEASE=batched: keys are published in sealed hourly batches, each padded with
-- generated keys, rather than the moment they are stored.
--
-- released_in is the hour of the batch a key was released in; NULL until then. It is not
-- one of the protocol §8 columns: a row an operator inserts without it is simply not yet
-- released, and the next batch sealed takes it once its release hour has come.
ALTER TABLE diagnosis_keys ADD COLUMN released_in integer;
-- Retrieval reads released keys by batch; the sealer looks only at the few not yet released.
CREATE INDEX diagnosis_keys_released_in ON diagnosis_keys (released_in) WHERE released_in IS NOT NULL;
CREATE INDEX diagnosis_keys_unreleased ON diagnosis_keys (hour_of_submission) WHERE released_in IS NULL;

-- Generated keys, indistinguishable in a file from the real keys of their batch. Kept apart
-- from diagnosis_keys, so that what counts real keys (statistics, dashboards, an
-- operator's own SQL) never counts these. hour_of_submission is the batch's hour, so the
-- purge's rule for real keys applies to them unchanged.
CREATE TABLE padding_keys (
  key_data                      bytea    NOT NULL UNIQUE CHECK (octet_length(key_data) = 16),
  rolling_start_interval_number integer  NOT NULL,
  rolling_period                integer  NOT NULL,
  transmission_risk_level       smallint NOT NULL,
  hour_of_submission            integer  NOT NULL,
  region                        text     NOT NULL,
  released_in                   integer  NOT NULL CHECK (released_in = hour_of_submission)
);
CREATE INDEX padding_keys_released_in ON padding_keys (released_in);

-- One row per sealed hour, written in the transaction that sealed it: the keys released
-- then and the padding added. The newest row says how far release has got.
CREATE TABLE key_batches (
  hour         integer     PRIMARY KEY,
  real_keys    integer     NOT NULL,
  padding_keys integer     NOT NULL,
  sealed_at    timestamptz NOT NULL
);

-- A key file's version (migration 0002) now follows the hours keys are released in as well
-- as the hours they were submitted in: sealing a batch, or deleting from one, changes the
-- version of the hour that batch is served under.
CREATE OR REPLACE FUNCTION note_diagnosis_key_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT h) INTO changed
    FROM (SELECT hour_of_submission AS h FROM new_rows UNION ALL SELECT released_in FROM new_rows WHERE released_in IS NOT NULL) AS n;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT h) INTO changed
    FROM (SELECT hour_of_submission AS h FROM old_rows UNION ALL SELECT released_in FROM old_rows WHERE released_in IS NOT NULL) AS o;
  ELSE
    SELECT array_agg(DISTINCT h) INTO changed
    FROM (SELECT hour_of_submission AS h FROM old_rows UNION ALL SELECT released_in FROM old_rows WHERE released_in IS NOT NULL
          UNION ALL SELECT hour_of_submission FROM new_rows UNION ALL SELECT released_in FROM new_rows WHERE released_in IS NOT NULL) AS both_sides;
  END IF;
  IF changed IS NOT NULL THEN
    INSERT INTO diagnosis_key_changes (hours) VALUES (changed);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER padding_keys_inserted AFTER INSERT ON padding_keys
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER padding_keys_deleted AFTER DELETE ON padding_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER padding_keys_updated AFTER UPDATE ON padding_keys
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER padding_keys_truncated AFTER TRUNCATE ON padding_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
