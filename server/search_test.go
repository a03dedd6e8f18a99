package server_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// searchOut is a page of GET /api/v1/search/msg or /api/v1/search/attempt.
type searchOut struct {
	Data []struct {
		ID                 string `json:"id"`
		AppID              string `json:"appId"`
		MsgID              string `json:"msgId"`
		ResponseStatusCode int    `json:"responseStatusCode"`
	} `json:"data"`
	Done bool `json:"done"`
}

func (ts *testServer) search(t *testing.T, what string, q url.Values) searchOut {
	t.Helper()
	code, b := ts.raw(t, "GET", "/api/v1/search/"+what+"?"+q.Encode(), "")
	if code != http.StatusOK {
		t.Fatalf("search %s %s: %d %s", what, q.Encode(), code, b)
	}
	var out searchOut
	decodeJSON(t, b, &out)
	return out
}

func (o searchOut) ids() []string {
	var out []string
	for _, d := range o.Data {
		out = append(out, d.ID)
	}
	return out
}

// TestSearch searches the messages and attempts of two applications through the API.
func TestSearch(t *testing.T) {
	ts, rc := startWithEndpoint(t)
	if _, err := ts.client.Application.Create(t.Context(), svix.ApplicationIn{Name: "Other", Uid: ptr("other")}, nil); err != nil {
		t.Fatal(err)
	}
	m1 := ts.sendRaw(t, "acme", `{"eventType":"invoice.paid","eventId":"inv-1","payload":{},"tags":["cust-1"],"channels":["eu"]}`)
	m2 := ts.sendRaw(t, "other", `{"eventType":"invoice.paid","payload":{},"tags":["cust-1"]}`)
	m3 := ts.sendRaw(t, "acme", `{"eventType":"order.created","payload":{},"tags":["cust-2"]}`)
	rc.waitCounts(t, map[string]int{m1: 1, m3: 1})
	// The receiver answered both; the attempts are logged once the answers are.
	for i := 0; len(ts.search(t, "attempt", url.Values{"statusCode": {"200"}}).Data) < 2; i++ {
		if i == 200 {
			t.Fatal("the two attempts are not logged after 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	cases := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"all", url.Values{}, []string{m3, m2, m1}},
		{"tag", url.Values{"tag": {"cust-1"}}, []string{m2, m1}},
		{"tag in one app by uid", url.Values{"tag": {"cust-1"}, "appId": {"other"}}, []string{m2}},
		{"event type", url.Values{"eventType": {"invoice.paid"}}, []string{m2, m1}},
		{"event types", url.Values{"eventType": {"invoice.paid,order.created"}, "appId": {"acme"}}, []string{m3, m1}},
		{"event id", url.Values{"eventId": {"inv-1"}}, []string{m1}},
		{"channel", url.Values{"channel": {"eu"}}, []string{m1}},
		{"delivered", url.Values{"status": {"0"}}, []string{m3, m1}},
		{"failed", url.Values{"status": {"2"}}, nil},
		{"ascending, one per page", url.Values{"order": {"ascending"}, "limit": {"1"}}, []string{min(m1, m2, m3)}},
		{"nothing after now", url.Values{"after": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Lists are in ID order, newest first: IDs made in one millisecond sort
			// at random, so the order is taken from the IDs.
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if tc.q.Get("order") == "" {
				slices.Reverse(want)
			}
			out := ts.search(t, "msg", tc.q)
			if got := out.ids(); !slices.Equal(got, want) {
				t.Errorf("search %s = %v, want %v", tc.q.Encode(), got, want)
			}
		})
	}
	t.Run("app of each message", func(t *testing.T) {
		apps := map[string]string{}
		for uid, msg := range map[string]string{"acme": m1, "other": m2} {
			a, err := ts.client.Application.Get(t.Context(), uid)
			if err != nil {
				t.Fatal(err)
			}
			apps[msg] = a.Id
		}
		for _, d := range ts.search(t, "msg", url.Values{"tag": {"cust-1"}}).Data {
			if d.AppID != apps[d.ID] {
				t.Errorf("message %s has appId %q, want %q", d.ID, d.AppID, apps[d.ID])
			}
		}
	})
	t.Run("attempts", func(t *testing.T) {
		out := ts.search(t, "attempt", url.Values{"statusCode": {"200"}})
		var msgs []string
		for _, d := range out.Data {
			msgs = append(msgs, d.MsgID)
			if d.ResponseStatusCode != 200 || d.AppID == "" {
				t.Errorf("attempt %+v", d)
			}
		}
		slices.Sort(msgs)
		if !slices.Equal(msgs, []string{min(m1, m3), max(m1, m3)}) {
			t.Errorf("attempts with 200 are of %v, want [%s %s]", msgs, m3, m1)
		}
		if out := ts.search(t, "attempt", url.Values{"statusCode": {"500"}}); len(out.Data) != 0 {
			t.Errorf("attempts with 500: %+v", out.Data)
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		for _, q := range []string{"msg?status=9", "msg?after=yesterday", "attempt?statusCode=abc", "attempt?statusCode=700", "msg?appId=nope"} {
			code, b := ts.raw(t, "GET", "/api/v1/search/"+q, "")
			if code < 400 || code > 499 {
				t.Errorf("GET /api/v1/search/%s: %d %s, want a 4xx", q, code, b)
			}
		}
	})
}
