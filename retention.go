package hookd

import (
	"context"
	"time"
)

// Retention defaults. Payloads and attempt bodies go after DefaultRetention; the rows
// themselves (ids, event types, times, status codes) after DefaultMetadataRetention.
const (
	DefaultRetention         = 30 * 24 * time.Hour
	DefaultMetadataRetention = 90 * 24 * time.Hour
)

// PayloadExpiredError is the error for a resend or recover of a message whose payload
// retention has purged.
func PayloadExpiredError() *Error {
	return Errorf(EPAYLOADEXPIRED, "the message's payload has passed its retention period and was deleted: it can no longer be sent")
}

// RetentionStore removes what retention no longer keeps. Each call does one small
// batch, so that a purge never holds the store for long; callers repeat it while it
// reports a full batch.
type RetentionStore interface {
	// PurgePayloads takes up to limit messages whose PayloadExpiresAt is at or before
	// now, oldest first. Those with no delivery still pending or sending lose their
	// payload (it becomes empty, see Message.PayloadExpired) and their attempts lose
	// the response body and stored headers. Those with a delivery still due keep their
	// payload, which that delivery needs, and are looked at again once it can have
	// finished (their next attempt). It returns how many messages it looked at.
	PurgePayloads(ctx context.Context, now time.Time, limit int) (int, error)
	// PurgeMessages deletes up to limit messages accepted before before, oldest first,
	// with their deliveries and attempts, keeping any message with a delivery still
	// pending or sending. It returns how many it deleted. A store that partitions by
	// time may instead drop a partition whole once all of it is before before (such
	// a message stays at most one partition past before, never less); it does not
	// count those.
	PurgeMessages(ctx context.Context, before time.Time, limit int) (int, error)
	// ReclaimSpace gives the space freed by purges back for reuse, a little at a time,
	// and on stores that partition by time drops the partitions whose rows are all
	// older than before and creates those needed ahead of now.
	ReclaimSpace(ctx context.Context, before, now time.Time) error
}
