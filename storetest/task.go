package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// task creates a running, unclaimed task of kind.
func (f *fixture) task(kind hookd.TaskKind) *hookd.Task {
	f.t.Helper()
	t := &hookd.Task{
		ID: f.id(hookd.PrefixTask), Kind: kind, Status: hookd.TaskRunning, AppID: "app_1", EndpointID: "ep_1",
		Params: json.RawMessage(`{"since":"2025-03-14T00:00:00Z"}`), Data: json.RawMessage(`{}`),
		LeaseUntil: f.now, CreatedAt: f.now, UpdatedAt: f.now,
	}
	if err := f.s.CreateTask(f.ctx, t); err != nil {
		f.t.Fatalf("CreateTask: %v", err)
	}
	return t
}

func taskID(t *hookd.Task) string { return t.ID }

var taskTests = []test{
	{"CreateAndGet", func(t *testing.T, f *fixture) {
		want := f.task(hookd.TaskBulkReplay)
		got, err := f.s.Task(f.ctx, want.ID)
		must(t, err)
		if got.ID != want.ID || got.Kind != want.Kind || got.Status != hookd.TaskRunning || got.AppID != "app_1" ||
			got.EndpointID != "ep_1" || string(got.Params) != string(want.Params) || string(got.Data) != "{}" ||
			got.Cursor != "" || got.Runs != 0 || !got.CreatedAt.Equal(want.CreatedAt) || !got.LeaseUntil.Equal(want.LeaseUntil) {
			t.Errorf("Task = %+v, want %+v", got, want)
		}
		_, err = f.s.Task(f.ctx, "qtask_missing")
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ListFiltersAndPages", func(t *testing.T, f *fixture) {
		a := f.task(hookd.TaskRecover)
		b := f.task(hookd.TaskReplay)
		c := f.task(hookd.TaskRecover)
		// Finish b.
		claimed, err := f.s.ClaimTask(f.ctx, "node_a", f.tick(), time.Minute)
		must(t, err)
		if claimed == nil || claimed.ID != a.ID {
			t.Fatalf("ClaimTask = %v, want %s (the oldest)", claimed, a.ID)
		}
		claimed.Status, claimed.UpdatedAt = hookd.TaskFinished, f.tick()
		must(t, f.s.UpdateTask(f.ctx, claimed))
		list := func(filter hookd.TaskFilter) func(hookd.Page) ([]string, error) {
			return func(p hookd.Page) ([]string, error) {
				ts, err := f.s.Tasks(f.ctx, filter, p)
				return ids(ts, taskID), err
			}
		}
		checkPaging(t, []string{a.ID, b.ID, c.ID}, list(hookd.TaskFilter{}))
		checkPaging(t, []string{a.ID, c.ID}, list(hookd.TaskFilter{Kind: hookd.TaskRecover}))
		checkPaging(t, []string{b.ID, c.ID}, list(hookd.TaskFilter{Status: hookd.TaskRunning}))
		checkPaging(t, []string{a.ID}, list(hookd.TaskFilter{Status: hookd.TaskFinished, Kind: hookd.TaskRecover}))
		checkPaging(t, nil, list(hookd.TaskFilter{Status: hookd.TaskFailed}))
	}},
	{"ClaimHonoursLeases", func(t *testing.T, f *fixture) {
		a := f.task(hookd.TaskBulkReplay)
		now := f.tick()
		got, err := f.s.ClaimTask(f.ctx, "node_a/1", now, time.Minute)
		must(t, err)
		if got == nil || got.ID != a.ID || got.Owner != "node_a/1" || got.Runs != 1 || !got.LeaseUntil.Equal(now.Add(time.Minute)) {
			t.Fatalf("ClaimTask = %+v, want %s owned by node_a/1, run 1, lease until now+1m", got, a.ID)
		}
		// Held: nobody else gets it before the lease expires.
		if again, err := f.s.ClaimTask(f.ctx, "node_b/1", now.Add(59*time.Second), time.Minute); err != nil || again != nil {
			t.Fatalf("ClaimTask while leased = %v, %v; want nil, nil", again, err)
		}
		// The owner saves progress and extends its lease.
		got.Cursor, got.Data = "msg_2", json.RawMessage(`{"processed":2}`)
		got.LeaseUntil, got.UpdatedAt = now.Add(90*time.Second), now.Add(30*time.Second)
		must(t, f.s.UpdateTask(f.ctx, got))
		if again, err := f.s.ClaimTask(f.ctx, "node_b/1", now.Add(80*time.Second), time.Minute); err != nil || again != nil {
			t.Fatalf("ClaimTask within the extended lease = %v, %v; want nil, nil", again, err)
		}
		// The owner dies; after the lease another node takes over where it stopped.
		taken, err := f.s.ClaimTask(f.ctx, "node_b/1", now.Add(90*time.Second), time.Minute)
		must(t, err)
		if taken == nil || taken.ID != a.ID || taken.Cursor != "msg_2" || string(taken.Data) != `{"processed":2}` || taken.Runs != 2 {
			t.Fatalf("ClaimTask after the lease = %+v, want the task at cursor msg_2, run 2", taken)
		}
		// The first owner, back, can no longer write.
		got.Status = hookd.TaskFinished
		wantCode(t, f.s.UpdateTask(f.ctx, got), hookd.ECONFLICT)
		// Finished and failed tasks are never claimed.
		taken.Status = hookd.TaskFailed
		must(t, f.s.UpdateTask(f.ctx, taken))
		if again, err := f.s.ClaimTask(f.ctx, "node_c/1", now.Add(time.Hour), time.Minute); err != nil || again != nil {
			t.Fatalf("ClaimTask of a failed task = %v, %v; want nil, nil", again, err)
		}
		final, err := f.s.Task(f.ctx, a.ID)
		must(t, err)
		if final.Status != hookd.TaskFailed || final.Owner != "node_b/1" {
			t.Errorf("task = %+v, want failed by node_b/1", final)
		}
	}},
	{"ConcurrentClaimsTakeEachTaskOnce", func(t *testing.T, f *fixture) {
		const tasks = 5
		for range tasks {
			f.task(hookd.TaskRecover)
		}
		now := f.tick()
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := f.s.ClaimTask(f.ctx, "node_"+string(rune('a'+i)), now, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if got != nil {
					mu.Lock()
					seen[got.ID]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != tasks {
			t.Errorf("claimed %d distinct tasks, want %d", len(seen), tasks)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("task %s claimed %d times", id, n)
			}
		}
	}},
}
