-- The payload purge clears a payload without touching any indexed column, so that
-- the UPDATE is a HOT update: a new row version in the same page and no new index
-- entries, where it wrote a new version elsewhere and an entry in each of the
-- table's indexes. It no longer sets payload_expires_at to NULL (which
-- messages_payload_expiry indexes); it walks that index from a cursor instead, the
-- (payload_expires_at, id) of the last message it looked at.
CREATE TABLE payload_purge_cursor (
	expires_at timestamptz NOT NULL,
	msg_id     text NOT NULL
);
INSERT INTO payload_purge_cursor (expires_at, msg_id) VALUES ('0001-01-01 00:00:00+00', '');

-- Room in each page for the cleared versions of its rows: the store makes new
-- partitions of messages and attempts with these fillfactors (fillfactorOf); the
-- partitions made before get them here (they apply to pages filled from now on).
DO $$
DECLARE
	p record;
BEGIN
	FOR p IN
		SELECT c.relname, i.inhparent = 'messages'::regclass AS is_messages
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent IN ('messages'::regclass, 'attempts'::regclass) AND c.relkind = 'r'
	LOOP
		EXECUTE format('ALTER TABLE %I SET (fillfactor = %s)', p.relname,
			CASE WHEN p.is_messages THEN 90 ELSE 75 END);
	END LOOP;
END $$;
