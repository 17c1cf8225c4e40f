-- Statistics per region, so that a province's health authority can read its own numbers
-- from a deployment that serves several. Rows written before carry 302, the region every
-- earlier deployment served unless REGION said otherwise. /events without ?region= sums
-- over regions, and so answers exactly as before.
ALTER TABLE events ADD COLUMN region text NOT NULL DEFAULT '302';
ALTER TABLE events DROP CONSTRAINT events_source_identifier_device_type_date_key;
ALTER TABLE events ADD CONSTRAINT events_source_identifier_device_type_date_region_key UNIQUE (source, identifier, device_type, date, region);

ALTER TABLE tek_upload_count ADD COLUMN region text NOT NULL DEFAULT '302';
ALTER TABLE tek_upload_count DROP CONSTRAINT tek_upload_count_originator_date_first_upload_key;
ALTER TABLE tek_upload_count ADD CONSTRAINT tek_upload_count_originator_date_first_upload_region_key UNIQUE (originator, date, first_upload, region);

ALTER TABLE otk_life_duration ADD COLUMN region text NOT NULL DEFAULT '302';
ALTER TABLE otk_life_duration DROP CONSTRAINT otk_life_duration_originator_hours_date_key;
ALTER TABLE otk_life_duration ADD CONSTRAINT otk_life_duration_originator_hours_date_region_key UNIQUE (originator, hours, date, region);
