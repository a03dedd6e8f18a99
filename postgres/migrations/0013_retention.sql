-- Retention. A message's payload (and its attempts' bodies) may be purged after
-- payload_expires_at; NULL once purged, and for messages stored before retention
-- existed (they go whole at the metadata retention).
ALTER TABLE messages ADD COLUMN payload_expires_at timestamptz;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload_expires_at IS NOT NULL;

-- hookd_id_at(prefix, t) is the smallest ID hookd (hookd.IDAt) makes at t: IDs are a
-- 128-bit number, milliseconds shifted left by 80 bits above random bits, in 22
-- base62 digits. Partition bounds are such IDs.
CREATE FUNCTION hookd_id_at(prefix text, t timestamptz) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
	n numeric := floor(extract(epoch FROM t) * 1000) * 2::numeric ^ 80;
	digits constant text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
	out text := '';
BEGIN
	FOR i IN 1..22 LOOP
		out := substr(digits, (mod(n, 62))::int + 1, 1) || out;
		n := div(n, 62);
	END LOOP;
	RETURN prefix || out;
END $$;

-- The attempt log, the largest table, is partitioned by ID (time-sortable), so that
-- metadata retention drops whole partitions instead of deleting rows. The partitions
-- are named attempts_p<from>_<to> (Unix milliseconds); the store creates them ahead
-- of time and drops those wholly past the retention. The existing rows become the
-- first partition, everything below now (Open then adds the next ones); attempts_default
-- catches an ID no partition covers (none, while partitions are made ahead).
ALTER TABLE attempts RENAME TO attempts_p0;
ALTER INDEX attempts_pkey RENAME TO attempts_p0_pkey;
ALTER INDEX attempts_msg RENAME TO attempts_p0_msg;
ALTER INDEX attempts_endpoint RENAME TO attempts_p0_endpoint;
ALTER INDEX attempts_status_code RENAME TO attempts_p0_status_code;

CREATE TABLE attempts (
	id                   text NOT NULL,
	app_id               text NOT NULL,
	msg_id               text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	endpoint_id          text NOT NULL,
	url                  text NOT NULL,
	status               smallint NOT NULL,
	response_status_code integer NOT NULL DEFAULT 0,
	response             text NOT NULL DEFAULT '',
	duration             bigint NOT NULL DEFAULT 0,
	trigger              smallint NOT NULL DEFAULT 0,
	error                text NOT NULL DEFAULT '',
	timestamp            timestamptz NOT NULL,
	headers              text NOT NULL DEFAULT '',
	PRIMARY KEY (id)
) PARTITION BY RANGE (id);

CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
CREATE INDEX attempts_status_code ON attempts (response_status_code, id);

DO $$
DECLARE
	upto timestamptz := date_trunc('second', now()) + interval '1 second';
	ms bigint := floor(extract(epoch FROM upto) * 1000);
	top text;
BEGIN
	-- An attempt ID from a clock ahead of this one stays in the first partition.
	SELECT max(id) INTO top FROM attempts_p0;
	IF top IS NOT NULL AND top >= hookd_id_at('atmpt_', upto) THEN
		upto := date_trunc('second', now()) + interval '3650 days';
		ms := floor(extract(epoch FROM upto) * 1000);
	END IF;
	EXECUTE format('ALTER TABLE attempts_p0 RENAME TO %I', 'attempts_p0_' || ms);
	EXECUTE format('ALTER TABLE attempts ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
		'attempts_p0_' || ms, hookd_id_at('atmpt_', upto));
END $$;

CREATE TABLE attempts_default PARTITION OF attempts DEFAULT;
