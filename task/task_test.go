package task_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/sqlite"
	"github.com/hookd/hookd/task"
)

type fixture struct {
	st  *sqlite.Store
	r   *task.Runner
	app *hookd.Application
	ep  *hookd.Endpoint
	ids hookd.IDGen
}

// newFixture opens a SQLite store with one application, one endpoint and n messages
// sent to it, each delivered successfully.
func newFixture(t *testing.T, n int) (*fixture, []string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, r: task.New(task.Config{Store: st, Node: "node_test", Poll: 10 * time.Millisecond})}
	now := time.Now().UTC()
	f.app = &hookd.Application{ID: f.ids.New(hookd.PrefixApp), Name: "a", CreatedAt: now, UpdatedAt: now}
	must(t, st.CreateApp(ctx, f.app))
	f.ep = &hookd.Endpoint{ID: f.ids.New(hookd.PrefixEndpoint), AppID: f.app.ID, URL: "https://example.com/",
		Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: now, UpdatedAt: now}
	must(t, st.CreateEndpoint(ctx, f.ep))
	var ids []string
	for i := range n {
		m := &hookd.Message{ID: f.ids.New(hookd.PrefixMessage), AppID: f.app.ID, EventType: "a.b",
			Payload: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)), Timestamp: now}
		d := &hookd.Delivery{ID: f.ids.New(hookd.PrefixDelivery), AppID: f.app.ID, MsgID: m.ID, EndpointID: f.ep.ID,
			Status: hookd.StatusSuccess, NextAttempt: now, CreatedAt: now, UpdatedAt: now}
		if _, err := st.CreateMessage(ctx, m, []*hookd.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	slices.Sort(ids) // IDs made in one millisecond are not in creation order
	return f, ids
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs the runner until the task is no longer running.
func (f *fixture) run(t *testing.T, id string) (*hookd.Task, task.Progress) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var tk *hookd.Task
	hookdtest.Eventually(t, 30*time.Second, "the task to end", func() bool {
		var err error
		tk, err = f.st.Task(t.Context(), id)
		must(t, err)
		return tk.Status != hookd.TaskRunning
	})
	var p task.Progress
	must(t, json.Unmarshal(tk.Data, &p))
	return tk, p
}

// pending counts the endpoint's deliveries made due again.
func (f *fixture) pending(t *testing.T) map[string]bool {
	t.Helper()
	st := hookd.StatusPending
	ds, err := f.st.EndpointDeliveries(t.Context(), f.app.ID, f.ep.ID, hookd.DeliveryFilter{Status: &st}, hookd.Page{Limit: 1000, Ascending: true})
	must(t, err)
	out := map[string]bool{}
	for _, d := range ds {
		out[d.MsgID] = true
	}
	return out
}

func TestBulkReplayResumesFromCursor(t *testing.T) {
	f, ids := newFixture(t, 600)
	tk, err := f.r.Create(t.Context(), hookd.TaskBulkReplay, f.app.ID, f.ep.ID, task.Params{Since: time.Now().Add(-time.Hour)})
	must(t, err)
	// As if a first run had done the first 300 messages and saved its cursor, then died.
	claimed, err := f.st.ClaimTask(t.Context(), "node_dead/1", time.Now(), time.Millisecond)
	must(t, err)
	claimed.Cursor, claimed.Data = ids[299], json.RawMessage(`{"processed":300,"messagesSent":300}`)
	claimed.LeaseUntil = time.Now() // the lease ran out
	must(t, f.st.UpdateTask(t.Context(), claimed))

	done, p := f.run(t, tk.ID)
	if done.Status != hookd.TaskFinished || p.Processed != 600 || p.MessagesSent != 600 || done.Runs != 2 || done.Cursor != ids[599] {
		t.Fatalf("task = %+v %+v, want finished at the last message after 600 processed in 2 runs", done, p)
	}
	got := f.pending(t)
	for i, id := range ids {
		if got[id] != (i >= 300) {
			t.Fatalf("message %d resent = %v, want only those after the cursor", i, got[id])
		}
	}
}

func TestTaskFailsVisibly(t *testing.T) {
	t.Run("endpoint gone", func(t *testing.T) {
		f, _ := newFixture(t, 3)
		tk, err := f.r.Create(t.Context(), hookd.TaskBulkReplay, f.app.ID, f.ep.ID, task.Params{Since: time.Now().Add(-time.Hour)})
		must(t, err)
		must(t, f.st.DeleteEndpoint(t.Context(), f.app.ID, f.ep.ID))
		done, p := f.run(t, tk.ID)
		if done.Status != hookd.TaskFailed || p.Error != "endpoint not found" {
			t.Fatalf("task = %+v %+v, want failed: endpoint not found", done, p)
		}
	})
	t.Run("interrupted too often", func(t *testing.T) {
		f, _ := newFixture(t, 3)
		tk, err := f.r.Create(t.Context(), hookd.TaskReplay, f.app.ID, f.ep.ID, task.Params{Since: time.Now().Add(-time.Hour)})
		must(t, err)
		for range task.MaxRuns {
			c, err := f.st.ClaimTask(t.Context(), "node_crashing/1", time.Now(), 0)
			if err != nil || c == nil {
				t.Fatalf("claim = %v, %v", c, err)
			}
		}
		done, p := f.run(t, tk.ID)
		if done.Status != hookd.TaskFailed || p.Error == "" {
			t.Fatalf("task = %+v %+v, want failed with a reason", done, p)
		}
	})
}

func TestRecoverTask(t *testing.T) {
	f, ids := newFixture(t, 4)
	// Two deliveries failed for good.
	ds, err := f.st.ClaimDeliveries(t.Context(), time.Now().Add(time.Hour), time.Minute, 10)
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("claimed %d successful deliveries", len(ds))
	}
	now := time.Now().UTC()
	for _, id := range ids[:2] {
		must(t, f.st.ResendDelivery(t.Context(), f.ids.New(hookd.PrefixDelivery), f.app.ID, id, f.ep.ID, now))
	}
	ds, err = f.st.ClaimDeliveries(t.Context(), now, time.Minute, 10)
	must(t, err)
	var rs []hookd.AttemptResult
	for _, d := range ds {
		rs = append(rs, hookd.AttemptResult{Delivery: d, Status: hookd.StatusFail, NextAttempt: now, Attempts: 1,
			Attempt: &hookd.Attempt{ID: f.ids.New(hookd.PrefixAttempt), AppID: d.AppID, MsgID: d.MsgID, EndpointID: d.EndpointID,
				URL: "https://example.com/", Status: hookd.StatusFail, ResponseStatusCode: 500, Timestamp: now}})
	}
	must(t, f.st.RecordAttempts(t.Context(), rs))
	tk, err := f.r.Create(t.Context(), hookd.TaskRecover, f.app.ID, f.ep.ID, task.Params{Since: now.Add(-time.Hour)})
	must(t, err)
	done, p := f.run(t, tk.ID)
	if done.Status != hookd.TaskFinished || p.MessagesSent != 2 {
		t.Fatalf("task = %+v %+v, want finished with 2 recovered", done, p)
	}
	if got := f.pending(t); len(got) != 2 || !got[ids[0]] || !got[ids[1]] {
		t.Fatalf("pending after recover = %v, want the two failed", got)
	}
}
