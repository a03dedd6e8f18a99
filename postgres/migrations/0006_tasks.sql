-- Background tasks (recover, replay, bulk replay). A running task is held by the
-- claim in owner until lease_until; once that passes, another node may take it over
-- and resume from cursor.
CREATE TABLE tasks (
	id          text PRIMARY KEY,
	kind        text NOT NULL,
	status      text NOT NULL,
	app_id      text NOT NULL,
	endpoint_id text NOT NULL,
	params      text NOT NULL,
	cursor      text NOT NULL,
	data        text NOT NULL,
	runs        integer NOT NULL,
	owner       text NOT NULL,
	lease_until timestamptz NOT NULL,
	created_at  timestamptz NOT NULL,
	updated_at  timestamptz NOT NULL
);

-- Claims look for running tasks only, which are few.
CREATE INDEX tasks_running ON tasks (lease_until) WHERE status = 'running';
