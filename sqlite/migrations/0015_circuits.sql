-- An endpoint's cap on requests in flight (0 = the server's --endpoint-concurrency).
ALTER TABLE endpoints ADD COLUMN max_concurrency INTEGER NOT NULL DEFAULT 0;

-- Each endpoint's circuit breaker and Retry-After pause, shared by the nodes. Times
-- are unix microseconds, 0 for none; transitions is a JSON array, oldest first.
CREATE TABLE endpoint_circuits (
	endpoint_id  TEXT PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
	app_id       TEXT NOT NULL,
	state        TEXT NOT NULL,
	since        INTEGER NOT NULL,
	failures     INTEGER NOT NULL,
	backoff      INTEGER NOT NULL,
	next_probe   INTEGER NOT NULL,
	probe_until  INTEGER NOT NULL,
	paused_until INTEGER NOT NULL,
	transitions  TEXT NOT NULL,
	version      INTEGER NOT NULL
) STRICT;
