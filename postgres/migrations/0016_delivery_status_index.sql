-- Messages by the status of any of their deliveries, newest first (hookd.SearchStore):
-- one index for every status replaces the one for failed deliveries only, so that a
-- search for delivered messages does not read past the newest ones still pending.
DROP INDEX deliveries_failed_msg;
CREATE INDEX deliveries_status_msg ON deliveries (status, msg_id, endpoint_id);
