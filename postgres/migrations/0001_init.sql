-- hookd's PostgreSQL schema. Times are timestamptz (microseconds); durations are
-- bigint nanoseconds; payloads and JSON schemas are bytea so they come back byte for
-- byte; optional unique keys (uid, event_id) are NULL when unset.

CREATE TABLE apps (
	id             text PRIMARY KEY,
	uid            text UNIQUE,
	name           text NOT NULL,
	rate_limit     integer NOT NULL DEFAULT 0,
	metadata       jsonb,
	retry_schedule text NOT NULL DEFAULT '',
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);

CREATE TABLE endpoints (
	id                text PRIMARY KEY,
	app_id            text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	uid               text,
	url               text NOT NULL,
	description       text NOT NULL DEFAULT '',
	filter_types      text[],
	channels          text[],
	disabled          boolean NOT NULL DEFAULT false,
	disabled_at       timestamptz,
	rate_limit        integer NOT NULL DEFAULT 0,
	metadata          jsonb,
	headers           jsonb,
	secrets           jsonb,
	signature_profile text NOT NULL DEFAULT '',
	retry_schedule    text NOT NULL DEFAULT '',
	timeout           bigint NOT NULL DEFAULT 0,
	failing_since     timestamptz,
	created_at        timestamptz NOT NULL,
	updated_at        timestamptz NOT NULL,
	UNIQUE (app_id, uid)
);

CREATE INDEX endpoints_app ON endpoints (app_id, id);

CREATE TABLE event_types (
	name           text PRIMARY KEY,
	description    text NOT NULL DEFAULT '',
	archived       boolean NOT NULL DEFAULT false,
	deprecated     boolean NOT NULL DEFAULT false,
	feature_flag   text NOT NULL DEFAULT '',
	schemas        bytea,
	retry_schedule text NOT NULL DEFAULT '',
	created_at     timestamptz NOT NULL,
	updated_at     timestamptz NOT NULL
);

CREATE TABLE messages (
	id         text PRIMARY KEY,
	app_id     text NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	event_type text NOT NULL,
	event_id   text,
	payload    bytea NOT NULL,
	channels   text[],
	tags       text[],
	timestamp  timestamptz NOT NULL,
	UNIQUE (app_id, event_id)
);

CREATE INDEX messages_app ON messages (app_id, id);

-- Deliveries have no foreign key to endpoints: deleting an endpoint deletes its
-- pending deliveries and keeps the finished ones as history.
CREATE TABLE deliveries (
	id           text PRIMARY KEY,
	app_id       text NOT NULL,
	msg_id       text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	endpoint_id  text NOT NULL,
	status       smallint NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL,
	trigger      smallint NOT NULL DEFAULT 0,
	lease        bigint NOT NULL DEFAULT 0,
	created_at   timestamptz NOT NULL,
	updated_at   timestamptz NOT NULL,
	UNIQUE (msg_id, endpoint_id)
);

-- Deliveries are a queue: every claim and result rewrites rows. Vacuum them early so
-- the due index stays small.
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- The claim query and NextDue read only due statuses (pending 1, sending 3).
CREATE INDEX deliveries_due ON deliveries (next_attempt) WHERE status IN (1, 3);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, msg_id);

-- Every claim takes a new lease number, so a worker whose lease expired cannot
-- overwrite the result of the claim that replaced it.
CREATE SEQUENCE delivery_lease;

CREATE TABLE attempts (
	id                   text PRIMARY KEY,
	app_id               text NOT NULL,
	msg_id               text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	endpoint_id          text NOT NULL,
	url                  text NOT NULL,
	status               smallint NOT NULL,
	response_status_code integer NOT NULL DEFAULT 0,
	response             text NOT NULL DEFAULT '',
	duration             bigint NOT NULL DEFAULT 0,
	trigger              smallint NOT NULL DEFAULT 0,
	error                text NOT NULL DEFAULT '',
	timestamp            timestamptz NOT NULL
);

CREATE INDEX attempts_msg ON attempts (msg_id, id);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

CREATE TABLE idempotent_responses (
	key          text PRIMARY KEY,
	status_code  integer NOT NULL,
	content_type text NOT NULL DEFAULT '',
	body         bytea,
	created_at   timestamptz NOT NULL
);

CREATE INDEX idempotent_responses_created ON idempotent_responses (created_at);

CREATE TABLE settings (
	name  text PRIMARY KEY,
	value text NOT NULL
);
