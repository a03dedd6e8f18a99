package hookd

import (
	"cmp"
	"slices"
	"time"
)

// HealthChange is the net effect of a batch of attempts on one endpoint's
// FailingSince, the time of the first failure of its current run of failures.
type HealthChange struct {
	EndpointID string
	// Healthy means the batch's last attempt to the endpoint succeeded: FailingSince
	// becomes nil.
	Healthy bool
	// Since, when not Healthy, is the first failure after the batch's last success
	// (or the batch's first failure, without a success).
	Since time.Time
	// Reset, when not Healthy, says a success came before the failures: FailingSince
	// becomes Since. Without Reset, only failures came: FailingSince becomes Since
	// where it is nil, and an earlier run of failures keeps its start.
	Reset bool
}

// EndpointHealth returns what attempts, in the order given, do to their endpoints'
// FailingSince: a success clears it, a failure sets it unless already set. However
// many attempts an endpoint has, that comes to one change per endpoint, returned in
// endpoint ID order (so that stores locking endpoint rows lock them in one order).
func EndpointHealth(attempts []*Attempt) []HealthChange {
	byID := make(map[string]*HealthChange)
	for _, a := range attempts {
		if a == nil {
			continue
		}
		h := byID[a.EndpointID]
		switch {
		case a.Status == StatusSuccess:
			byID[a.EndpointID] = &HealthChange{EndpointID: a.EndpointID, Healthy: true}
		case h == nil:
			byID[a.EndpointID] = &HealthChange{EndpointID: a.EndpointID, Since: a.Timestamp}
		case h.Healthy:
			*h = HealthChange{EndpointID: a.EndpointID, Since: a.Timestamp, Reset: true}
		}
	}
	out := make([]HealthChange, 0, len(byID))
	for _, h := range byID {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b HealthChange) int { return cmp.Compare(a.EndpointID, b.EndpointID) })
	return out
}
