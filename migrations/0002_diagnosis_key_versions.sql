-- A version per submission hour, bumped on every change to diagnosis_keys (the upload
-- path, the purge, the test tool, an operator's own SQL). Retrieval compares the versions
-- of a window's hours with those its cached export was built from: one small indexed read
-- per request instead of a rebuild, and never a stale file.
--
-- Every upload in an hour bumps the same row, and a row lock is held until commit, so the
-- bump waits until commit time: statement triggers only note the hours changed (in a
-- per-transaction row, no contention), and a deferred trigger on that note does the bump
-- as the transaction commits. Bumping in the statement trigger itself held the lock through
-- the rest of the upload transaction and cost a third of upload throughput.

CREATE TABLE diagnosis_key_versions (
  hour_of_submission integer PRIMARY KEY,
  version            bigint  NOT NULL
);

INSERT INTO diagnosis_key_versions (hour_of_submission, version)
SELECT DISTINCT hour_of_submission, 1 FROM diagnosis_keys;

-- Hours a statement changed, waiting for their transaction to commit. Always empty between
-- transactions.
CREATE TABLE diagnosis_key_changes (
  hours integer[] NOT NULL
);

CREATE FUNCTION note_diagnosis_key_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(DISTINCT hour_of_submission) INTO changed FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(DISTINCT hour_of_submission) INTO changed FROM old_rows;
  ELSE
    SELECT array_agg(DISTINCT h) INTO changed
    FROM (SELECT hour_of_submission AS h FROM old_rows UNION SELECT hour_of_submission FROM new_rows) AS both_sides;
  END IF;
  IF changed IS NOT NULL THEN
    INSERT INTO diagnosis_key_changes (hours) VALUES (changed);
  END IF;
  RETURN NULL;
END
$$;

-- Hours are bumped in ascending order so that committing transactions lock them in one order.
CREATE FUNCTION bump_diagnosis_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE diagnosis_key_versions SET version = version + 1;
    RETURN NULL;
  END IF;
  INSERT INTO diagnosis_key_versions (hour_of_submission, version)
  SELECT DISTINCT h, 1 FROM unnest(NEW.hours) AS h ORDER BY 1
  ON CONFLICT (hour_of_submission) DO UPDATE SET version = diagnosis_key_versions.version + 1;
  DELETE FROM diagnosis_key_changes WHERE ctid = NEW.ctid;
  RETURN NULL;
END
$$;

CREATE TRIGGER diagnosis_keys_inserted AFTER INSERT ON diagnosis_keys
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER diagnosis_keys_deleted AFTER DELETE ON diagnosis_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER diagnosis_keys_updated AFTER UPDATE ON diagnosis_keys
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION note_diagnosis_key_changes();
CREATE TRIGGER diagnosis_keys_truncated AFTER TRUNCATE ON diagnosis_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
CREATE CONSTRAINT TRIGGER diagnosis_key_changes_committing AFTER INSERT ON diagnosis_key_changes
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_diagnosis_key_versions();
