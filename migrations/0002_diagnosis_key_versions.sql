-- A version per submission hour, bumped by triggers on every change to diagnosis_keys
-- (the upload path, the purge, the test tool, an operator's own SQL). Retrieval compares
-- the versions of a window's hours with those its cached export was built from: one small
-- indexed read per request instead of a rebuild, and never a stale file.

CREATE TABLE diagnosis_key_versions (
  hour_of_submission integer PRIMARY KEY,
  version            bigint  NOT NULL
);

INSERT INTO diagnosis_key_versions (hour_of_submission, version)
SELECT DISTINCT hour_of_submission, 1 FROM diagnosis_keys;

-- Hours are bumped in ascending order so that concurrent statements lock them in one order.
CREATE FUNCTION bump_diagnosis_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE diagnosis_key_versions SET version = version + 1;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO diagnosis_key_versions (hour_of_submission, version)
    SELECT DISTINCT hour_of_submission, 1 FROM new_rows ORDER BY 1
    ON CONFLICT (hour_of_submission) DO UPDATE SET version = diagnosis_key_versions.version + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO diagnosis_key_versions (hour_of_submission, version)
    SELECT DISTINCT hour_of_submission, 1 FROM old_rows ORDER BY 1
    ON CONFLICT (hour_of_submission) DO UPDATE SET version = diagnosis_key_versions.version + 1;
  ELSE
    INSERT INTO diagnosis_key_versions (hour_of_submission, version)
    SELECT hour_of_submission, 1 FROM (SELECT hour_of_submission FROM old_rows UNION SELECT hour_of_submission FROM new_rows) AS h ORDER BY 1
    ON CONFLICT (hour_of_submission) DO UPDATE SET version = diagnosis_key_versions.version + 1;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER diagnosis_keys_inserted AFTER INSERT ON diagnosis_keys
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
CREATE TRIGGER diagnosis_keys_deleted AFTER DELETE ON diagnosis_keys
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
CREATE TRIGGER diagnosis_keys_updated AFTER UPDATE ON diagnosis_keys
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
CREATE TRIGGER diagnosis_keys_truncated AFTER TRUNCATE ON diagnosis_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_diagnosis_key_versions();
