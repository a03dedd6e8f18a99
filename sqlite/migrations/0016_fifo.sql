-- Ordered (FIFO) delivery. An endpoint with fifo = 1 delivers each message only after
-- the one accepted before it with the same ordering key is done. A delivery's fifo_key
-- is NULL when it is not ordered, else its message's ordering key ('' for none);
-- fifo_hold = 1 marks a failed ordered delivery that halts its key (fifo_on_exhausted
-- 'stop'; '' is 'skip'). Ordered deliveries are ordered by rowid, which SQLite's one writer assigns
-- in insert order.
ALTER TABLE endpoints ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN fifo_on_exhausted TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN ordering_key TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN fifo_key TEXT;
ALTER TABLE deliveries ADD COLUMN fifo_hold INTEGER NOT NULL DEFAULT 0;

-- The ordered deliveries that hold up the later ones of their key, by key and rowid:
-- the claim asks it whether an earlier one exists.
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, fifo_key)
	WHERE fifo_key IS NOT NULL AND (status IN (1, 3) OR fifo_hold = 1);
