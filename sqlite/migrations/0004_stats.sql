-- Attempts per minute (start of the minute in unix microseconds), kept by
-- RecordAttempts so the dashboard never counts the attempt log. Filled once from the
-- attempts already stored.
CREATE TABLE attempt_counts (
	minute  INTEGER PRIMARY KEY,
	success INTEGER NOT NULL DEFAULT 0,
	fail    INTEGER NOT NULL DEFAULT 0
) STRICT;

INSERT INTO attempt_counts (minute, success, fail)
	SELECT timestamp / 60000000 * 60000000, sum(status = 0), sum(status <> 0)
	FROM attempts GROUP BY 1;

-- The dashboard's lists of troubled endpoints and exhausted deliveries read only
-- these few rows.
CREATE INDEX endpoints_troubled ON endpoints (id) WHERE disabled = 1 OR failing_since IS NOT NULL;
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 2;
