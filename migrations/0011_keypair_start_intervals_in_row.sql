-- MAX_KEYS_PER_START_INTERVAL counted in the keypair's own row instead of a row per
-- keypair and interval. An upload locks and updates that row anyway (its quota), so the
-- counts now cost no more writes: with a row per interval, the up to 14 upserts of an
-- upload of new keys cost 12–24% of upload throughput under load (BENCHMARKS.md).
--
-- stored_start_intervals holds the rolling start interval number of every key the keypair
-- has stored while the limit was on, once per key: at most its quota of entries. As the
-- table before it, it names the keypair and intervals only, never a key, and goes with its
-- keypair when the purge deletes it.
ALTER TABLE encryption_keys ADD COLUMN stored_start_intervals integer[] NOT NULL DEFAULT '{}';

UPDATE encryption_keys e SET stored_start_intervals = c.intervals
FROM (
  SELECT k.server_public_key, array_agg(k.rolling_start_interval_number ORDER BY k.rolling_start_interval_number) AS intervals
  FROM keypair_start_intervals k, generate_series(1, k.keys)
  GROUP BY k.server_public_key
) AS c
WHERE e.server_public_key = c.server_public_key;

DROP TABLE keypair_start_intervals;

-- As in migration 0008, but the interval limit reads and extends the keypair's row, and an
-- upload of keys the server already holds writes nothing to it.
CREATE OR REPLACE FUNCTION store_diagnosis_keys(
  p_server_public_key bytea,
  p_key_data bytea[],
  p_rolling_start_interval_number integer[],
  p_rolling_period integer[],
  p_transmission_risk_level smallint[],
  p_hour_of_submission integer,
  p_max_keys_per_start_interval integer,
  p_initial_remaining_keys integer,
  p_date date,
  OUT o_outcome text,
  OUT o_new_keys integer,
  OUT o_region text
) LANGUAGE plpgsql AS $$
DECLARE
  keypair record;
  new_intervals integer[];
  most_per_interval integer;
BEGIN
  SELECT e.remaining_keys, e.region, e.originator, e.stored_start_intervals INTO keypair
  FROM encryption_keys e WHERE e.server_public_key = p_server_public_key FOR UPDATE;
  IF NOT FOUND THEN
    o_outcome := 'keypair-gone';
    RETURN;
  END IF;
  o_region := keypair.region;
  IF keypair.remaining_keys = 0 THEN
    o_outcome := 'keypair-exhausted';
    RETURN;
  END IF;

  WITH inserted AS (
    INSERT INTO diagnosis_keys (key_data, rolling_start_interval_number, rolling_period, transmission_risk_level, hour_of_submission, region, originator)
    SELECT t.k, t.s, t.p, t.r, p_hour_of_submission, keypair.region, keypair.originator
    FROM unnest(p_key_data, p_rolling_start_interval_number, p_rolling_period, p_transmission_risk_level) AS t(k, s, p, r)
    ORDER BY t.k
    ON CONFLICT (key_data) DO NOTHING
    RETURNING diagnosis_keys.rolling_start_interval_number AS s
  )
  SELECT count(*)::integer, coalesce(array_agg(i.s), '{}') INTO o_new_keys, new_intervals FROM inserted i;

  -- The protocol's quota first, then this server's own limit.
  IF o_new_keys > keypair.remaining_keys THEN
    RAISE EXCEPTION 'over-quota';
  END IF;
  IF p_max_keys_per_start_interval > 0 AND o_new_keys > 0 THEN
    -- Only the intervals of this upload's new keys are judged, as with a row per interval.
    SELECT coalesce(max(c.n), 0)::integer INTO most_per_interval
    FROM (SELECT count(*) AS n FROM unnest(keypair.stored_start_intervals || new_intervals) AS s WHERE s = ANY (new_intervals) GROUP BY s) AS c;
    IF most_per_interval > p_max_keys_per_start_interval THEN
      RAISE EXCEPTION 'over-interval-limit';
    END IF;
  ELSE
    new_intervals := '{}';
  END IF;

  IF o_new_keys > 0 THEN
    UPDATE encryption_keys
    SET remaining_keys = remaining_keys - o_new_keys, stored_start_intervals = stored_start_intervals || new_intervals
    WHERE server_public_key = p_server_public_key;
  END IF;
  INSERT INTO tek_upload_log (originator, date, first_upload, region)
  VALUES (coalesce(keypair.originator, ''), p_date, keypair.remaining_keys = p_initial_remaining_keys, keypair.region);
  o_outcome := 'stored';
END
$$;
