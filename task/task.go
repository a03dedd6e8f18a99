// Package task runs hookd's background tasks: recovering an endpoint's failed
// deliveries, replaying the messages it missed and bulk-replaying a time window to it.
// An API request creates the task row and answers at once; a Runner on some node
// claims the task with a lease, works through it page by page and saves its cursor
// after each page, so that a task interrupted by a crash or a shutdown is resumed,
// by this node after a restart or by any other node sharing the store, once the
// lease expires. A task interrupted too often is marked failed, never left running.
package task

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookd/hookd"
)

// Params is what a task was asked to do, stored with it as JSON.
type Params struct {
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
	// The filters of a bulk replay.
	EventTypes []string      `json:"eventTypes,omitempty"`
	Channel    string        `json:"channel,omitempty"`
	Tag        string        `json:"tag,omitempty"`
	Status     *hookd.Status `json:"status,omitempty"`
	// StatusCodeClass keeps messages with an attempt whose status code is in
	// [class, class+100); class 0 means attempts that got no response.
	StatusCodeClass *int `json:"statusCodeClass,omitempty"`
	// Compact asks an application.purge_content task to rewrite the tables that held
	// contents once it is done (see hookd.MessageStore.ReclaimExpunged).
	Compact bool `json:"compact,omitempty"`
	// AppIDs limits application statistics to these applications (resolved IDs).
	AppIDs []string `json:"appIds,omitempty"`
}

// Progress is a task's data as the API shows it: how far it got and, if it failed,
// why.
type Progress struct {
	// Processed counts the messages (for a recover, the deliveries) looked at.
	Processed int `json:"processed"`
	// MessagesSent counts the deliveries made due by the task (Svix's name).
	MessagesSent int `json:"messagesSent"`
	// MessagesPurged counts the messages whose contents an
	// application.purge_content task erased (Svix's name).
	MessagesPurged int    `json:"messagesPurged,omitempty"`
	Error          string `json:"error,omitempty"`
	// AppStats is the result of an application.stats task.
	AppStats []AppStat `json:"appStats,omitempty"`
	// EventTypes is the result of an event-type.aggregate task.
	EventTypes []AppEventTypes `json:"event_types,omitempty"`
}

// AppStat is one application's usage in an application.stats task's window.
type AppStat struct {
	AppID               string  `json:"appId"`
	AppUID              *string `json:"appUid"`
	MessageDestinations int64   `json:"messageDestinations"`
}

// AppEventTypes is what one application's endpoints subscribe to.
type AppEventTypes struct {
	AppID                          string   `json:"appId"`
	ExplicitlySubscribedEventTypes []string `json:"explicitlySubscribedEventTypes"`
	HasCatchAllEndpoint            bool     `json:"hasCatchAllEndpoint"`
}

// Defaults of a Runner.
const (
	DefaultLease = 10 * time.Second
	// DefaultPoll is how often an idle runner looks for tasks created on other nodes
	// or abandoned by a dead one.
	DefaultPoll = 2 * time.Second
	// MaxRuns is how many claims a task gets: one interrupted this often (a crash
	// loop, say) is failed instead of resumed again.
	MaxRuns = 5
	// pageSize is how many messages a task handles between two saves of its cursor.
	pageSize = 250
	// resendConcurrency bounds the resends of one page in flight at once.
	resendConcurrency = 16
)

// Config is what a Runner needs.
type Config struct {
	Store hookd.Store
	// Node names this node in task owners; each claim adds a random suffix.
	Node   string
	Now    hookd.Clock
	IDs    hookd.IDGen
	Logger *slog.Logger
	// Lease is how long a claim holds a task without saving progress; a task whose
	// node died resumes elsewhere that much later. Zero means DefaultLease.
	Lease time.Duration
	// Poll is the idle runner's period; zero means DefaultPoll.
	Poll time.Duration
}

// Runner claims and runs background tasks.
type Runner struct {
	cfg  Config
	kick chan struct{}
}

