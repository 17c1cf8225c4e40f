-- MAX_KEYS_PER_START_INTERVAL: how many keys each keypair has stored per rolling start
-- interval, over all its uploads, so that one patient cannot publish a day's worth of keys
-- one upload at a time. It names the keypair and the interval only, never a key, and goes
-- with its keypair (the purge's deletions cascade here).
CREATE TABLE keypair_start_intervals (
  server_public_key             bytea    NOT NULL REFERENCES encryption_keys (server_public_key) ON DELETE CASCADE,
  rolling_start_interval_number integer  NOT NULL,
  keys                          smallint NOT NULL,
  PRIMARY KEY (server_public_key, rolling_start_interval_number)
);
