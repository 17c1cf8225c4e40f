-- Group commit of uploads: concurrent uploads share one call, so one round trip and one
-- commit (submission/store.ts storeUploads is the only caller).
--
-- Each upload is still all-or-nothing on its own: it runs store_diagnosis_keys (migration
-- 0008) in a block with an exception handler, which is a subtransaction, so a refusal
-- (over quota, over the interval limit) undoes that upload alone, and so does losing a
-- deadlock (uploads of one group and another sharing keys can wait on each other in
-- opposite orders): the caller tries that upload again. Anything else fails the whole call,
-- and no upload of the group is acknowledged. Postgres keeps up to 64 subtransaction ids
-- per backend in shared memory; past that every snapshot taken anywhere gets slower, so a
-- group holds fewer uploads than that (config.ts UPLOAD_COMMIT_GROUP_MAX).
--
-- The keys of all uploads come flattened, `p_key_counts` saying how many are each upload's,
-- in order. One row comes back per upload, in order.
CREATE FUNCTION store_diagnosis_key_uploads(
  p_server_public_keys bytea[],
  p_hours_of_submission integer[],
  p_dates date[],
  p_key_counts integer[],
  p_key_data bytea[],
  p_rolling_start_interval_number integer[],
  p_rolling_period integer[],
  p_transmission_risk_level smallint[],
  p_max_keys_per_start_interval integer,
  p_initial_remaining_keys integer
) RETURNS TABLE (o_outcome text, o_new_keys integer, o_region text) LANGUAGE plpgsql AS $$
DECLARE
  first_key integer := 1;
  last_key integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_server_public_keys, 1), 0) LOOP
    last_key := first_key + p_key_counts[i] - 1;
    BEGIN
      SELECT s.o_outcome, s.o_new_keys, s.o_region INTO o_outcome, o_new_keys, o_region
      FROM store_diagnosis_keys(
        p_server_public_keys[i],
        p_key_data[first_key:last_key],
        p_rolling_start_interval_number[first_key:last_key],
        p_rolling_period[first_key:last_key],
        p_transmission_risk_level[first_key:last_key],
        p_hours_of_submission[i],
        p_max_keys_per_start_interval,
        p_initial_remaining_keys,
        p_dates[i]
      ) AS s;
    EXCEPTION
      WHEN raise_exception THEN
        IF SQLERRM NOT IN ('over-quota', 'over-interval-limit') THEN
          RAISE;
        END IF;
        o_outcome := SQLERRM;
        o_new_keys := 0;
        o_region := NULL;
      WHEN deadlock_detected OR serialization_failure THEN
        o_outcome := 'conflict';
        o_new_keys := 0;
        o_region := NULL;
    END;
    RETURN NEXT;
    first_key := last_key + 1;
  END LOOP;
END
$$;

-- One note of changed hours per transaction instead of one per statement, so that a
-- group of uploads bumps each hour's version once, at its one commit, rather than once per
-- upload. The table is empty between transactions, so the column needs no default.
ALTER TABLE diagnosis_key_changes ADD COLUMN transaction_id xid8 NOT NULL;
CREATE UNIQUE INDEX diagnosis_key_changes_transaction ON diagnosis_key_changes (transaction_id);

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
    -- The first change of a transaction inserts its note (and queues the bump at commit);
    -- later ones add hours the note does not hold yet, and leave it alone otherwise.
    INSERT INTO diagnosis_key_changes AS c (transaction_id, hours) VALUES (pg_current_xact_id(), changed)
    ON CONFLICT (transaction_id) DO UPDATE SET hours = c.hours || excluded.hours WHERE NOT c.hours @> excluded.hours;
  END IF;
  RETURN NULL;
END
$$;

-- The note may have grown since it was inserted, so it is read back by transaction, not by
-- the row version the queued trigger names. Hours are bumped in ascending order so that
-- committing transactions lock them in one order.
CREATE OR REPLACE FUNCTION bump_diagnosis_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    UPDATE diagnosis_key_versions SET version = version + 1;
    RETURN NULL;
  END IF;
  WITH noted AS (DELETE FROM diagnosis_key_changes WHERE transaction_id = NEW.transaction_id RETURNING hours)
  INSERT INTO diagnosis_key_versions (hour_of_submission, version)
  SELECT DISTINCT h, 1 FROM noted, unnest(noted.hours) AS h ORDER BY 1
  ON CONFLICT (hour_of_submission) DO UPDATE SET version = diagnosis_key_versions.version + 1;
  RETURN NULL;
END
$$;
