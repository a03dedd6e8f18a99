-- The nodes sharing this store, by their last heartbeat (unix microseconds).
CREATE TABLE nodes (
	id      TEXT PRIMARY KEY,
	seen_at INTEGER NOT NULL
) STRICT;
