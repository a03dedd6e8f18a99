-- Times are integer unix microseconds (UTC); durations are integer nanoseconds; lists
-- and maps are JSON text. Optional unique keys (uid, event_id) are NULL when unset.

CREATE TABLE applications (
	id             TEXT PRIMARY KEY,
	uid            TEXT UNIQUE,
	name           TEXT NOT NULL,
	rate_limit     INTEGER NOT NULL DEFAULT 0,
	metadata       TEXT NOT NULL DEFAULT '{}',
	retry_schedule TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE endpoints (
	id                TEXT PRIMARY KEY,
	app_id            TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
	uid               TEXT,
	url               TEXT NOT NULL,
	description       TEXT NOT NULL DEFAULT '',
	filter_types      TEXT NOT NULL DEFAULT '[]',
	channels          TEXT NOT NULL DEFAULT '[]',
	disabled          INTEGER NOT NULL DEFAULT 0,
	disabled_at       INTEGER,
	rate_limit        INTEGER NOT NULL DEFAULT 0,
	metadata          TEXT NOT NULL DEFAULT '{}',
	headers           TEXT NOT NULL DEFAULT '{}',
	secrets           TEXT NOT NULL DEFAULT '[]',
	signature_profile TEXT NOT NULL DEFAULT '',
	retry_schedule    TEXT NOT NULL DEFAULT '',
	timeout           INTEGER NOT NULL DEFAULT 0,
	failing_since     INTEGER,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL,
	UNIQUE (app_id, uid)
) STRICT;

CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE event_types (
	name           TEXT PRIMARY KEY,
	description    TEXT NOT NULL DEFAULT '',
	archived       INTEGER NOT NULL DEFAULT 0,
	deprecated     INTEGER NOT NULL DEFAULT 0,
	feature_flag   TEXT NOT NULL DEFAULT '',
	schemas        TEXT NOT NULL DEFAULT '{}',
	retry_schedule TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE messages (
	id         TEXT PRIMARY KEY,
	app_id     TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
	event_type TEXT NOT NULL,
	event_id   TEXT,
	payload    TEXT NOT NULL,
	channels   TEXT NOT NULL DEFAULT '[]',
	tags       TEXT NOT NULL DEFAULT '[]',
	timestamp  INTEGER NOT NULL
) STRICT;

CREATE INDEX messages_app ON messages (app_id, id);
CREATE UNIQUE INDEX messages_event_id ON messages (app_id, event_id) WHERE event_id IS NOT NULL;

-- status: 0 success, 1 pending, 2 fail, 3 sending (hookd.Status).
CREATE TABLE deliveries (
	id           TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL,
	msg_id       TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	endpoint_id  TEXT NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
	status       INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt INTEGER NOT NULL,
	trigger      INTEGER NOT NULL DEFAULT 0,
	lease        INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	UNIQUE (msg_id, endpoint_id)
) STRICT;

-- Claiming reads the due end of this index only, whatever the backlog.
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE status IN (1, 3);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

-- Attempts outlive their endpoint (the log stays readable); they go with their app,
-- found through its messages (an index on app_id would cost every insert).
CREATE TABLE attempts (
	id                   TEXT PRIMARY KEY,
	app_id               TEXT NOT NULL,
	msg_id               TEXT NOT NULL,
	endpoint_id          TEXT NOT NULL,
	url                  TEXT NOT NULL,
	status               INTEGER NOT NULL,
	response_status_code INTEGER NOT NULL DEFAULT 0,
	response             TEXT NOT NULL DEFAULT '',
	duration             INTEGER NOT NULL DEFAULT 0,
	trigger              INTEGER NOT NULL DEFAULT 0,
	error                TEXT NOT NULL DEFAULT '',
	timestamp            INTEGER NOT NULL
) STRICT;

CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

CREATE TABLE idempotent_responses (
	key          TEXT PRIMARY KEY,
	status_code  INTEGER NOT NULL,
	content_type TEXT NOT NULL DEFAULT '',
	body         BLOB NOT NULL,
	created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX idempotent_responses_created ON idempotent_responses (created_at);

CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
