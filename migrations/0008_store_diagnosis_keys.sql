-- An upload's whole store step (protocol §4.3 step 11, and MAX_KEYS_PER_START_INTERVAL) in
-- one call, so one round trip and one implicit transaction instead of seven statements:
-- lock the keypair row, insert the keys new to the server in key_data order, count them
-- per start interval, check the quota and the interval limit, spend the quota and log the
-- upload's statistic. A refusal after the insert raises, which undoes the whole call; the
-- caller reads the reason from the message. submission/store.ts is its only caller.
CREATE FUNCTION store_diagnosis_keys(
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
  most_per_interval integer;
BEGIN
  SELECT e.remaining_keys, e.region, e.originator INTO keypair
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
  ),
  per_interval AS (
    INSERT INTO keypair_start_intervals AS c (server_public_key, rolling_start_interval_number, keys)
    SELECT p_server_public_key, i.s, count(*) FROM inserted i WHERE p_max_keys_per_start_interval > 0 GROUP BY i.s ORDER BY i.s
    ON CONFLICT (server_public_key, rolling_start_interval_number) DO UPDATE SET keys = c.keys + excluded.keys
    RETURNING c.keys
  )
  SELECT (SELECT count(*) FROM inserted)::integer, (SELECT coalesce(max(keys), 0) FROM per_interval)::integer
  INTO o_new_keys, most_per_interval;

  -- The protocol's quota first, then this server's own limit.
  IF o_new_keys > keypair.remaining_keys THEN
    RAISE EXCEPTION 'over-quota';
  END IF;
  IF p_max_keys_per_start_interval > 0 AND most_per_interval > p_max_keys_per_start_interval THEN
    RAISE EXCEPTION 'over-interval-limit';
  END IF;

  UPDATE encryption_keys SET remaining_keys = remaining_keys - o_new_keys WHERE server_public_key = p_server_public_key;
  INSERT INTO tek_upload_log (originator, date, first_upload, region)
  VALUES (coalesce(keypair.originator, ''), p_date, keypair.remaining_keys = p_initial_remaining_keys, keypair.region);
  o_outcome := 'stored';
END
$$;
