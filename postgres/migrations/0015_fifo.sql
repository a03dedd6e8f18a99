-- Ordered (FIFO) delivery. An endpoint with fifo delivers each message only after the
-- one accepted before it with the same ordering key is done. A delivery's fifo_key is
-- NULL when it is not ordered, else its message's ordering key ('' for none);
-- fifo_hold marks a failed ordered delivery that halts its key (fifo_on_exhausted
-- 'stop'; '' is 'skip'); fifo_seq orders a key's deliveries in insert order (message IDs made in one
-- millisecond do not sort by creation). Rows that exist before this migration keep a
-- NULL fifo_seq: none of them is ordered.
ALTER TABLE endpoints ADD COLUMN fifo boolean NOT NULL DEFAULT false;
ALTER TABLE endpoints ADD COLUMN fifo_on_exhausted text NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN ordering_key text NOT NULL DEFAULT '';
CREATE SEQUENCE delivery_fifo_seq;
ALTER TABLE deliveries ADD COLUMN fifo_key text;
ALTER TABLE deliveries ADD COLUMN fifo_hold boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN fifo_seq bigint;
ALTER TABLE deliveries ALTER COLUMN fifo_seq SET DEFAULT nextval('delivery_fifo_seq');

-- The ordered deliveries that hold up the later ones of their key, in key order: the
-- claim asks it whether an earlier one exists.
CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, fifo_key, fifo_seq)
	WHERE fifo_key IS NOT NULL AND (status IN (1, 3) OR fifo_hold);
