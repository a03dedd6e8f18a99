-- Whether message payloads of the event type are validated against its newest schema.
ALTER TABLE event_types ADD COLUMN enforce_schema INTEGER NOT NULL DEFAULT 0;
