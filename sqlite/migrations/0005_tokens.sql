-- Admin API keys and application-scoped tokens; only each token's SHA-256 is kept.
CREATE TABLE tokens (
	id           TEXT PRIMARY KEY,
	kind         TEXT NOT NULL,
	name         TEXT,
	hash         TEXT NOT NULL UNIQUE,
	read_only    INTEGER NOT NULL DEFAULT 0,
	app_id       TEXT,
	capabilities TEXT NOT NULL DEFAULT '[]',
	feature_flags TEXT NOT NULL DEFAULT '[]',
	session_id   TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER
) STRICT;
CREATE UNIQUE INDEX tokens_admin_name ON tokens (name) WHERE kind = 'admin';
CREATE INDEX tokens_app ON tokens (app_id) WHERE app_id IS NOT NULL;
