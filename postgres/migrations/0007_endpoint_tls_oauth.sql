-- Per-endpoint mutual TLS (client certificate and key), custom CA bundle and OAuth 2.0
-- client credentials; '' or NULL for none.
ALTER TABLE endpoints ADD COLUMN client_cert text NOT NULL DEFAULT '',
	ADD COLUMN client_key text NOT NULL DEFAULT '',
	ADD COLUMN server_ca text NOT NULL DEFAULT '',
	ADD COLUMN oauth jsonb;
