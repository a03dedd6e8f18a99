package hookd

import "time"

// Defaults hookd runs with unless told otherwise. The serve command's flags, the
// server's DefaultConfig, the dispatcher's and the API's all take them from here.
const (
	// DefaultMaxPayloadBytes is the largest message payload accepted.
	DefaultMaxPayloadBytes = 1 << 20
	// DefaultRequestTimeout is the timeout of one delivery request.
	DefaultRequestTimeout = 15 * time.Second
	// DefaultWorkers is how many delivery requests one node has in flight at most.
	DefaultWorkers = 256
	// DefaultEndpointConcurrency caps the requests in flight to one endpoint, from all
	// the nodes together.
	DefaultEndpointConcurrency = 32
	// DefaultDisableAfter is how long an endpoint fails continuously before it is
	// disabled.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// DefaultRotationGrace is how long a rotated-out endpoint secret keeps signing.
	DefaultRotationGrace = 24 * time.Hour
	// DefaultIdempotencyTTL is how long the answer to a request with an
	// Idempotency-Key is kept and replayed.
	DefaultIdempotencyTTL = 24 * time.Hour
	// DefaultCacheTTL is how long the API and the dispatcher reuse an application, its
	// endpoints and event types they have read: a change reaches every node within it.
	DefaultCacheTTL = time.Second
	// DefaultFailingAfter is the failed attempt count of a message at which
	// message.attempt.failing is sent.
	DefaultFailingAfter = 4
	// DefaultCircuitFailures is how many consecutive failures open an endpoint's
	// circuit.
	DefaultCircuitFailures = 10
	// DefaultCircuitBackoff is how long an opened circuit waits before its first
	// probe, and DefaultCircuitMaxBackoff the longest wait between probes.
	DefaultCircuitBackoff    = 5 * time.Second
	DefaultCircuitMaxBackoff = 5 * time.Minute
	// DefaultResponseBodyCap is how much of a receiver's response body is kept with
	// each attempt, in bytes.
	DefaultResponseBodyCap = 4 << 10
	// DefaultAttemptHeadersCap is how much of the request headers sent and of the
	// response headers received (names and values, each side) is kept with each
	// attempt, in bytes.
	DefaultAttemptHeadersCap = 16 << 10
	// MaxResponseBodyCap and MaxAttemptHeadersCap bound what the caps may be set to.
	MaxResponseBodyCap   = 1 << 20
	MaxAttemptHeadersCap = 1 << 20
)
