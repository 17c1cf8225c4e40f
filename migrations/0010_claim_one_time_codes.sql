-- A claim's steps 5–7 (protocol §4.2) in one call, for several claims at once: one round
-- trip and one commit instead of three statements and commits each (submission/store.ts
-- claimOneTimeCodes is the only caller). For each claim, in order:
--
--   5. an app key that is registered already: a repeat of the claim that registered it
--      (same code, by its keyed hash, inside the replay window) gets the same server key
--      again ('replayed'), anything else is 'app-key-registered'; neither counts anything;
--   6. the attempt is charged to the client before any code is looked at, only while its
--      counter is under the limit or has lapsed ('banned' otherwise, nothing changed), so
--      however many claims arrive at once at most the limit are evaluated;
--   7. the code (NULL: one no code could be) is redeemed: the app key bound, `created`
--      moved to midnight UTC of the code's day, OTKClaimed and the code's life in whole
--      hours logged, the client's counter cleared ('claimed'); or the charge stands as a
--      failure ('no-such-code').
--
-- Each claim runs in a subtransaction: the same app key winning a race elsewhere undoes
-- that claim's charge and answers 'app-key-registered'; losing a deadlock answers
-- 'conflict', charged nothing, to be tried again. With the counter's failures and last
-- failure, the caller says where the client stands.
CREATE FUNCTION claim_one_time_codes(
  p_client_ids text[],
  p_codes text[],
  p_app_public_keys bytea[],
  p_code_hashes bytea[],
  p_now timestamptz[],
  p_dates date[],
  p_codes_created_after timestamptz[],
  p_replays_after timestamptz[],
  p_failures_lapsed_at_or_before timestamptz[],
  p_max_failures integer,
  p_server_device_type text
) RETURNS TABLE (o_outcome text, o_server_public_key bytea, o_originator text, o_region text, o_failures integer, o_last_failure timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  registered_key bytea;
  is_replay boolean;
  violated text;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_client_ids, 1), 0) LOOP
    o_outcome := NULL;
    o_server_public_key := NULL;
    o_originator := NULL;
    o_region := NULL;
    o_failures := NULL;
    o_last_failure := NULL;
    BEGIN
      SELECT e.server_public_key, coalesce(e.claimed_code_hash = p_code_hashes[i] AND e.claimed_at > p_replays_after[i], false)
      INTO registered_key, is_replay
      FROM encryption_keys e WHERE e.app_public_key = p_app_public_keys[i];
      IF FOUND THEN
        o_outcome := CASE WHEN is_replay THEN 'replayed' ELSE 'app-key-registered' END;
        o_server_public_key := CASE WHEN is_replay THEN registered_key END;
      ELSE
        INSERT INTO failed_key_claim_attempts AS f (identifier, failures, last_failure) VALUES (p_client_ids[i], 1, p_now[i])
        ON CONFLICT (identifier) DO UPDATE SET
          failures = CASE WHEN f.last_failure <= p_failures_lapsed_at_or_before[i] THEN 1 ELSE f.failures + 1 END,
          last_failure = p_now[i]
        WHERE f.last_failure <= p_failures_lapsed_at_or_before[i] OR f.failures < p_max_failures
        RETURNING f.failures, f.last_failure INTO o_failures, o_last_failure;
        IF NOT FOUND THEN
          o_outcome := 'banned';
          SELECT f.failures, f.last_failure INTO o_failures, o_last_failure FROM failed_key_claim_attempts f WHERE f.identifier = p_client_ids[i];
        ELSE
          o_outcome := 'no-such-code';
          IF p_codes[i] IS NOT NULL THEN
            WITH found AS (
              SELECT e.server_public_key, e.created, e.originator, e.region FROM encryption_keys e
              WHERE e.one_time_code = p_codes[i] AND e.app_public_key IS NULL AND e.created > p_codes_created_after[i]
              FOR UPDATE
            ),
            claimed AS (
              UPDATE encryption_keys AS e
              SET one_time_code = NULL, app_public_key = p_app_public_keys[i], created = date_trunc('day', f.created, 'UTC'),
                  claimed_code_hash = p_code_hashes[i], claimed_at = p_now[i]
              FROM found AS f WHERE e.server_public_key = f.server_public_key
              RETURNING e.server_public_key, coalesce(f.originator, '') AS originator, f.region, f.created AS issued
            ),
            claimed_event AS (
              INSERT INTO events_log (source, identifier, device_type, date, count, region)
              SELECT c.originator, 'OTKClaimed', p_server_device_type, p_dates[i], 1, c.region FROM claimed c
            ),
            life AS (
              INSERT INTO otk_life_log (originator, hours, date, region)
              SELECT c.originator, greatest(0, floor(extract(epoch FROM p_now[i] - c.issued) / 3600))::int, p_dates[i], c.region FROM claimed c
            )
            SELECT c.server_public_key, c.originator, c.region INTO o_server_public_key, o_originator, o_region FROM claimed c;
            IF FOUND THEN
              o_outcome := 'claimed';
              DELETE FROM failed_key_claim_attempts f WHERE f.identifier = p_client_ids[i];
            END IF;
          END IF;
        END IF;
      END IF;
    EXCEPTION
      WHEN unique_violation THEN
        GET STACKED DIAGNOSTICS violated = CONSTRAINT_NAME;
        IF violated <> 'encryption_keys_app_public_key_key' THEN
          RAISE;
        END IF;
        o_outcome := 'app-key-registered';
        o_server_public_key := NULL;
        o_failures := NULL;
        o_last_failure := NULL;
      WHEN deadlock_detected OR serialization_failure THEN
        o_outcome := 'conflict';
        o_server_public_key := NULL;
        o_failures := NULL;
        o_last_failure := NULL;
    END;
    RETURN NEXT;
  END LOOP;
END
$$;
