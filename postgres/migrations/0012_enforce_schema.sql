-- Whether message payloads of the event type are validated against its newest schema.
ALTER TABLE event_types ADD COLUMN enforce_schema boolean NOT NULL DEFAULT false;
