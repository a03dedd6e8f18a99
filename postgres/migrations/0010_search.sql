-- Indexes of the operator's search (hookd.SearchStore): each query reads one index in
-- ID order, so a page answers after reading about as many rows as it shows however
-- large the store is.

-- Messages by event type, and by eventId across applications.
CREATE INDEX messages_event_type ON messages (event_type, id);
CREATE INDEX messages_by_event_id ON messages (event_id) WHERE event_id IS NOT NULL;

-- One row per tag and per channel of a message, kept by triggers so that every way a
-- message is written (COPY included) keeps them; they go with their message.
CREATE TABLE message_tags (
	tag    text NOT NULL,
	msg_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app_id text NOT NULL,
	PRIMARY KEY (tag, msg_id)
);
CREATE INDEX message_tags_msg ON message_tags (msg_id);

CREATE TABLE message_channels (
	channel text NOT NULL,
	msg_id  text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app_id  text NOT NULL,
	PRIMARY KEY (channel, msg_id)
);
CREATE INDEX message_channels_msg ON message_channels (msg_id);

INSERT INTO message_tags (tag, msg_id, app_id)
	SELECT DISTINCT t, m.id, m.app_id FROM messages m, unnest(m.tags) t WHERE cardinality(m.tags) > 0;
INSERT INTO message_channels (channel, msg_id, app_id)
	SELECT DISTINCT c, m.id, m.app_id FROM messages m, unnest(m.channels) c WHERE cardinality(m.channels) > 0;

CREATE FUNCTION messages_index_lists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(NEW.tags) > 0 THEN
		INSERT INTO message_tags (tag, msg_id, app_id)
			SELECT DISTINCT t, NEW.id, NEW.app_id FROM unnest(NEW.tags) t ON CONFLICT DO NOTHING;
	END IF;
	IF cardinality(NEW.channels) > 0 THEN
		INSERT INTO message_channels (channel, msg_id, app_id)
			SELECT DISTINCT c, NEW.id, NEW.app_id FROM unnest(NEW.channels) c ON CONFLICT DO NOTHING;
	END IF;
	RETURN NULL;
END $$;

CREATE TRIGGER messages_lists AFTER INSERT ON messages FOR EACH ROW
	WHEN (cardinality(NEW.tags) > 0 OR cardinality(NEW.channels) > 0)
	EXECUTE FUNCTION messages_index_lists();

-- Messages with a failed delivery, newest first; the correlated check on endpoint_id
-- keeps one row per message.
CREATE INDEX deliveries_failed_msg ON deliveries (msg_id, endpoint_id) WHERE status = 2;

-- Attempts by status code (the primary key serves time: IDs sort by time).
CREATE INDEX attempts_status_code ON attempts (response_status_code, id);
