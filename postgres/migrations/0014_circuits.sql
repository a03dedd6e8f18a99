-- An endpoint's cap on requests in flight (0 = the server's --endpoint-concurrency).
ALTER TABLE endpoints ADD COLUMN max_concurrency integer NOT NULL DEFAULT 0;

-- Each endpoint's circuit breaker and Retry-After pause, shared by the nodes; the
-- nodes change a row only from the version they read (SwapCircuit), so one of them
-- takes a half-open circuit's probe.
CREATE TABLE endpoint_circuits (
	endpoint_id  text PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
	app_id       text NOT NULL,
	state        text NOT NULL,
	since        timestamptz,
	failures     integer NOT NULL,
	backoff      bigint NOT NULL,
	next_probe   timestamptz,
	probe_until  timestamptz,
	paused_until timestamptz,
	transitions  jsonb NOT NULL,
	version      bigint NOT NULL
);
