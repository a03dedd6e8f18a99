package hookd

import (
	"context"
	"encoding/json"
	"time"
)

// TaskKind names what a background task does; the values are the Svix API's
// BackgroundTaskType.
type TaskKind string

// Task kinds hookd runs.
const (
	TaskRecover    TaskKind = "endpoint.recover"
	TaskReplay     TaskKind = "endpoint.replay"
	TaskBulkReplay TaskKind = "endpoint.bulk-replay"
	// TaskAppStats counts each application's message destinations in a window.
	TaskAppStats TaskKind = "application.stats"
	// TaskEventTypeAggregate lists the event types each application's endpoints
	// subscribe to.
	TaskEventTypeAggregate TaskKind = "event-type.aggregate"
	// TaskSDKGenerate is the export of the event types as an OpenAPI document, made
	// before the request answers; the task only holds the result.
	TaskSDKGenerate TaskKind = "sdk.generate"
	// TaskPurgeContent erases the contents of an application's messages (or, without
	// an application, of every application's), as an expunge-all-contents asks.
	TaskPurgeContent TaskKind = "application.purge_content"
)

// TaskStatus is the state of a background task; the values are the Svix API's
// BackgroundTaskStatus.
type TaskStatus string

// Task statuses. A task is running from creation until it finishes or fails; a task
// whose node died stays running and is claimed again once its lease expires.
const (
	TaskRunning  TaskStatus = "running"
	TaskFinished TaskStatus = "finished"
	TaskFailed   TaskStatus = "failed"
)

// Task is a background task: work an API request asked for that runs after the
// request answered, on one node at a time, and resumes where it stopped after a crash.
type Task struct {
	ID         string // qtask_…
	Kind       TaskKind
	Status     TaskStatus
	AppID      string
	EndpointID string
	// Params is what the request asked for (the task kind's own JSON).
	Params json.RawMessage
	// Cursor is how far the task got: the key of the last item it finished, from
	// which a resumed run continues ("" before the first).
	Cursor string
	// Data is the progress and, once done, the result, shown to API clients.
	Data json.RawMessage
	// Runs counts the claims of the task: a task that keeps being interrupted is
	// failed rather than run forever.
	Runs int
	// Owner and LeaseUntil identify the current claim: only the owner may update the
	// task until the lease expires.
	Owner      string
	LeaseUntil time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// TaskFilter narrows a list of tasks; zero values keep all.
type TaskFilter struct {
	Status TaskStatus
	Kind   TaskKind
}

// TaskStore persists background tasks and hands them out to one node at a time.
type TaskStore interface {
	// CreateTask inserts t.
	CreateTask(ctx context.Context, t *Task) error
	// Task returns one task, or ENOTFOUND.
	Task(ctx context.Context, id string) (*Task, error)
	// Tasks lists tasks by ID.
	Tasks(ctx context.Context, filter TaskFilter, page Page) ([]*Task, error)
	// ClaimTask leases the oldest running task whose lease has expired at now to
	// owner until now+lease, counting one more run, and returns it; (nil, nil) when
	// there is none. Several nodes may call it at once; a task is never held by two.
	ClaimTask(ctx context.Context, owner string, now time.Time, lease time.Duration) (*Task, error)
	// UpdateTask saves t's Status, Cursor, Data, LeaseUntil and UpdatedAt where t.Owner
	// still holds the task (its lease may have expired, as long as nobody claimed it
	// since); otherwise it returns ECONFLICT and saves nothing.
	UpdateTask(ctx context.Context, t *Task) error
}
