-- Deliveries are found by (msg_id, endpoint_id), their unique key, and attempts by
-- message or endpoint, never by their ID alone: their IDs need no index of their own,
-- which every insert would have paid for. The tables are rebuilt without one.

CREATE TABLE deliveries_new (
	id           TEXT NOT NULL,
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

INSERT INTO deliveries_new SELECT id, app_id, msg_id, endpoint_id, status, attempts, next_attempt,
	trigger, lease, created_at, updated_at FROM deliveries ORDER BY rowid;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;

-- Claiming reads the due end of this index only, whatever the backlog.
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE status IN (1, 3);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

CREATE TABLE attempts_new (
	id                   TEXT NOT NULL,
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

INSERT INTO attempts_new SELECT id, app_id, msg_id, endpoint_id, url, status,
	response_status_code, response, duration, trigger, error, timestamp FROM attempts ORDER BY rowid;
DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;

-- Attempts outlive their endpoint (the log stays readable); they go with their app,
-- found through its messages (an index on app_id would cost every insert).
CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);
