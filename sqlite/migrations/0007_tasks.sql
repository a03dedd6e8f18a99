-- Background tasks (recover, replay, bulk replay). A running task is held by the
-- node in owner until lease_until (unix microseconds); once that passes, another
-- claim may take it over and resume from cursor.
CREATE TABLE tasks (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	status      TEXT NOT NULL,
	app_id      TEXT NOT NULL,
	endpoint_id TEXT NOT NULL,
	params      TEXT NOT NULL,
	cursor      TEXT NOT NULL,
	data        TEXT NOT NULL,
	runs        INTEGER NOT NULL,
	owner       TEXT NOT NULL,
	lease_until INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;

-- Claims look for running tasks only, which are few.
CREATE INDEX tasks_running ON tasks (lease_until) WHERE status = 'running';
