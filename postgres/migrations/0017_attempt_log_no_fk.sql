-- The attempt log no longer references messages by foreign key: deleting a message
-- cascaded into every partition of the log, one probe per partition and message
-- (1.4 ms a message, measured), which made the metadata purge slower than ingest.
-- The purge and application deletes now delete a batch's attempts in one statement
-- whose ID bound prunes the partitions, and a message's attempts are only ever
-- inserted while it exists (RecordAttempts checks).
DO $$
DECLARE
	c record;
BEGIN
	-- The partitioned table's constraint first (its partitions' copies go with it),
	-- then any a partition has of its own (the first one, from before partitioning).
	FOR c IN
		SELECT con.conname, rel.relname, rel.relkind
		FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
		WHERE con.contype = 'f' AND con.confrelid = 'messages'::regclass AND con.conparentid = 0
			AND rel.oid IN (SELECT relid FROM pg_partition_tree('attempts'))
		ORDER BY rel.relkind = 'p' DESC
	LOOP
		EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', c.relname, c.conname);
	END LOOP;
END $$;
