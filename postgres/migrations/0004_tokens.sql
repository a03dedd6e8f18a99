-- Admin API keys and application-scoped tokens; only each token's SHA-256 is kept.
CREATE TABLE tokens (
	id            text PRIMARY KEY,
	kind          text NOT NULL,
	name          text,
	hash          text NOT NULL UNIQUE,
	read_only     boolean NOT NULL DEFAULT false,
	app_id        text,
	capabilities  jsonb NOT NULL DEFAULT '[]',
	feature_flags jsonb NOT NULL DEFAULT '[]',
	session_id    text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL,
	expires_at    timestamptz
);
CREATE UNIQUE INDEX tokens_admin_name ON tokens (name) WHERE kind = 'admin';
CREATE INDEX tokens_app ON tokens (app_id) WHERE app_id IS NOT NULL;
