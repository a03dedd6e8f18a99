package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/server"
)

// taskOut is a background task as the API answers it.
type taskOut struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Task      string    `json:"task"`
	UpdatedAt time.Time `json:"updatedAt"`
	Data      struct {
		Processed int    `json:"processed"`
		Queued    int    `json:"queued"`
		Error     string `json:"error"`
	} `json:"data"`
}

// counter is a receiver that counts deliveries by webhook-id and event type.
type counter struct {
	*httptest.Server
	mu   sync.Mutex
	byID map[string]int
}

func newCounter(t *testing.T) *counter {
	c := &counter{byID: map[string]int{}}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.byID[r.Header.Get("Webhook-Id")]++
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *counter) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

// waitCounts waits until every id in want has been received want[id] times, and
// fails if one is received more often.
func (c *counter) waitCounts(t *testing.T, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok := true
		for id, n := range want {
			got := c.count(id)
			if got > n {
				t.Fatalf("message %s received %d times, want %d", id, got, n)
			}
			ok = ok && got == n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			defer c.mu.Unlock()
			t.Fatalf("receiver got %v, want %v", c.byID, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// decodeJSON decodes body into v or fails the test.
func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
}

// startTask POSTs body to path, expecting 202 with a running task of kind.
func (ts *testServer) startTask(t *testing.T, path, body, kind string) taskOut {
	t.Helper()
	code, b := ts.raw(t, "POST", path, body)
	var out taskOut
	decodeJSON(t, b, &out)
	if code != http.StatusAccepted || !strings.HasPrefix(out.ID, "qtask_") || out.Task != kind || out.Status != "running" {
		t.Fatalf("POST %s = %d %s, want 202 with a %s task", path, code, b, kind)
	}
	return out
}

// waitTask polls the task until it is no longer running.
func (ts *testServer) waitTask(t *testing.T, id string) taskOut {
	t.Helper()
	for range 1000 {
		code, b := ts.raw(t, "GET", "/api/v1/background-task/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("get task %s: %d %s", id, code, b)
		}
		var out taskOut
		decodeJSON(t, b, &out)
		if out.Status != "running" {
			return out
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("task %s still running after 10 s", id)
	return taskOut{}
}

// sendRaw accepts a message and returns its ID.
func (ts *testServer) sendRaw(t *testing.T, app, body string) string {
	t.Helper()
	code, b := ts.raw(t, "POST", "/api/v1/app/"+app+"/msg", body)
	if code != http.StatusAccepted {
		t.Fatalf("send %s: %d %s", body, code, b)
	}
	var m struct{ ID string }
	decodeJSON(t, b, &m)
	return m.ID
}

// TestBulkReplay resends a time window of an endpoint's messages, narrowed by the
// contract's filters, as a background task that the API lists and reads back.
func TestBulkReplay(t *testing.T) {
	ts := startServer(t)
	rc := newCounter(t)
	if code, b := ts.raw(t, "POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create app: %d %s", code, b)
	}
	code, b := ts.raw(t, "POST", "/api/v1/app/acme/endpoint", `{"url":"`+rc.URL+`","uid":"ep"}`)
	if code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, b)
	}
	start := time.Now().Add(-time.Second).UTC()
	var ids []string
	types := []string{"a.one", "a.two", "a.one", "a.three", "a.one"}
	for i, et := range types {
		body := fmt.Sprintf(`{"eventType":%q,"payload":{"i":%d},"channels":["ch%d"],"tags":["t%d"]}`, et, i, i%2, i%3)
		ids = append(ids, ts.sendRaw(t, "acme", body))
	}
	want := map[string]int{}
	for _, id := range ids {
		want[id] = 1
	}
	rc.waitCounts(t, want)
	since := start.Format(time.RFC3339Nano)
	path := "/api/v1/app/acme/endpoint/ep/bulk-replay"

	t.Run("event types", func(t *testing.T) {
		tk := ts.startTask(t, path, `{"since":"`+since+`","eventTypes":["a.one"]}`, "endpoint.bulk-replay")
		done := ts.waitTask(t, tk.ID)
		if done.Status != "finished" || done.Data.Processed != 3 || done.Data.Queued != 3 || done.UpdatedAt.IsZero() {
			t.Fatalf("task = %+v, want finished with 3 processed and queued", done)
		}
		want[ids[0]], want[ids[2]], want[ids[4]] = 2, 2, 2
		rc.waitCounts(t, want)
	})
	t.Run("channel and tag", func(t *testing.T) {
		tk := ts.startTask(t, path, `{"since":"`+since+`","channel":"ch1","tag":"t0"}`, "endpoint.bulk-replay")
		// Only message 3 is on ch1 with tag t0.
		if done := ts.waitTask(t, tk.ID); done.Status != "finished" || done.Data.Queued != 1 {
			t.Fatalf("task = %+v, want finished with 1 queued", done)
		}
		want[ids[3]] = 2
		rc.waitCounts(t, want)
	})
	t.Run("status code class", func(t *testing.T) {
		// Every attempt so far got a 200: the 5xx class finds nothing, the 2xx class all.
		tk := ts.startTask(t, path, `{"since":"`+since+`","statusCodeClass":500}`, "endpoint.bulk-replay")
		if done := ts.waitTask(t, tk.ID); done.Status != "finished" || done.Data.Queued != 0 {
			t.Fatalf("5xx task = %+v, want finished with nothing queued", done)
		}
		tk = ts.startTask(t, path, `{"since":"`+since+`","until":"`+time.Now().Add(time.Minute).UTC().Format(time.RFC3339)+`","statusCodeClass":200,"status":0}`, "endpoint.bulk-replay")
		if done := ts.waitTask(t, tk.ID); done.Status != "finished" || done.Data.Queued != 5 {
			t.Fatalf("2xx task = %+v, want finished with 5 queued", done)
		}
		for _, id := range ids {
			want[id]++
		}
		rc.waitCounts(t, want)
	})
	t.Run("window", func(t *testing.T) {
		later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		tk := ts.startTask(t, path, `{"since":"`+later+`"}`, "endpoint.bulk-replay")
		if done := ts.waitTask(t, tk.ID); done.Status != "finished" || done.Data.Processed != 0 {
			t.Fatalf("task = %+v, want finished with nothing processed", done)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			path, body string
			code       int
		}{
			{path, `{}`, 422},
			{path, `{"since":"` + since + `","until":"` + start.Add(-time.Hour).Format(time.RFC3339) + `"}`, 422},
			{path, `{"since":"` + since + `","statusCodeClass":250}`, 422},
			{path, `{"since":"` + since + `","status":9}`, 422},
			{path, `{"since":"` + since + `","eventTypes":["bad type"]}`, 422},
			{path, `{"since":"` + since + `","unknown":1}`, 422},
			{path, `{"since":`, 400},
			{"/api/v1/app/acme/endpoint/ep_missing/bulk-replay", `{"since":"` + since + `"}`, 404},
			{"/api/v1/app/nope/endpoint/ep/bulk-replay", `{"since":"` + since + `"}`, 404},
		} {
			if code, b := ts.raw(t, "POST", tt.path, tt.body); code != tt.code || !strings.Contains(string(b), "detail") {
				t.Errorf("POST %s %s = %d %s, want %d with a detail", tt.path, tt.body, code, b, tt.code)
			}
		}
	})
}

// TestBackgroundTasks lists and reads the tasks that recover, replay-missing and
// bulk replay start.
func TestBackgroundTasks(t *testing.T) {
	ts := startServer(t)
	rc := newCounter(t)
	ts.raw(t, "POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	if code, b := ts.raw(t, "POST", "/api/v1/app/acme/endpoint", `{"url":"`+rc.URL+`","uid":"ep"}`); code != http.StatusCreated {
		t.Fatalf("create endpoint: %d %s", code, b)
	}
	id := ts.sendRaw(t, "acme", `{"eventType":"a.b","payload":{}}`)
	rc.waitCounts(t, map[string]int{id: 1})
	since := `{"since":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`
	rec := ts.startTask(t, "/api/v1/app/acme/endpoint/ep/recover", since, "endpoint.recover")
	rep := ts.startTask(t, "/api/v1/app/acme/endpoint/ep/replay-missing", since, "endpoint.replay")
	bulk := ts.startTask(t, "/api/v1/app/acme/endpoint/ep/bulk-replay", since, "endpoint.bulk-replay")
	for _, tk := range []taskOut{rec, rep, bulk} {
		done := ts.waitTask(t, tk.ID)
		if done.Status != "finished" || done.Task != tk.Task {
			t.Fatalf("task = %+v, want a finished %s", done, tk.Task)
		}
	}
	// Nothing failed and nothing was missing; the bulk replay resent the message.
	rc.waitCounts(t, map[string]int{id: 2})

	list := func(query string) []string {
		t.Helper()
		code, b := ts.raw(t, "GET", "/api/v1/background-task"+query, "")
		if code != http.StatusOK {
			t.Fatalf("list %s: %d %s", query, code, b)
		}
		var out struct {
			Data []taskOut
			Done bool
		}
		decodeJSON(t, b, &out)
		var ids []string
		for _, tk := range out.Data {
			ids = append(ids, tk.ID)
		}
		return ids
	}
	if got := list("?order=ascending"); strings.Join(got, ",") != strings.Join([]string{rec.ID, rep.ID, bulk.ID}, ",") {
		t.Errorf("list ascending = %v", got)
	}
	if got := list(""); strings.Join(got, ",") != strings.Join([]string{bulk.ID, rep.ID, rec.ID}, ",") {
		t.Errorf("list = %v, want newest first", got)
	}
	if got := list("?task=endpoint.recover"); len(got) != 1 || got[0] != rec.ID {
		t.Errorf("list task=endpoint.recover = %v", got)
	}
	if got := list("?status=finished&limit=1"); len(got) != 1 || got[0] != bulk.ID {
		t.Errorf("list status=finished limit=1 = %v", got)
	}
	if got := list("?status=running"); len(got) != 0 {
		t.Errorf("list status=running = %v, want none", got)
	}
	if got := list("?task=message.broadcast"); len(got) != 0 {
		t.Errorf("list task=message.broadcast = %v, want none", got)
	}
	for _, q := range []string{"?status=done", "?task=nope", "?limit=0"} {
		if code, b := ts.raw(t, "GET", "/api/v1/background-task"+q, ""); code != 422 {
			t.Errorf("list %s = %d %s, want 422", q, code, b)
		}
	}
	if code, _ := ts.raw(t, "GET", "/api/v1/background-task/qtask_2pZs1b4x0cWm0eYj3d4bXqkH3yT", ""); code != 404 {
		t.Errorf("unknown task = %d, want 404", code)
	}
	if code, _ := ts.raw(t, "GET", "/api/v1/background-task/"+rec.ID, "", "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("task without the token = %d, want 401", code)
	}
}

// TestTasksOneNode runs two nodes on one PostgreSQL schema: each task runs on one of
// them only, so every message of a bulk replay is resent once.
func TestTasksOneNode(t *testing.T) {
	db := postgresDB(t)
	a := startServer(t, func(c *server.Config) { c.DB = db })
	b := startServer(t, func(c *server.Config) { c.DB = db })
	rc := newCounter(t)
	a.raw(t, "POST", "/api/v1/app", `{"name":"Acme","uid":"acme"}`)
	a.raw(t, "POST", "/api/v1/app/acme/endpoint", `{"url":"`+rc.URL+`","uid":"ep"}`)
	want := map[string]int{}
	for i := range 20 {
		want[a.sendRaw(t, "acme", fmt.Sprintf(`{"eventType":"a.b","payload":{"i":%d}}`, i))] = 1
	}
	rc.waitCounts(t, want)
	since := `{"since":"` + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + `"}`
	var tasks []taskOut
	for i := range 6 {
		node := a
		if i%2 == 1 {
			node = b
		}
		tasks = append(tasks, node.startTask(t, "/api/v1/app/acme/endpoint/ep/bulk-replay", since, "endpoint.bulk-replay"))
	}
	for _, tk := range tasks {
		if done := b.waitTask(t, tk.ID); done.Status != "finished" || done.Data.Queued != 20 {
			t.Fatalf("task = %+v, want finished with 20 queued", done)
		}
	}
	for id := range want {
		want[id] = 1 + len(tasks)
	}
	// Resends of one delivery may coalesce while it is due; never more than one per task.
	deadline := time.Now().Add(20 * time.Second)
	for id, n := range want {
		for rc.count(id) < 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if got := rc.count(id); got < 2 || got > n {
			t.Errorf("message %s received %d times, want 2 to %d", id, got, n)
		}
	}
}
