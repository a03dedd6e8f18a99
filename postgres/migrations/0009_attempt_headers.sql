-- The request and response headers of an attempt (hookd.EncodeAttemptHeaders; '' = not stored).
ALTER TABLE attempts ADD COLUMN headers text NOT NULL DEFAULT '';
