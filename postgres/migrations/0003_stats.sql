-- Attempts per minute, kept by RecordAttempts so the dashboard never counts the
-- attempt log. Nodes recording at once add to different shards of a minute instead of
-- queueing on one row. Filled once from the attempts already stored.
CREATE TABLE attempt_counts (
	minute  timestamptz NOT NULL,
	shard   smallint NOT NULL,
	success bigint NOT NULL DEFAULT 0,
	fail    bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (minute, shard)
);

INSERT INTO attempt_counts (minute, shard, success, fail)
	SELECT date_trunc('minute', timestamp), 0, count(*) FILTER (WHERE status = 0),
		count(*) FILTER (WHERE status <> 0)
	FROM attempts GROUP BY 1;

-- The dashboard's lists of troubled endpoints and exhausted deliveries read only
-- these few rows.
CREATE INDEX endpoints_troubled ON endpoints (id) WHERE disabled OR failing_since IS NOT NULL;
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 2;
