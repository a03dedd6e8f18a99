-- The claim finds ordered deliveries through their key's head in deliveries_fifo (a
-- loose index scan, one probe per key) and only unordered ones through the due index:
-- deliveries waiting behind their heads were read by every claim (85 ms a claim over
-- 2,000 deliveries of one key). The due index keeps unordered deliveries only.
CREATE INDEX deliveries_due_unordered ON deliveries (next_attempt) WHERE status IN (1, 3) AND fifo_key IS NULL;
DROP INDEX deliveries_due;
