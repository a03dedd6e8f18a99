-- Indexes of the operator's search (hookd.SearchStore): each query reads one index in
-- ID order, so a page answers after reading about as many rows as it shows however
-- large the store is.

-- Messages by event type, and by eventId across applications.
CREATE INDEX messages_event_type ON messages (event_type, id);
CREATE INDEX messages_by_event_id ON messages (event_id) WHERE event_id IS NOT NULL;

-- One row per tag and per channel of a message, kept by triggers so that every way a
-- message is written keeps them; they go with their message.
CREATE TABLE message_tags (
	tag    TEXT NOT NULL,
	msg_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app_id TEXT NOT NULL,
	PRIMARY KEY (tag, msg_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_tags_msg ON message_tags (msg_id);

CREATE TABLE message_channels (
	channel TEXT NOT NULL,
	msg_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	app_id  TEXT NOT NULL,
	PRIMARY KEY (channel, msg_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX message_channels_msg ON message_channels (msg_id);

INSERT OR IGNORE INTO message_tags (tag, msg_id, app_id)
	SELECT j.value, m.id, m.app_id FROM messages m, json_each(m.tags) j WHERE m.tags <> '[]';
INSERT OR IGNORE INTO message_channels (channel, msg_id, app_id)
	SELECT j.value, m.id, m.app_id FROM messages m, json_each(m.channels) j WHERE m.channels <> '[]';

CREATE TRIGGER messages_tags AFTER INSERT ON messages WHEN NEW.tags <> '[]' BEGIN
	INSERT OR IGNORE INTO message_tags (tag, msg_id, app_id)
		SELECT value, NEW.id, NEW.app_id FROM json_each(NEW.tags);
END;
CREATE TRIGGER messages_channels AFTER INSERT ON messages WHEN NEW.channels <> '[]' BEGIN
	INSERT OR IGNORE INTO message_channels (channel, msg_id, app_id)
		SELECT value, NEW.id, NEW.app_id FROM json_each(NEW.channels);
END;

-- Messages with a failed delivery, newest first; the correlated check on endpoint_id
-- keeps one row per message.
CREATE INDEX deliveries_failed_msg ON deliveries (msg_id, endpoint_id) WHERE status = 2;

-- Attempts across applications, by status code or by time (their IDs sort by time).
CREATE INDEX attempts_id ON attempts (id);
CREATE INDEX attempts_status_code ON attempts (response_status_code, id);
