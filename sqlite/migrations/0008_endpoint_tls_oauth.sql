-- Per-endpoint mutual TLS (client certificate and key), custom CA bundle and OAuth 2.0
-- client credentials (JSON); '' for none.
ALTER TABLE endpoints ADD COLUMN client_cert TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN server_ca TEXT NOT NULL DEFAULT '';
ALTER TABLE endpoints ADD COLUMN oauth TEXT NOT NULL DEFAULT '';
