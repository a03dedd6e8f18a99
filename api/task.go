package api

import (
	"context"
	"net/http"
	"regexp"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/task"
)

// Tasks starts background tasks (see task.Runner.Create).
type Tasks interface {
	Create(ctx context.Context, kind hookd.TaskKind, appID, endpointID string, p task.Params) (*hookd.Task, error)
}

// taskStartOut is Svix's RecoverOut / ReplayOut: the task just created.
type taskStartOut struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Task      string    `json:"task"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// taskOut is Svix's BackgroundTaskOut; data is the task's task.Progress.
type taskOut struct {
	taskStartOut
	Data rawObject `json:"data"`
}

// rawObject is a JSON object stored as text, written as is.
type rawObject []byte

// MarshalJSON implements json.Marshaler.
func (o rawObject) MarshalJSON() ([]byte, error) {
	if len(o) == 0 {
		return []byte("{}"), nil
	}
	return o, nil
}

func tOut(t *hookd.Task) taskOut {
	return taskOut{taskStartOut: taskStartOut{ID: t.ID, Status: string(t.Status), Task: string(t.Kind), UpdatedAt: t.UpdatedAt}, Data: rawObject(t.Data)}
}

// startTask creates a task for the endpoint of the request and answers 202 with it.
func (s *Server) startTask(w http.ResponseWriter, r *http.Request, kind hookd.TaskKind, p task.Params) error {
	a, e, err := s.endpoint(r)
	if err != nil {
		return err
	}
	t, err := s.createTask(r, kind, a.ID, e.ID, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, tOut(t).taskStartOut)
	return nil
}

// createTask stores a new background task for the runner.
func (s *Server) createTask(r *http.Request, kind hookd.TaskKind, appID, endpointID string, p task.Params) (*hookd.Task, error) {
	if s.cfg.Tasks == nil {
		return nil, hookd.Errorf(hookd.EUNAVAILABLE, "background tasks are not running on this server")
	}
	return s.cfg.Tasks.Create(r.Context(), kind, appID, endpointID, p)
}

// taskIDPattern is the contract's pattern of a task ID.
var taskIDPattern = regexp.MustCompile(`^qtask_[A-Za-z0-9]{22,27}$`)

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("task_id")
	if !taskIDPattern.MatchString(id) {
		return hookd.Errorf(hookd.ENOTFOUND, "background task not found")
	}
	t, err := s.store.Task(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, tOut(t))
	return nil
}

func (s *Server) listTasks(w http.ResponseWriter, r *http.Request) error {
	p, err := page(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var filter hookd.TaskFilter
	switch st := hookd.TaskStatus(q.Get("status")); st {
	case "", hookd.TaskRunning, hookd.TaskFinished, hookd.TaskFailed:
		filter.Status = st
	default:
		return invalidQuery("status", `status must be "running", "finished" or "failed"`)
	}
	if k := q.Get("task"); k != "" {
		filter.Kind = hookd.TaskKind(k)
		if !knownTaskKinds[filter.Kind] {
			return invalidQuery("task", "task must be a background task type such as endpoint.recover")
		}
	}
	ts, err := s.store.Tasks(r.Context(), filter, probe(p))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, paginate(p, ts, func(t *hookd.Task) string { return t.ID }, tOut))
	return nil
}

// knownTaskKinds are the contract's BackgroundTaskType values; hookd runs only some,
// but a filter on any of them is valid (and finds nothing).
var knownTaskKinds = map[hookd.TaskKind]bool{
	hookd.TaskReplay: true, hookd.TaskRecover: true, hookd.TaskBulkReplay: true,
	"application.stats": true, "message.broadcast": true, "sdk.generate": true,
	"event-type.aggregate": true, "application.purge_content": true,
}
