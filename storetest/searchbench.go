package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// SearchData is the shape of the search benchmark's store: Attempts attempts, one per
// delivery, of Attempts/SearchFanout messages spread over SearchSpan before End, in
// SearchApps applications of SearchFanout endpoints each. It is generated from a fixed
// seed, so a store filled once can be benchmarked again without its IDs being kept.
type SearchData struct {
	Attempts int
	End      time.Time
}

// Shape of the search benchmark's data.
const (
	SearchApps   = 10
	SearchFanout = 5
	SearchSpan   = 30 * 24 * time.Hour
	// searchTypes common event types share the messages; one message in
	// searchRareEvery has the event type "rare.event" instead.
	searchTypes     = 20
	searchRareEvery = 10_000
	// Every message has the tag tag-(i%1000) and cust-(i%searchCustomers); half have
	// the channel ch-(i%10).
	searchCustomers = 100_000
	// The newest searchPendingShare of the messages are still being delivered.
	searchPendingShare = 0.005
)

// SearchRows are the rows of one message as the benchmark writes them.
type SearchRows struct {
	Message    *hookd.Message
	Deliveries []*hookd.Delivery
	Attempts   []*hookd.Attempt
}

// searchSetup are the IDs of the benchmark's applications and endpoints.
type searchSetup struct {
	apps []string
	eps  [][]string
}

func (d SearchData) messages() int { return d.Attempts / SearchFanout }

func (d SearchData) start() time.Time { return d.End.Add(-SearchSpan) }

func (d SearchData) msgTime(i int) time.Time {
	return d.start().Add(time.Duration(int64(SearchSpan) / int64(d.messages()) * int64(i)))
}

// seededReader is a deterministic source of ID randomness.
type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func (d SearchData) setup() searchSetup {
	rnd := seededReader{rand.NewChaCha8([32]byte{1})}
	var out searchSetup
	for a := range SearchApps {
		gen := hookd.IDGen{Now: func() time.Time { return d.start().Add(-time.Hour) }, Rand: rnd}
		out.apps = append(out.apps, gen.New(hookd.PrefixApp))
		var eps []string
		for range SearchFanout {
			eps = append(eps, gen.New(hookd.PrefixEndpoint))
		}
		out.eps = append(out.eps, eps)
		_ = a
	}
	return out
}

