package hookd

import (
	"context"
	"slices"
	"time"
)

// AttemptCount is how many attempts ended in success and in failure during one
// minute, server-wide.
type AttemptCount struct {
	// Minute is the start of the minute (UTC, truncated to the minute).
	Minute        time.Time
	Success, Fail int64
}

// CountAttempts sums attempts by the minute of their Timestamp, oldest minute first.
// RecordAttempts adds the result to the store's counters, so that the dashboard reads
// a day of traffic from at most 1,440 rows instead of the attempt log.
// Only the attempts RecordAttempts logs are counted: one already logged, or dropped
// because its message is gone, is not counted again.
func CountAttempts(attempts []*Attempt) []AttemptCount {
	var out []AttemptCount
	for _, a := range attempts {
		c := CountAttempt(a)
		i := slices.IndexFunc(out, func(o AttemptCount) bool { return o.Minute.Equal(c.Minute) })
		if i < 0 {
			out = append(out, AttemptCount{Minute: c.Minute})
			i = len(out) - 1
		}
		out[i].Success += c.Success
		out[i].Fail += c.Fail
	}
	slices.SortFunc(out, func(a, b AttemptCount) int { return a.Minute.Compare(b.Minute) })
	return out
}

// CountAttempt is what one attempt adds to the counters: one success or one failure
// in the minute of its Timestamp.
func CountAttempt(a *Attempt) AttemptCount {
	c := AttemptCount{Minute: a.Timestamp.UTC().Truncate(time.Minute)}
	if a.Status == StatusSuccess {
		c.Success = 1
	} else {
		c.Fail = 1
	}
	return c
}

// QueueCounts is the server's delivery backlog.
type QueueCounts struct {
	// Queued counts deliveries waiting for an attempt or being attempted (pending and
	// sending).
	Queued int64
	// Failed counts exhausted deliveries: every attempt of their schedule failed.
	Failed int64
}

// DeadLetterFilter narrows the list of exhausted deliveries.
type DeadLetterFilter struct {
	AppID      string // "": every application
	EndpointID string // "": every endpoint (of AppID)
	EventType  string // "": every event type
}

// StatsStore answers the dashboard's server-wide questions from counters and partial
// indexes, so that none of them reads the attempt log or every delivery.
type StatsStore interface {
	// AttemptCounts returns the attempt counters of the minutes in [since, until),
	// oldest first; minutes without attempts are left out. RecordAttempts keeps the
	// counters (see CountAttempts).
	AttemptCounts(ctx context.Context, since, until time.Time) ([]AttemptCount, error)
	// QueueCounts counts the queued and the failed deliveries of the server.
	QueueCounts(ctx context.Context) (QueueCounts, error)
	// TroubledEndpoints lists the endpoints of every application that are disabled or
	// failing (FailingSince set), by ID.
	TroubledEndpoints(ctx context.Context, page Page) ([]*Endpoint, error)
	// FailedDeliveries lists exhausted deliveries (status fail) of every application,
	// by delivery ID, with their Message.
	FailedDeliveries(ctx context.Context, filter DeadLetterFilter, page Page) ([]*Delivery, error)
	// MessageDestinations counts the deliveries (message × endpoint) of the
	// application's messages whose IDs are in [fromID, toID), a time window made an ID
	// range by IDAt. It reads the window's messages by index, not the whole log.
	MessageDestinations(ctx context.Context, appID, fromID, toID string) (int64, error)
}
