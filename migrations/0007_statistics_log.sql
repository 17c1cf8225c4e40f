-- Every upload added one to the same tek_upload_count row (its portal's, today's), and every
-- claim to the same events and otk_life_duration rows: each commit queued on the one before
-- for that row's lock (under 64 concurrent uploads, 14 backends waited there on average).
-- Requests now append a row here instead, in their own transaction, so nothing counted is
-- lost however a process ends; the writer's chores fold the rows into the tables of protocol
-- §8 every purge interval, and /events reads both, so its answers stay exact.
CREATE TABLE events_log (
  source      text    NOT NULL,
  identifier  text    NOT NULL,
  device_type text    NOT NULL,
  date        date    NOT NULL,
  count       integer NOT NULL,
  region      text    NOT NULL
);

CREATE TABLE tek_upload_log (
  originator   text    NOT NULL,
  date         date    NOT NULL,
  first_upload boolean NOT NULL,
  region       text    NOT NULL
);

CREATE TABLE otk_life_log (
  originator text    NOT NULL,
  hours      integer NOT NULL,
  date       date    NOT NULL,
  region     text    NOT NULL
);
