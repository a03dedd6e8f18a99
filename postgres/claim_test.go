package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/postgres"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// seed creates an application, an endpoint and n messages with one delivery each,
// due at t0, and returns the endpoint and the delivery IDs.
func seed(t *testing.T, s *postgres.Store, n int) (*hookd.Endpoint, []string) {
	t.Helper()
	ctx := t.Context()
	gen := hookd.IDGen{Now: func() time.Time { return t0 }}
	app := &hookd.Application{ID: gen.New(hookd.PrefixApp), Name: "app", CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	ep := &hookd.Endpoint{ID: gen.New(hookd.PrefixEndpoint), AppID: app.ID, URL: "https://example.com/hook",
		CreatedAt: t0, UpdatedAt: t0}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range n {
		msg := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: app.ID, EventType: "invoice.paid",
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), Timestamp: t0}
		d := &hookd.Delivery{ID: gen.New(hookd.PrefixDelivery), AppID: app.ID, MsgID: msg.ID, EndpointID: ep.ID,
			Status: hookd.StatusPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0}
		if _, err := s.CreateMessage(ctx, msg, []*hookd.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	return ep, ids
}

// TestClaimConcurrent claims from one schema with several stores (as several nodes
// would) and several goroutines each: every delivery is handed out exactly once.
func TestClaimConcurrent(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	stores := []*postgres.Store{openStore(t, dsn, schema), openStore(t, dsn, schema), openStore(t, dsn, schema)}
	const deliveries, workersPerStore, batch = 600, 4, 7
	_, want := seed(t, stores[0], deliveries)

	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*workersPerStore)
	for _, s := range stores {
		for range workersPerStore {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Bounded: every claim takes at least one delivery until none is left.
				for range deliveries {
					ds, err := s.ClaimDeliveries(context.Background(), t0.Add(time.Second), time.Minute, batch)
					if err != nil {
						errs <- err
						return
					}
					if len(ds) == 0 {
						return
					}
					mu.Lock()
					for _, d := range ds {
						claimed[d.ID]++
						if d.Message == nil || d.Message.ID != d.MsgID {
							errs <- fmt.Errorf("delivery %s claimed without its message", d.ID)
						}
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times", id, n)
		}
	}
	for _, id := range want {
		if claimed[id] == 0 {
			t.Errorf("delivery %s never claimed", id)
		}
	}
}

// TestClaimLeaseExpiry shows a dead worker's delivery coming back: it is not handed
// out while the lease holds, is claimed again once it expired, and the first
// worker's late result no longer applies.
func TestClaimLeaseExpiry(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	a, b := openStore(t, dsn, schema), openStore(t, dsn, schema)
	ctx := t.Context()
	ep, ids := seed(t, a, 1)

	first, err := a.ClaimDeliveries(ctx, t0, 30*time.Second, 10)
	if err != nil || len(first) != 1 || first[0].ID != ids[0] {
		t.Fatalf("first claim = %v, %v; want the one delivery", first, err)
	}
	if again, err := b.ClaimDeliveries(ctx, t0.Add(29*time.Second), 30*time.Second, 10); err != nil || len(again) != 0 {
		t.Fatalf("claim while leased = %d deliveries, %v; want none", len(again), err)
	}
	second, err := b.ClaimDeliveries(ctx, t0.Add(31*time.Second), 30*time.Second, 10)
	if err != nil || len(second) != 1 {
		t.Fatalf("claim after expiry = %v, %v; want the delivery", second, err)
	}
	if second[0].Lease == first[0].Lease {
		t.Fatalf("second claim kept lease %d", first[0].Lease)
	}

	result := func(d *hookd.Delivery, status hookd.Status, at time.Time) hookd.AttemptResult {
		return hookd.AttemptResult{
			Delivery: d,
			Attempt: &hookd.Attempt{ID: hookd.IDGen{Now: func() time.Time { return at }}.New(hookd.PrefixAttempt),
				AppID: d.AppID, MsgID: d.MsgID, EndpointID: d.EndpointID, URL: ep.URL, Status: status, Timestamp: at},
			Status: status, NextAttempt: at, Attempts: 1,
		}
	}
	// The first worker comes back late with a failure: its attempt is logged but the
	// delivery stays with the second claim.
	if err := a.RecordAttempts(ctx, []hookd.AttemptResult{result(first[0], hookd.StatusFail, t0.Add(32*time.Second))}); err != nil {
		t.Fatal(err)
	}
	ds, err := a.MessageDeliveries(ctx, ep.AppID, first[0].MsgID, hookd.Page{Limit: 10})
	if err != nil || len(ds) != 1 {
		t.Fatalf("MessageDeliveries = %v, %v", ds, err)
	}
	if ds[0].Status != hookd.StatusSending || ds[0].Lease != second[0].Lease {
		t.Errorf("after the stale result: status %v lease %d, want sending with lease %d", ds[0].Status, ds[0].Lease, second[0].Lease)
	}
	if err := b.RecordAttempts(ctx, []hookd.AttemptResult{result(second[0], hookd.StatusSuccess, t0.Add(33*time.Second))}); err != nil {
		t.Fatal(err)
	}
	ds, err = a.MessageDeliveries(ctx, ep.AppID, first[0].MsgID, hookd.Page{Limit: 10})
	if err != nil || len(ds) != 1 || ds[0].Status != hookd.StatusSuccess {
		t.Fatalf("after the current result: %v, %v; want success", ds, err)
	}
	atts, err := a.AttemptsByMessage(ctx, ep.AppID, first[0].MsgID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
	if err != nil || len(atts) != 2 {
		t.Errorf("attempts = %d, %v; want both logged", len(atts), err)
	}
}

// TestNotifyWakesOtherNode commits work through one store and expects the other store
// (a separate pool and listener, as on another node) to be woken.
func TestNotifyWakesOtherNode(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	a, b := openStore(t, dsn, schema), openStore(t, dsn, schema)
	ep, _ := seed(t, a, 0)
	if !wokenByWork(t, a, b, ep, 3) {
		t.Fatal("the second store was never woken by NOTIFY")
	}
}

// TestNotifyAfterListenerDropped terminates the listener connections' backends: the
// store reconnects and is woken by later work again.
func TestNotifyAfterListenerDropped(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	a, b := openStore(t, dsn, schema), openStore(t, dsn, schema)
	ep, _ := seed(t, a, 0)
	if !wokenByWork(t, a, b, ep, 3) { // b's listener is up
		t.Fatal("the second store was never woken by NOTIFY")
	}
	// Every hookd listener of the database is dropped; other tests' stores reconnect
	// just the same.
	var dropped int
	err := a.Pool().QueryRow(t.Context(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE '%hookd-listener'`).Scan(&dropped)
	if err != nil {
		t.Fatal(err)
	}
	if dropped < 2 {
		t.Fatalf("terminated %d listener connections, want at least 2", dropped)
	}
	if !wokenByWork(t, a, b, ep, 10) {
		t.Fatal("the second store was never woken after its listener was dropped")
	}
}

// wokenByWork commits a message with a delivery through a and reports whether b is
// woken. A notification committed while b's listener is not (yet or again) listening
// is lost, so it tries up to tries times, draining b's channel first each time.
func wokenByWork(t *testing.T, a, b *postgres.Store, ep *hookd.Endpoint, tries int) bool {
	t.Helper()
	for range tries {
		select {
		case <-b.Wake():
		default:
		}
		gen := hookd.IDGen{Now: func() time.Time { return t0 }}
		msg := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: ep.AppID, EventType: "x", Payload: []byte(`{}`), Timestamp: t0}
		d := &hookd.Delivery{ID: gen.New(hookd.PrefixDelivery), AppID: ep.AppID, MsgID: msg.ID, EndpointID: ep.ID,
			Status: hookd.StatusPending, NextAttempt: t0, CreatedAt: t0, UpdatedAt: t0}
		if _, err := a.CreateMessage(t.Context(), msg, []*hookd.Delivery{d}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-b.Wake():
			return true
		case <-time.After(2 * time.Second):
		}
	}
	return false
}

// TestDeliveryPathPlanModeIsLocal checks that the delivery path's switch to
// PostgreSQL's default plan choice ends with its transactions: after messages are
// created (one and a batch) and their attempts recorded, the connections still force
// custom plans for the other queries, with every join method.
func TestDeliveryPathPlanModeIsLocal(t *testing.T) {
	dsn := testDSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 2, Schema: newSchema(t, dsn)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ep, ids := seed(t, s, 1) // one message created alone
	ctx := t.Context()
	gen := hookd.IDGen{Now: func() time.Time { return t0 }}
	var msgs []*hookd.Message
	for i := range 3 {
		m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: ep.AppID, EventType: "invoice.paid",
			EventID: fmt.Sprintf("evt-%d", i), Payload: []byte(fmt.Sprintf(`{"batch":%d}`, i)), Timestamp: t0}
		// An EventID and a key: the batch looks up what it skipped (queueLookupPlans).
		m.Idempotency = &hookd.IdempotentResponse{Key: fmt.Sprintf("key-%d", i), StatusCode: 202,
			ContentType: "application/json", Body: []byte(`{"id":"` + m.ID + `"}`), CreatedAt: t0}
		msgs = append(msgs, m)
	}
	ds, err := s.ClaimDeliveries(ctx, t0, time.Minute, 10)
	if err != nil || len(ds) != 1 || ds[0].ID != ids[0] {
		t.Fatalf("claim = %v, %v; want delivery %s", ds, err, ids[0])
	}
	_, errs := postgres.WriteMessages(s, ctx, msgs, make([][]*hookd.Delivery, len(msgs)))
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	att := &hookd.Attempt{ID: gen.New(hookd.PrefixAttempt), AppID: ds[0].AppID, MsgID: ds[0].MsgID,
		EndpointID: ds[0].EndpointID, URL: "https://example.com/hook", Status: hookd.StatusSuccess,
		ResponseStatusCode: 200, Timestamp: t0}
	if err := s.RecordAttempts(ctx, []hookd.AttemptResult{{Delivery: ds[0], Attempt: att, Status: hookd.StatusSuccess,
		Attempts: 1, NextAttempt: t0}}); err != nil {
		t.Fatal(err)
	}
	for range 4 { // every connection of the pool, in turn
		var mode string
		if err := s.Pool().QueryRow(ctx, `SHOW plan_cache_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if mode != "force_custom_plan" {
			t.Fatalf("plan_cache_mode after the delivery path = %q, want force_custom_plan", mode)
		}
		var hash, merge string
		if err := s.Pool().QueryRow(ctx, `SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin')`).
			Scan(&hash, &merge); err != nil {
			t.Fatal(err)
		}
		if hash != "on" || merge != "on" {
			t.Fatalf("after the delivery path enable_hashjoin = %s, enable_mergejoin = %s; want on", hash, merge)
		}
	}
}

// TestRecordPlanStaysKeyed checks the plan that recording results keeps on a
// connection: made while the deliveries' partition was nearly empty, it must still
// reach each delivery by key once the partition has grown, not scan it (a cached plan
// outlives the table size it was made for; without statistics, as without
// autovacuum, nothing replaces it).
func TestRecordPlanStaysKeyed(t *testing.T) {
	s, ep, gen := openOneConn(t)
	ctx := t.Context()
	ds, err := s.ClaimDeliveries(ctx, t0, time.Minute, 1)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim = %v, %v", ds, err)
	}
	// More executions than PostgreSQL's five custom plans, on the one connection.
	for range 7 {
		att := &hookd.Attempt{ID: gen.New(hookd.PrefixAttempt), AppID: ep.AppID, MsgID: ds[0].MsgID,
			EndpointID: ep.ID, URL: ep.URL, Status: hookd.StatusSuccess, ResponseStatusCode: 200, Timestamp: t0}
		if err := s.RecordAttempts(ctx, []hookd.AttemptResult{{Delivery: ds[0], Attempt: att,
			Status: hookd.StatusSuccess, Attempts: 1, NextAttempt: t0}}); err != nil {
			t.Fatal(err)
		}
	}
	// The partition grows.
	for range 20 {
		var msgs []*hookd.Message
		var dss [][]*hookd.Delivery
		for range 256 {
			m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: ep.AppID, EventType: "invoice.paid",
				Payload: []byte(`{}`), Timestamp: t0}
			msgs = append(msgs, m)
			dss = append(dss, []*hookd.Delivery{{ID: gen.New(hookd.PrefixDelivery), AppID: ep.AppID, MsgID: m.ID,
				EndpointID: ep.ID, Status: hookd.StatusSending, NextAttempt: t0.Add(time.Minute), CreatedAt: t0, UpdatedAt: t0}})
		}
		if _, errs := postgres.WriteMessages(s, ctx, msgs, dss); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
	}
	plan := cachedPlan(t, s, `UPDATE deliveries d SET status = r.status%`, `'{`+ds[0].MsgID+`}', '{1}', '{0}',
		'{2025-03-14 09:26:53+00}', '{1}', '{2025-03-14 09:26:53+00}', 0, '{false}', '{`+ep.ID+`}'`)
	if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash") || !strings.Contains(plan, "Index Scan") {
		t.Fatalf("the results' update scans the deliveries:\n%s", plan)
	}
}

// TestIngestLookupPlansStayKeyed checks, as TestRecordPlanStaysKeyed does for
// results, the plans an ingest batch keeps for the statements after its insert: the
// removal of the answers of messages skipped for their EventID, and the lookup of the
// earlier messages of those EventIDs, made while the tables were nearly empty, must
// still reach the rows by key once they have grown.
func TestIngestLookupPlansStayKeyed(t *testing.T) {
	s, ep, gen := openOneConn(t)
	ctx := t.Context()
	n := 0
	write := func(size int) {
		var msgs []*hookd.Message
		for range size {
			n++
			m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: ep.AppID, EventType: "invoice.paid",
				EventID: fmt.Sprintf("evt-%d", n), Payload: []byte(`{}`), Timestamp: t0}
			m.Idempotency = &hookd.IdempotentResponse{Key: fmt.Sprintf("key-%d", n), StatusCode: 202,
				ContentType: "application/json", Body: []byte(`{"id":"` + m.ID + `"}`), CreatedAt: t0}
			msgs = append(msgs, m)
		}
		if _, errs := postgres.WriteMessages(s, ctx, msgs, make([][]*hookd.Delivery, len(msgs))); errors.Join(errs...) != nil {
			t.Fatal(errors.Join(errs...))
		}
	}
	for range 7 { // more batches than PostgreSQL's five custom plans, on the one connection
		write(2)
	}
	for range 20 {
		write(256)
	}
	undo := cachedPlan(t, s, `DELETE FROM idempotent_responses i%`, `ARRAY['key-1'], ARRAY['\x'::bytea], ARRAY['msg_x']`)
	earlier := cachedPlan(t, s, `SELECT m.id, %message_event_ids e%`, `ARRAY['`+ep.AppID+`'], ARRAY['evt-1'], ARRAY['msg_x']`)
	for name, plan := range map[string]string{"answers' removal": undo, "earlier messages' lookup": earlier} {
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Hash") {
			t.Errorf("the %s scans a table:\n%s", name, plan)
		}
	}
}

// openOneConn opens a store of one connection (whose cached plans cachedPlan reads)
// on a fresh schema, seeded with one message (seed), and returns the endpoint and an
// ID generator at t0.
func openOneConn(t *testing.T) (*postgres.Store, *hookd.Endpoint, hookd.IDGen) {
	t.Helper()
	dsn := testDSN(t)
	s, err := postgres.Open(t.Context(), dsn, postgres.Options{MaxConns: 1, Schema: newSchema(t, dsn)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ep, _ := seed(t, s, 1)
	return s, ep, hookd.IDGen{Now: func() time.Time { return t0 }}
}

// cachedPlan returns the generic plan that s's one connection keeps for its prepared
// statement whose text is LIKE pattern, run with the literal arguments args.
func cachedPlan(t *testing.T, s *postgres.Store, pattern, args string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := s.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var name string
	if err := conn.QueryRow(ctx, `SELECT name FROM pg_prepared_statements WHERE statement LIKE $1`, pattern).Scan(&name); err != nil {
		t.Fatalf("no statement %q is prepared on the connection: %v", pattern, err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN EXECUTE `+pgx.Identifier{name}.Sanitize()+`(`+args+`)`, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
