-- The nodes sharing this database, by their last heartbeat.
CREATE TABLE nodes (
	id      text PRIMARY KEY,
	seen_at timestamptz NOT NULL
);