// New returns a runner for cfg.
func New(cfg Config) *Runner {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IDs.Now == nil {
		cfg.IDs.Now = cfg.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	return &Runner{cfg: cfg, kick: make(chan struct{}, 1)}
}

// Create stores a new running task of kind for the endpoint, claimable at once, and
// wakes the runner.
func (r *Runner) Create(ctx context.Context, kind hookd.TaskKind, appID, endpointID string, p Params) (*hookd.Task, error) {
	params, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode task params: %w", err)
	}
	now := r.cfg.Now().UTC().Truncate(time.Microsecond)
	t := &hookd.Task{
		ID: r.cfg.IDs.New(hookd.PrefixTask), Kind: kind, Status: hookd.TaskRunning, AppID: appID, EndpointID: endpointID,
		Params: params, Data: mustJSON(Progress{}), LeaseUntil: now, CreatedAt: now, UpdatedAt: now,
	}
	if err := r.cfg.Store.CreateTask(ctx, t); err != nil {
		return nil, err
	}
	r.Kick()
	return t, nil
}

// Kick makes an idle runner look for tasks now.
func (r *Runner) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run claims and runs tasks, one at a time, until ctx ends. A task in progress when
// ctx ends gives its lease back, so the next claim (after a restart, or on another
// node) resumes it at once.
func (r *Runner) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-timer.C:
		}
		for ctx.Err() == nil {
			owner := r.cfg.Node + "/" + r.cfg.IDs.New("")
			t, err := r.cfg.Store.ClaimTask(ctx, owner, r.cfg.Now().UTC(), r.cfg.Lease)
			if err != nil {
				if ctx.Err() == nil {
					r.cfg.Logger.Error("claim background task", "err", err)
				}
				break
			}
			if t == nil {
				break
			}
			r.runTask(ctx, t)
		}
		timer.Reset(r.cfg.Poll)
	}
}

// run is one claim of a task.
type run struct {
	r    *Runner
	t    *hookd.Task
	p    Params
	prog Progress
}

// runTask works on a claimed task until it finishes, fails, or ctx ends.
func (r *Runner) runTask(ctx context.Context, t *hookd.Task) {
	log := r.cfg.Logger.With("task", t.ID, "kind", string(t.Kind))
	w := &run{r: r, t: t}
	_ = json.Unmarshal(t.Data, &w.prog) // a fresh task has {}
	var err error
	switch {
	case t.Runs > MaxRuns:
		err = hookd.Errorf(hookd.EINTERNAL, "the task was interrupted %d times", t.Runs-1)
	case json.Unmarshal(t.Params, &w.p) != nil:
		err = hookd.Errorf(hookd.EINTERNAL, "the task's parameters are unreadable")
	default:
		err = w.work(ctx)
	}
	switch {
	case err == nil:
		t.Status = hookd.TaskFinished
	case ctx.Err() != nil:
		// Shutting down: give the lease back so the next claim resumes at once.
		if err := r.save(context.WithoutCancel(ctx), w, 0); err != nil && !hookd.IsConflict(err) {
			log.Warn("release background task", "err", err)
		}
		return
	case errors.Is(err, errLeaseLost):
		log.Warn("background task taken over by another claim")
		return
	case !isHookdError(err):
		// The store failed: leave the task to be claimed again once the lease expires.
		log.Error("background task interrupted", "err", err)
		return
	default:
		t.Status = hookd.TaskFailed
		w.prog.Error = hookd.ErrorMessage(err)
	}
	if err := r.save(ctx, w, r.cfg.Lease); err != nil {
		log.Error("save background task", "err", err)
		return
	}
	log.Info("background task done", "status", string(t.Status), "processed", w.prog.Processed, "messagesSent", w.prog.MessagesSent)
}

// errLeaseLost marks a save refused because another claim holds the task.
var errLeaseLost = errors.New("lease lost")

func isHookdError(err error) bool {
	_, ok := errors.AsType[*hookd.Error](err)
	return ok
}

// save stores the task's progress and holds it for another lease; a zero lease gives
// the task back, to be claimed again at once.
func (r *Runner) save(ctx context.Context, w *run, lease time.Duration) error {
	now := r.cfg.Now().UTC().Truncate(time.Microsecond)
	w.t.LeaseUntil = now.Add(lease)
	w.t.Data = mustJSON(w.prog)
	w.t.UpdatedAt = now
	if err := r.cfg.Store.UpdateTask(ctx, w.t); err != nil {
		if hookd.IsConflict(err) {
			return &hookd.Error{Code: hookd.ECONFLICT, Message: "lease lost", Err: errLeaseLost}
		}
		return err
	}
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("task: marshal " + err.Error())
	}
	return b
}
