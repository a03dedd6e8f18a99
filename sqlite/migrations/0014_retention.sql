-- When a message's payload (and its attempts' bodies) may be purged, in unix
-- microseconds; NULL once purged, and for messages stored before retention existed
-- (they go whole at the metadata retention). The purge reads the index from its old end.
ALTER TABLE messages ADD COLUMN payload_expires_at INTEGER;
CREATE INDEX messages_payload_expiry ON messages (payload_expires_at) WHERE payload_expires_at IS NOT NULL;
