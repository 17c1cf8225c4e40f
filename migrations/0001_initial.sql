-- Schema of protocol §8. Table and column names are part of the operator contract:
-- operators' SQL tooling and dashboards depend on them.

CREATE TABLE encryption_keys (
  server_private_key bytea       NOT NULL UNIQUE CHECK (octet_length(server_private_key) = 32),
  server_public_key  bytea       NOT NULL UNIQUE CHECK (octet_length(server_public_key) = 32),
  app_public_key     bytea       UNIQUE CHECK (octet_length(app_public_key) = 32),
  one_time_code      varchar(10) UNIQUE,
  remaining_keys     smallint    NOT NULL CHECK (remaining_keys >= 0),
  created            timestamptz NOT NULL DEFAULT now(),
  region             text        NOT NULL DEFAULT '302',
  originator         text,
  hash_id            varchar(128) UNIQUE
);
-- The purge walks keypairs and codes by age.
CREATE INDEX encryption_keys_created ON encryption_keys (created);

CREATE TABLE diagnosis_keys (
  key_data                      bytea    NOT NULL UNIQUE CHECK (octet_length(key_data) = 16),
  rolling_start_interval_number integer  NOT NULL,
  rolling_period                integer  NOT NULL,
  transmission_risk_level       smallint NOT NULL,
  hour_of_submission            integer  NOT NULL,
  region                        text     NOT NULL DEFAULT '302',
  originator                    text
);
-- Retrieval reads, and the purge deletes, by submission hour.
CREATE INDEX diagnosis_keys_hour_of_submission ON diagnosis_keys (hour_of_submission);

-- identifier is a keyed hash of the client address, never the address itself.
CREATE TABLE failed_key_claim_attempts (
  identifier   text        NOT NULL UNIQUE,
  failures     smallint    NOT NULL DEFAULT 1,
  last_failure timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
  source      text    NOT NULL,
  identifier  text    NOT NULL,
  device_type text    NOT NULL,
  date        date    NOT NULL,
  count       integer NOT NULL DEFAULT 0,
  UNIQUE (source, identifier, device_type, date)
);

CREATE TABLE tek_upload_count (
  originator   text    NOT NULL,
  date         date    NOT NULL,
  count        integer NOT NULL DEFAULT 0,
  first_upload boolean NOT NULL,
  UNIQUE (originator, date, first_upload)
);

CREATE TABLE otk_life_duration (
  originator text    NOT NULL,
  hours      integer NOT NULL,
  date       date    NOT NULL,
  count      integer NOT NULL DEFAULT 0,
  UNIQUE (originator, hours, date)
);
