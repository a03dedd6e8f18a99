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

	"github.com/hookd/hookd/hookdtest"
	"github.com/hookd/hookd/server"
	svix "github.com/svix/svix-webhooks/go"
	"github.com/svix/svix-webhooks/go/models"
)

// taskOut is a background task as the API answers it.
type taskOut struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Task      string    `json:"task"`
	UpdatedAt time.Time `json:"updatedAt"`
	Data      struct {
		Processed    int    `json:"processed"`
		MessagesSent int    `json:"messagesSent"`
		Error        string `json:"error"`
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

// waitTaskSDK reads the task through the SDK until it is no longer running.
func waitTaskSDK(t *testing.T, c *svix.Svix, id string) *svix.BackgroundTaskOut {
	t.Helper()
	var tk *svix.BackgroundTaskOut
	hookdtest.Eventually(t, 30*time.Second, "task "+id+" to end", func() bool {
		var err error
		if tk, err = c.BackgroundTask.Get(t.Context(), id); err != nil {
			t.Fatalf("get task %s: %v", id, err)
		}
		return tk.Status != models.BACKGROUNDTASKSTATUS_RUNNING
	})
	return tk
}

// sent returns the messagesSent of a task's data.
func sent(tk *svix.BackgroundTaskOut) int {
	n, _ := tk.Data["messagesSent"].(float64)
	return int(n)
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
	if code != http.StatusAccepted || !strings.HasPrefix(out.ID, "qtask_") || out.Task != kind || out.Status != "running" || out.UpdatedAt.IsZero() {
		t.Fatalf("POST %s = %d %s, want 202 with a %s task", path, code, b, kind)
	}
	return out
}

// waitTask polls the task until it is no longer running.
func (ts *testServer) waitTask(t *testing.T, id string) taskOut {
	t.Helper()
	var out taskOut
	hookdtest.Eventually(t, 30*time.Second, "task "+id+" to end", func() bool {
		code, b := ts.raw(t, "GET", "/api/v1/background-task/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("get task %s: %d %s", id, code, b)
		}
		out = taskOut{}
		decodeJSON(t, b, &out)
		return out.Status != "running"
	})
	return out
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

// startWithEndpoint starts a server with the application "acme" and its endpoint
// "ep", which delivers to a counting receiver.
func startWithEndpoint(t *testing.T) (*testServer, *counter) {
	t.Helper()
	ts := startServer(t)
	rc := newCounter(t)
	if _, err := ts.client.Application.Create(t.Context(), svix.ApplicationIn{Name: "Acme", Uid: ptr("acme")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.Endpoint.Create(t.Context(), "acme", svix.EndpointIn{Url: rc.URL, Uid: ptr("ep")}, nil); err != nil {
		t.Fatal(err)
	}
	return ts, rc
}

// TestBulkReplay resends a time window of an endpoint's messages, narrowed by the
// contract's filters, as a background task that the SDK reads back.
func TestBulkReplay(t *testing.T) {
	ts, rc := startWithEndpoint(t)
	c, ctx := ts.client, t.Context()
	start := time.Now().Add(-time.Second).UTC()
	var ids []string
	types := []string{"a.one", "a.two", "a.one", "a.three", "a.one"}
	for i, et := range types {
		m, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: et, Payload: map[string]any{"i": i},
			Channels: []string{fmt.Sprintf("ch%d", i%2)}, Tags: []string{fmt.Sprintf("t%d", i%3)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.Id)
	}
	want := map[string]int{}
	for _, id := range ids {
		want[id] = 1
	}
	rc.waitCounts(t, want)
	replay := func(t *testing.T, in svix.BulkReplayIn) *svix.BackgroundTaskOut {
		t.Helper()
		out, err := c.Endpoint.BulkReplay(ctx, "acme", "ep", in, nil)
		if err != nil || !strings.HasPrefix(out.Id, "qtask_") || out.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_BULK_REPLAY ||
			out.Status != models.BACKGROUNDTASKSTATUS_RUNNING || out.UpdatedAt.IsZero() {
			t.Fatalf("bulk replay = %+v, %v; want a running endpoint.bulk-replay task", out, err)
		}
		done := waitTaskSDK(t, c, out.Id)
		if done.Status != models.BACKGROUNDTASKSTATUS_FINISHED || done.Id != out.Id || done.Task != out.Task || done.UpdatedAt.Before(out.UpdatedAt) {
			t.Fatalf("task = %+v, want %s finished", done, out.Id)
		}
		return done
	}

	t.Run("event types", func(t *testing.T) {
		done := replay(t, svix.BulkReplayIn{Since: start, EventTypes: []string{"a.one"}})
		if sent(done) != 3 || done.Data["processed"] != 3.0 {
			t.Fatalf("task data = %v, want 3 processed and sent", done.Data)
		}
		want[ids[0]], want[ids[2]], want[ids[4]] = 2, 2, 2
		rc.waitCounts(t, want)
	})
	t.Run("channel and tag", func(t *testing.T) {
		// Only message 3 is on ch1 with tag t0.
		if done := replay(t, svix.BulkReplayIn{Since: start, Channel: ptr("ch1"), Tag: ptr("t0")}); sent(done) != 1 {
			t.Fatalf("task data = %v, want 1 sent", done.Data)
		}
		want[ids[3]] = 2
		rc.waitCounts(t, want)
	})
	t.Run("status code class", func(t *testing.T) {
		// Every attempt so far got a 200: the 5xx class finds nothing, the 2xx class all.
		if done := replay(t, svix.BulkReplayIn{Since: start, StatusCodeClass: ptr(models.STATUSCODECLASS_CODE5XX)}); sent(done) != 0 {
			t.Fatalf("5xx task data = %v, want nothing sent", done.Data)
		}
		until := time.Now().Add(time.Minute)
		if done := replay(t, svix.BulkReplayIn{Since: start, Until: &until, StatusCodeClass: ptr(models.STATUSCODECLASS_CODE2XX),
			Status: ptr(models.MESSAGESTATUS_SUCCESS)}); sent(done) != 5 {
			t.Fatalf("2xx task data = %v, want 5 sent", done.Data)
		}
		for _, id := range ids {
			want[id]++
		}
		rc.waitCounts(t, want)
	})
	t.Run("window", func(t *testing.T) {
		if done := replay(t, svix.BulkReplayIn{Since: time.Now().Add(time.Hour)}); done.Data["processed"] != 0.0 {
			t.Fatalf("task data = %v, want nothing processed", done.Data)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		since := start.Format(time.RFC3339Nano)
		path := "/api/v1/app/acme/endpoint/ep/bulk-replay"
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

// TestBackgroundTasks lists and reads, through the SDK, the tasks that recover,
// replay-missing and bulk replay start.
func TestBackgroundTasks(t *testing.T) {
	ts, rc := startWithEndpoint(t)
	c, ctx := ts.client, t.Context()
	m, err := c.Message.Create(ctx, "acme", svix.MessageIn{EventType: "a.b", Payload: map[string]any{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.waitCounts(t, map[string]int{m.Id: 1})
	since := time.Now().Add(-time.Hour)
	rec, err := c.Endpoint.Recover(ctx, "acme", "ep", svix.RecoverIn{Since: since}, nil)
	if err != nil || rec.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_RECOVER || rec.Status != models.BACKGROUNDTASKSTATUS_RUNNING {
		t.Fatalf("recover = %+v, %v", rec, err)
	}
	rep, err := c.Endpoint.ReplayMissing(ctx, "acme", "ep", svix.ReplayIn{Since: since}, nil)
	if err != nil || rep.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_REPLAY {
		t.Fatalf("replay-missing = %+v, %v", rep, err)
	}
	bulk, err := c.Endpoint.BulkReplay(ctx, "acme", "ep", svix.BulkReplayIn{Since: since}, nil)
	if err != nil || bulk.Task != models.BACKGROUNDTASKTYPE_ENDPOINT_BULK_REPLAY {
		t.Fatalf("bulk replay = %+v, %v", bulk, err)
	}
	for _, id := range []string{rec.Id, rep.Id, bulk.Id} {
		if done := waitTaskSDK(t, c, id); done.Status != models.BACKGROUNDTASKSTATUS_FINISHED {
			t.Fatalf("task = %+v, want finished", done)
		}
	}
	// Nothing failed and nothing was missing; the bulk replay resent the message.
	rc.waitCounts(t, map[string]int{m.Id: 2})

	list := func(o *svix.BackgroundTaskListOptions) []string {
		t.Helper()
		out, err := c.BackgroundTask.List(ctx, o)
		if err != nil {
			t.Fatalf("list %+v: %v", o, err)
		}
		var ids []string
		for _, tk := range out.Data {
			ids = append(ids, tk.Id)
		}
		return ids
	}
	join := func(ids ...string) string { return strings.Join(ids, ",") }
	if got := list(&svix.BackgroundTaskListOptions{Order: ptr(models.ORDERING_ASCENDING)}); join(got...) != join(rec.Id, rep.Id, bulk.Id) {
		t.Errorf("list ascending = %v", got)
	}
	if got := list(nil); join(got...) != join(bulk.Id, rep.Id, rec.Id) {
		t.Errorf("list = %v, want newest first", got)
	}
	if got := list(&svix.BackgroundTaskListOptions{Task: ptr(models.BACKGROUNDTASKTYPE_ENDPOINT_RECOVER)}); join(got...) != rec.Id {
		t.Errorf("list task=endpoint.recover = %v", got)
	}
	if got := list(&svix.BackgroundTaskListOptions{Status: ptr(models.BACKGROUNDTASKSTATUS_FINISHED), Limit: ptr(uint64(1))}); join(got...) != bulk.Id {
		t.Errorf("list status=finished limit=1 = %v", got)
	}
	if got := list(&svix.BackgroundTaskListOptions{Status: ptr(models.BACKGROUNDTASKSTATUS_RUNNING)}); len(got) != 0 {
		t.Errorf("list status=running = %v, want none", got)
	}
	if got := list(&svix.BackgroundTaskListOptions{Task: ptr(models.BACKGROUNDTASKTYPE_MESSAGE_BROADCAST)}); len(got) != 0 {
		t.Errorf("list task=message.broadcast = %v, want none", got)
	}
	for _, q := range []string{"?status=done", "?task=nope", "?limit=0"} {
		if code, b := ts.raw(t, "GET", "/api/v1/background-task"+q, ""); code != 422 {
			t.Errorf("list %s = %d %s, want 422", q, code, b)
		}
	}
	_, err = c.BackgroundTask.Get(ctx, "qtask_2pZs1b4x0cWm0eYj3d4bXqkH3yT")
	wantStatus(t, err, http.StatusNotFound)
	if code, _ := ts.raw(t, "GET", "/api/v1/background-task/"+rec.Id, "", "Authorization", "Bearer wrong"); code != 401 {
		t.Errorf("task with a wrong token = %d, want 401", code)
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
		if done := b.waitTask(t, tk.ID); done.Status != "finished" || done.Data.MessagesSent != 20 {
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
