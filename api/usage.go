package api

import (
	"net/http"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/task"
)

// appUsageStatsIn is Svix's AppUsageStatsIn.
type appUsageStatsIn struct {
	Since  *time.Time `json:"since"`
	Until  *time.Time `json:"until"`
	AppIDs []string   `json:"appIds"`
}

// appUsageStatsOut is Svix's AppUsageStatsOut.
type appUsageStatsOut struct {
	taskStartOut
	UnresolvedAppIDs []string `json:"unresolvedAppIds"`
}

// appUsageStats starts a task that counts, per application, the message destinations
// (deliveries) of the messages accepted in [since, until); its data is
// {"appStats": [{"appId", "appUid", "messageDestinations"}]}.
func (s *Server) appUsageStats(w http.ResponseWriter, r *http.Request) error {
	var in appUsageStatsIn
	if err := decode(r, &in); err != nil {
		return err
	}
	switch {
	case in.Since == nil:
		return invalid("since", "since is required")
	case in.Until == nil:
		return invalid("until", "until is required")
	case !in.Until.After(*in.Since):
		return invalid("until", "until must be after since")
	case len(in.AppIDs) > 250:
		return invalid("appIds", "at most 250 appIds")
	}
	if err := checkNames("appIds", in.AppIDs, 256); err != nil {
		return err
	}
	out := appUsageStatsOut{UnresolvedAppIDs: []string{}}
	var ids []string
	for _, id := range in.AppIDs {
		a, err := s.store.App(r.Context(), id)
		switch {
		case hookd.IsNotFound(err) || err == nil && a.UID == hookd.OperationalAppUID:
			out.UnresolvedAppIDs = append(out.UnresolvedAppIDs, id)
		case err != nil:
			return err
		default:
			ids = append(ids, a.ID)
		}
	}
	if len(in.AppIDs) > 0 && len(ids) == 0 {
		return invalid("appIds", "none of the appIds is an application")
	}
	t, err := s.createTask(r, hookd.TaskAppStats, "", "", task.Params{Since: *in.Since, Until: in.Until, AppIDs: ids})
	if err != nil {
		return err
	}
	out.taskStartOut = tOut(t).taskStartOut
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// aggregateEventTypes starts a task that lists, per application, the event types its
// endpoints subscribe to; its data is {"event_types": [{"appId",
// "explicitlySubscribedEventTypes", "hasCatchAllEndpoint"}]}.
func (s *Server) aggregateEventTypes(w http.ResponseWriter, r *http.Request) error {
	t, err := s.createTask(r, hookd.TaskEventTypeAggregate, "", "", task.Params{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tOut(t).taskStartOut)
	return nil
}
