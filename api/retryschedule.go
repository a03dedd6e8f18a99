package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// durationJSON is Svix's Duration: whole seconds and the nanoseconds beyond them.
type durationJSON struct {
	Secs  *int64 `json:"secs"`
	Nanos *int64 `json:"nanos"`
}

// retryScheduleInOut is Svix's RetryScheduleInOut: the waits before each retry, or
// null when the event type has no schedule of its own.
type retryScheduleInOut struct {
	RetrySchedule *[]durationJSON `json:"retrySchedule"`
}

// scheduleOut lists the waits of a stored schedule ("" for none of its own).
func scheduleOut(s string) retryScheduleInOut {
	if s == "" {
		return retryScheduleInOut{}
	}
	rs, err := hookd.ParseRetrySchedule(s)
	if err != nil {
		return retryScheduleInOut{} // validated when set; an unreadable one inherits
	}
	out := make([]durationJSON, 0, rs.Retries())
	for n := 1; ; n++ {
		d, ok := rs.Delay(n, nil)
		if !ok {
			break
		}
		secs, nanos := int64(d/time.Second), int64(d%time.Second)
		out = append(out, durationJSON{Secs: &secs, Nanos: &nanos})
	}
	return retryScheduleInOut{RetrySchedule: &out}
}

func (s *Server) getEventTypeRetrySchedule(w http.ResponseWriter, r *http.Request) error {
	et, err := s.store.EventType(r.Context(), r.PathValue("event_type_name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scheduleOut(et.RetrySchedule))
	return nil
}

// setEventTypeRetrySchedule sets the event type's own schedule from a list of waits;
// an empty list means a single attempt, null removes the override.
func (s *Server) setEventTypeRetrySchedule(w http.ResponseWriter, r *http.Request) error {
	var in retryScheduleInOut
	if err := decode(r, &in); err != nil {
		return err
	}
	text := ""
	if in.RetrySchedule != nil {
		if len(*in.RetrySchedule) > 100 {
			return invalid("retrySchedule", "a retry schedule has at most 100 retries")
		}
		parts := make([]string, 0, len(*in.RetrySchedule))
		for _, d := range *in.RetrySchedule {
			if d.Secs == nil || d.Nanos == nil || *d.Secs < 0 || *d.Nanos < 0 || *d.Nanos >= int64(time.Second) ||
				*d.Secs > int64(hookd.MaxRetryDelay/time.Second) {
				return invalid("retrySchedule", "each wait needs secs (0 to 31536000) and nanos (0 to 999999999)")
			}
			parts = append(parts, (time.Duration(*d.Secs)*time.Second + time.Duration(*d.Nanos)).String())
		}
		text = strings.Join(parts, ",")
		if len(parts) == 0 {
			text = "none"
		}
		if err := checkRetrySchedule("retrySchedule", text); err != nil {
			return err
		}
	}
	ctx := r.Context()
	et, err := s.store.EventType(ctx, r.PathValue("event_type_name"))
	if err != nil {
		return err
	}
	et.RetrySchedule = text
	et.UpdatedAt = s.now()
	if err := s.store.UpdateEventType(ctx, et); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, scheduleOut(et.RetrySchedule))
	return nil
}
