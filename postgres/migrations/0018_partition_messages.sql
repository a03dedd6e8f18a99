-- Messages, their deliveries and their tag and channel rows are partitioned by message
-- ID range (IDs are time-sortable), like the attempt log, with the same bounds for all
-- four: messages_p<from>_<to>, deliveries_p<from>_<to>, message_tags_p<from>_<to> and
-- message_channels_p<from>_<to> (Unix milliseconds) are made ahead together and
-- dropped together once every ID in them is past the metadata retention, so that the
-- metadata purge is a DROP TABLE rather than a DELETE of every row (which, measured,
-- fell behind ingest). The existing rows become the first partition of each table,
-- everything below now; *_default catches an ID no partition covers.
--
-- What a partitioned table cannot keep:
-- - Foreign keys to messages (a dropped partition would have to be checked against
--   every referencing row, and a delete cascaded into every partition): deliveries,
--   tags and channels lose theirs; the stores delete them with their message and
--   insert them only while it exists.
-- - The unique (app_id, event_id) of messages, which does not hold the partition key:
--   message_event_ids holds it. A BEFORE INSERT trigger claims the eventId there and
--   skips the message (as ON CONFLICT DO NOTHING did) when another message has it;
--   concurrent inserts of one eventId wait on its primary key as before. The rows go
--   with their messages (the purge deletes them, an application's cascade from apps).
-- - A primary key on deliveries.id: deliveries keep their unique (msg_id,
--   endpoint_id), and a delivery is found by its message and endpoint.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_msg_id_fkey;
ALTER TABLE message_tags DROP CONSTRAINT message_tags_msg_id_fkey;
ALTER TABLE message_channels DROP CONSTRAINT message_channels_msg_id_fkey;

CREATE TABLE message_event_ids (
	app_id   text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	event_id text NOT NULL,
	msg_id   text NOT NULL,
	PRIMARY KEY (app_id, event_id)
);
CREATE INDEX message_event_ids_msg ON message_event_ids (msg_id);
INSERT INTO message_event_ids (app_id, event_id, msg_id)
	SELECT app_id, event_id, id FROM messages WHERE event_id IS NOT NULL;

CREATE FUNCTION messages_claim_event_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO message_event_ids (app_id, event_id, msg_id) VALUES (NEW.app_id, NEW.event_id, NEW.id)
		ON CONFLICT DO NOTHING;
	IF FOUND THEN
		RETURN NEW;
	END IF;
	RETURN NULL; -- another message has the eventId: this one is skipped
END $$;

-- The old tables become the first partitions.
ALTER TABLE messages RENAME TO messages_p0;
ALTER TABLE messages_p0 RENAME CONSTRAINT messages_pkey TO messages_p0_pkey;
ALTER TABLE messages_p0 DROP CONSTRAINT messages_app_id_event_id_key;
ALTER INDEX messages_app RENAME TO messages_p0_app;
ALTER INDEX messages_by_event_id RENAME TO messages_p0_by_event_id;
ALTER INDEX messages_event_type RENAME TO messages_p0_event_type;
ALTER INDEX messages_payload_expiry RENAME TO messages_p0_payload_expiry;
DROP TRIGGER messages_lists ON messages_p0;

ALTER TABLE deliveries RENAME TO deliveries_p0;
ALTER TABLE deliveries_p0 DROP CONSTRAINT deliveries_pkey;
ALTER TABLE deliveries_p0 RENAME CONSTRAINT deliveries_msg_id_endpoint_id_key TO deliveries_p0_msg_endpoint;
ALTER INDEX deliveries_due RENAME TO deliveries_p0_due;
ALTER INDEX deliveries_endpoint RENAME TO deliveries_p0_endpoint;
ALTER INDEX deliveries_failed RENAME TO deliveries_p0_failed;
ALTER INDEX deliveries_fifo RENAME TO deliveries_p0_fifo;
ALTER INDEX deliveries_status_msg RENAME TO deliveries_p0_status_msg;

ALTER TABLE message_tags RENAME TO message_tags_p0;
ALTER TABLE message_tags_p0 RENAME CONSTRAINT message_tags_pkey TO message_tags_p0_pkey;
ALTER INDEX message_tags_msg RENAME TO message_tags_p0_msg;

ALTER TABLE message_channels RENAME TO message_channels_p0;
ALTER TABLE message_channels_p0 RENAME CONSTRAINT message_channels_pkey TO message_channels_p0_pkey;
ALTER INDEX message_channels_msg RENAME TO message_channels_p0_msg;

CREATE TABLE messages (LIKE messages_p0 INCLUDING DEFAULTS,
	PRIMARY KEY (id),
	FOREIGN KEY (app_id) REFERENCES apps (id) ON DELETE CASCADE
) PARTITION BY RANGE (id);
CREATE INDEX messages_app ON messages (app_id, id);
CREATE INDEX messages_by_event_id ON messages (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX messages_event_type ON messages (event_type, id);
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload_expires_at IS NOT NULL;

CREATE TABLE deliveries (LIKE deliveries_p0 INCLUDING DEFAULTS,
	UNIQUE (msg_id, endpoint_id)
) PARTITION BY RANGE (msg_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE status IN (1, 3);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 2;
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, fifo_key, fifo_seq)
	WHERE fifo_key IS NOT NULL AND (status IN (1, 3) OR fifo_hold);
CREATE INDEX deliveries_status_msg ON deliveries (status, msg_id, endpoint_id);

CREATE TABLE message_tags (LIKE message_tags_p0 INCLUDING DEFAULTS,
	PRIMARY KEY (tag, msg_id)
) PARTITION BY RANGE (msg_id);
CREATE INDEX message_tags_msg ON message_tags (msg_id);

CREATE TABLE message_channels (LIKE message_channels_p0 INCLUDING DEFAULTS,
	PRIMARY KEY (channel, msg_id)
) PARTITION BY RANGE (msg_id);
CREATE INDEX message_channels_msg ON message_channels (msg_id);

DO $$
DECLARE
	upto timestamptz := date_trunc('second', now()) + interval '1 second';
	ms bigint;
	bound text;
	top text;
	t text;
BEGIN
	-- A message ID from a clock ahead of this one stays in the first partition.
	SELECT max(id) INTO top FROM messages_p0;
	IF top IS NOT NULL AND top >= hookd_id_at('msg_', upto) THEN
		upto := date_trunc('second', now()) + interval '3650 days';
	END IF;
	ms := floor(extract(epoch FROM upto) * 1000);
	bound := hookd_id_at('msg_', upto);
	FOREACH t IN ARRAY ARRAY['messages', 'deliveries', 'message_tags', 'message_channels'] LOOP
		EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (MINVALUE) TO (%L)',
			t, t || '_p0', bound);
		EXECUTE format('ALTER TABLE %I RENAME TO %I', t || '_p0', t || '_p0_' || ms);
		EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', t || '_default', t);
	END LOOP;
END $$;

CREATE TRIGGER messages_event_id BEFORE INSERT ON messages FOR EACH ROW
	WHEN (NEW.event_id IS NOT NULL)
	EXECUTE FUNCTION messages_claim_event_id();
CREATE TRIGGER messages_lists AFTER INSERT ON messages FOR EACH ROW
	WHEN (cardinality(NEW.tags) > 0 OR cardinality(NEW.channels) > 0)
	EXECUTE FUNCTION messages_index_lists();