// Setup returns the benchmark's applications and endpoints, to be created before the
// rows of Generate.
func (d SearchData) Setup() ([]*hookd.Application, []*hookd.Endpoint) {
	st := d.setup()
	at := d.start().Add(-time.Hour)
	var apps []*hookd.Application
	var eps []*hookd.Endpoint
	for a, id := range st.apps {
		apps = append(apps, &hookd.Application{ID: id, Name: fmt.Sprint("search-", a), CreatedAt: at, UpdatedAt: at})
		for e, eid := range st.eps[a] {
			eps = append(eps, &hookd.Endpoint{ID: eid, AppID: id, URL: fmt.Sprintf("https://e%d.example.com/hook", e),
				Secrets: []hookd.Secret{{Key: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, CreatedAt: at, UpdatedAt: at})
		}
	}
	return apps, eps
}

// attemptCode is the status code of the attempt of delivery (i, e), and its status.
func attemptCode(r *rand.Rand, i, n int) (int, hookd.Status, hookd.Status) {
	if i >= n-int(float64(n)*searchPendingShare) {
		return 503, hookd.StatusFail, hookd.StatusPending
	}
	x := r.IntN(100_000)
	switch {
	case x == 0:
		return 418, hookd.StatusFail, hookd.StatusFail
	case x < 8_000:
		switch x % 10 {
		case 0, 1, 2, 3, 4, 5:
			return 500, hookd.StatusFail, hookd.StatusFail
		case 6, 7:
			return 503, hookd.StatusFail, hookd.StatusFail
		case 8:
			return 404, hookd.StatusFail, hookd.StatusFail
		default:
			return 0, hookd.StatusFail, hookd.StatusFail
		}
	case x < 12_000:
		return 204, hookd.StatusSuccess, hookd.StatusSuccess
	default:
		return 200, hookd.StatusSuccess, hookd.StatusSuccess
	}
}

// Generate calls emit with the rows of every message, oldest first.
func (d SearchData) Generate(emit func(SearchRows) error) error {
	st := d.setup()
	n := d.messages()
	r := rand.New(rand.NewPCG(2, 3))
	ids := seededReader{rand.NewChaCha8([32]byte{4})}
	for i := range n {
		at := d.msgTime(i)
		a := i % SearchApps
		gen := hookd.IDGen{Now: func() time.Time { return at }, Rand: ids}
		et := fmt.Sprint("type.", i%searchTypes)
		if i%searchRareEvery == searchRareEvery/2 {
			et = "rare.event"
		}
		m := &hookd.Message{ID: gen.New(hookd.PrefixMessage), AppID: st.apps[a], EventType: et,
			EventID: fmt.Sprint("evt-", i), Payload: []byte(fmt.Sprintf(`{"order":%d,"amount":4200,"currency":"EUR"}`, i)),
			Tags: []string{fmt.Sprint("tag-", i%1000), fmt.Sprint("cust-", i%searchCustomers)}, Timestamp: at}
		if i%2 == 0 {
			m.Channels = []string{fmt.Sprint("ch-", i%10)}
		}
		rows := SearchRows{Message: m}
		for e, ep := range st.eps[a] {
			code, ast, dst := attemptCode(r, i, n)
			tried := at.Add(150*time.Millisecond + time.Duration(e)*time.Millisecond)
			agen := hookd.IDGen{Now: func() time.Time { return tried }, Rand: ids}
			next := tried
			if dst == hookd.StatusPending {
				next = tried.Add(5 * time.Minute)
			}
			rows.Deliveries = append(rows.Deliveries, &hookd.Delivery{ID: gen.New(hookd.PrefixDelivery), AppID: m.AppID,
				MsgID: m.ID, EndpointID: ep, Status: dst, Attempts: 1, NextAttempt: next, CreatedAt: at, UpdatedAt: tried})
			resp := `{"ok":true}`
			if ast == hookd.StatusFail {
				resp = "upstream unavailable"
			}
			att := &hookd.Attempt{ID: agen.New(hookd.PrefixAttempt), AppID: m.AppID, MsgID: m.ID, EndpointID: ep,
				URL: fmt.Sprintf("https://e%d.example.com/hook", e), Status: ast, ResponseStatusCode: code,
				Response: resp, Duration: 40 * time.Millisecond, Timestamp: tried}
			if code == 0 {
				att.Response, att.Error = "", "connection refused"
			}
			rows.Attempts = append(rows.Attempts, att)
		}
		if err := emit(rows); err != nil {
			return err
		}
	}
	return nil
}

// SearchQuery is one search the benchmark measures.
type SearchQuery struct {
	Name    string
	Message *hookd.MessageSearch
	Attempt *hookd.AttemptSearch
	// Want is the least number of results the query must find on the benchmark's data
	// (a page holds at most 50).
	Want int
}

// SearchQueries are the searches the benchmark runs on d.
func (d SearchData) SearchQueries() []SearchQuery {
	st := d.setup()
	n := d.messages()
	mid := d.msgTime(n / 2)
	fail, success, pending := hookd.StatusFail, hookd.StatusSuccess, hookd.StatusPending
	code := func(c int) *int { return &c }
	page := min(50, n/searchRareEvery)
	// want is the least a page holds when expect results match.
	want := func(expect int) int { return min(50, expect*8/10) }
	return []SearchQuery{
		{Name: "msg/latest", Message: &hookd.MessageSearch{}, Want: 50},
		{Name: "msg/app", Message: &hookd.MessageSearch{AppID: st.apps[3]}, Want: 50},
		{Name: "msg/event_type", Message: &hookd.MessageSearch{EventTypes: []string{"type.3"}}, Want: 50},
		{Name: "msg/event_type_rare", Message: &hookd.MessageSearch{EventTypes: []string{"rare.event"}}, Want: page},
		{Name: "msg/event_type_unknown", Message: &hookd.MessageSearch{EventTypes: []string{"no.such.type"}}},
		{Name: "msg/event_type+app", Message: &hookd.MessageSearch{AppID: st.apps[3], EventTypes: []string{"type.3"}}, Want: 50},
		{Name: "msg/event_type+time", Message: &hookd.MessageSearch{EventTypes: []string{"type.3"}, After: mid.Add(-24 * time.Hour), Before: mid}, Want: want(n / 30 / searchTypes)},
		{Name: "msg/event_id", Message: &hookd.MessageSearch{EventID: fmt.Sprint("evt-", n/2)}, Want: 1},
		{Name: "msg/tag", Message: &hookd.MessageSearch{Tag: "tag-7"}, Want: want(n / 1000)},
		{Name: "msg/tag_rare", Message: &hookd.MessageSearch{Tag: "cust-1234"}, Want: min(50, n/searchCustomers)},
		{Name: "msg/tag_unknown", Message: &hookd.MessageSearch{Tag: "no-such-tag"}},
		{Name: "msg/tag+app", Message: &hookd.MessageSearch{AppID: st.apps[7], Tag: "tag-7"}, Want: want(n / 1000)},
		{Name: "msg/channel", Message: &hookd.MessageSearch{Channel: "ch-4"}, Want: 50},
		{Name: "msg/status_fail", Message: &hookd.MessageSearch{Status: &fail}, Want: 50},
		{Name: "msg/status_success", Message: &hookd.MessageSearch{Status: &success}, Want: 50},
		{Name: "msg/status_pending", Message: &hookd.MessageSearch{Status: &pending}, Want: 50},
		{Name: "msg/status_fail+event_type_rare", Message: &hookd.MessageSearch{Status: &fail, EventTypes: []string{"rare.event"}}},
		{Name: "msg/time", Message: &hookd.MessageSearch{After: mid.Add(-time.Hour), Before: mid}, Want: want(n / 720)},
		{Name: "attempt/latest", Attempt: &hookd.AttemptSearch{}, Want: 50},
		{Name: "attempt/status_code", Attempt: &hookd.AttemptSearch{StatusCode: code(500)}, Want: 50},
		{Name: "attempt/status_code_rare", Attempt: &hookd.AttemptSearch{StatusCode: code(418)}, Want: min(50, d.Attempts/200_000)},
		{Name: "attempt/status_code_unknown", Attempt: &hookd.AttemptSearch{StatusCode: code(451)}},
		{Name: "attempt/no_response", Attempt: &hookd.AttemptSearch{StatusCode: code(0)}, Want: 50},
		{Name: "attempt/status_fail", Attempt: &hookd.AttemptSearch{Status: &fail}, Want: 50},
		{Name: "attempt/time", Attempt: &hookd.AttemptSearch{After: mid.Add(-time.Hour), Before: mid}, Want: 50},
		{Name: "attempt/status_code+time", Attempt: &hookd.AttemptSearch{StatusCode: code(503), After: mid.Add(-24 * time.Hour), Before: mid}, Want: want(d.Attempts / 30 / 100)},
		{Name: "attempt/status_code+app", Attempt: &hookd.AttemptSearch{AppID: st.apps[2], StatusCode: code(500)}, Want: 50},
	}
}

// BenchSearch measures each of d's searches on s (filled with d's rows), one page of
// 50 each; it fails a query that finds fewer results than it should.
func BenchSearch(b *testing.B, s hookd.SearchStore, d SearchData) {
	ctx := context.Background()
	page := hookd.Page{Limit: 50}
	for _, q := range d.SearchQueries() {
		b.Run(q.Name, func(b *testing.B) {
			var got int
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				var err error
				if q.Message != nil {
					var ms []*hookd.Message
					ms, err = s.SearchMessages(ctx, *q.Message, page)
					got = len(ms)
				} else {
					var as []*hookd.Attempt
					as, err = s.SearchAttempts(ctx, *q.Attempt, page)
					got = len(as)
				}
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
			}
			if got < q.Want {
				b.Errorf("%s found %d, want at least %d", q.Name, got, q.Want)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms/median")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms/p99")
		})
	}
}
