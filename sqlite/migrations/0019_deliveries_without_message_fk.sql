-- Deliveries, tags and channels no longer reference messages by foreign key: the
-- store deletes them with their message (the retention purge, DeleteApp) and inserts
-- them only while it exists (CreateMessage's transaction, CreateDeliveries and
-- ResendDelivery check). ON DELETE CASCADE ran a sub-program for every deleted
-- message, opening cursors on each child table and its indexes anew, and every
-- delivery insert looked its message up for the check. The tables are copied (SQLite
-- cannot drop a constraint), deliveries with their rowids, which order FIFO keys.
CREATE TABLE deliveries_new (
	id           TEXT NOT NULL,
	app_id       TEXT NOT NULL,
	msg_id       TEXT NOT NULL,
	endpoint_id  TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
	status       INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	trigger      INTEGER NOT NULL DEFAULT 0,
	lease        INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	fifo_key     TEXT,
	fifo_hold    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (msg_id, endpoint_id)
) STRICT;

INSERT INTO deliveries_new (rowid, id, app_id, msg_id, endpoint_id, status, attempts, next_attempt,
		trigger, lease, created_at, updated_at, fifo_key, fifo_hold)
	SELECT rowid, id, app_id, msg_id, endpoint_id, status, attempts, next_attempt,
		trigger, lease, created_at, updated_at, fifo_key, fifo_hold FROM deliveries ORDER BY rowid;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 2;
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, fifo_key)
	WHERE fifo_key IS NOT NULL AND (status IN (1, 3) OR fifo_hold = 1);
CREATE INDEX deliveries_status_msg ON deliveries (status, msg_id, endpoint_id);
CREATE INDEX deliveries_due_unordered ON deliveries (next_attempt) WHERE status IN (1, 3) AND fifo_key IS NULL;

-- The triggers that fill tags and channels go while their tables are replaced.
DROP TRIGGER messages_tags;
DROP TRIGGER messages_channels;

CREATE TABLE message_tags_new (
	tag    TEXT NOT NULL,
	msg_id TEXT NOT NULL,
	app_id TEXT NOT NULL,
	PRIMARY KEY (tag, msg_id)
) STRICT, WITHOUT ROWID;
INSERT INTO message_tags_new (tag, msg_id, app_id) SELECT tag, msg_id, app_id FROM message_tags;
DROP TABLE message_tags;
ALTER TABLE message_tags_new RENAME TO message_tags;
CREATE INDEX message_tags_msg ON message_tags (msg_id);

CREATE TABLE message_channels_new (
	channel TEXT NOT NULL,
	msg_id  TEXT NOT NULL,
	app_id  TEXT NOT NULL,
	PRIMARY KEY (channel, msg_id)
) STRICT, WITHOUT ROWID;
INSERT INTO message_channels_new (channel, msg_id, app_id) SELECT channel, msg_id, app_id FROM message_channels;
DROP TABLE message_channels;
ALTER TABLE message_channels_new RENAME TO message_channels;
CREATE INDEX message_channels_msg ON message_channels (msg_id);

CREATE TRIGGER messages_tags AFTER INSERT ON messages WHEN NEW.tags <> '[]' BEGIN
	INSERT OR IGNORE INTO message_tags (tag, msg_id, app_id)
		SELECT value, NEW.id, NEW.app_id FROM json_each(NEW.tags);
END;
CREATE TRIGGER messages_channels AFTER INSERT ON messages WHEN NEW.channels <> '[]' BEGIN
	INSERT OR IGNORE INTO message_channels (channel, msg_id, app_id)
		SELECT value, NEW.id, NEW.app_id FROM json_each(NEW.channels);
END;
