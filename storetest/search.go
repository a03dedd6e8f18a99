package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// searchScene is two applications' messages with tags, channels, eventIds and
// deliveries in every final state, for the search tests.
type searchScene struct {
	a, b                   *hookd.Application
	m1, m2, m3, m4, m5     *hookd.Message
	ok, failed, retrying   *hookd.Attempt
	okOther                *hookd.Attempt
	beforeM3, afterM3, end time.Time
}

func (f *fixture) searchScene(t *testing.T) searchScene {
	var s searchScene
	s.a, s.b = f.app(), f.app()
	e1, e2, e3 := f.endpoint(s.a.ID), f.endpoint(s.a.ID), f.endpoint(s.b.ID)
	msg := func(app *hookd.Application, eps []*hookd.Endpoint, et, eventID string, tags, channels []string) *hookd.Message {
		m, _ := f.message(app.ID, eps, func(m *hookd.Message) {
			m.EventType, m.EventID, m.Tags, m.Channels = et, eventID, tags, channels
		})
		return m
	}
	s.m1 = msg(s.a, []*hookd.Endpoint{e1, e2}, "invoice.paid", "", []string{"t1", "vip"}, []string{"c1"})
	s.m2 = msg(s.a, []*hookd.Endpoint{e1}, "order.created", "", []string{"t2"}, nil)
	s.beforeM3 = f.tick()
	s.m3 = msg(s.b, []*hookd.Endpoint{e3}, "invoice.paid", "evt-x", []string{"t1"}, []string{"c1", "c2"})
	s.afterM3 = f.tick()
	s.m4 = msg(s.a, []*hookd.Endpoint{e2}, "invoice.paid", "evt-x", nil, nil)
	s.m5 = msg(s.b, nil, "order.created", "", nil, nil)
	f.tick()
	// Every delivery is claimed; the one of m4 has no result yet and stays sending.
	claimed, err := f.s.ClaimDeliveries(f.ctx, f.now, time.Minute, 10)
	must(t, err)
	var results []hookd.AttemptResult
	for _, d := range claimed {
		switch {
		case d.MsgID == s.m1.ID && d.EndpointID == e1.ID:
			r := f.result(d, hookd.StatusSuccess, 200)
			s.ok = r.Attempt
			results = append(results, r)
		case d.MsgID == s.m1.ID && d.EndpointID == e2.ID:
			r := f.result(d, hookd.StatusFail, 500)
			r.Status = hookd.StatusFail // exhausted
			s.failed = r.Attempt
			results = append(results, r)
		case d.MsgID == s.m3.ID:
			r := f.result(d, hookd.StatusFail, 503) // retried later: pending
			s.retrying = r.Attempt
			results = append(results, r)
		case d.MsgID == s.m2.ID:
			r := f.result(d, hookd.StatusSuccess, 200)
			s.okOther = r.Attempt
			results = append(results, r)
		}
	}
	must(t, f.s.RecordAttempts(f.ctx, results))
	s.end = f.tick()
	return s
}

var searchTests = []test{
	{"Messages", func(t *testing.T, f *fixture) {
		s := f.searchScene(t)
		fail, success, pending, sending := hookd.StatusFail, hookd.StatusSuccess, hookd.StatusPending, hookd.StatusSending
		cases := []struct {
			name   string
			filter hookd.MessageSearch
			want   []*hookd.Message
		}{
			{"all", hookd.MessageSearch{}, []*hookd.Message{s.m1, s.m2, s.m3, s.m4, s.m5}},
			{"app", hookd.MessageSearch{AppID: s.b.ID}, []*hookd.Message{s.m3, s.m5}},
			{"event type", hookd.MessageSearch{EventTypes: []string{"invoice.paid"}}, []*hookd.Message{s.m1, s.m3, s.m4}},
			{"event types", hookd.MessageSearch{EventTypes: []string{"invoice.paid", "order.created"}, AppID: s.b.ID}, []*hookd.Message{s.m3, s.m5}},
			{"event type and app", hookd.MessageSearch{EventTypes: []string{"order.created"}, AppID: s.a.ID}, []*hookd.Message{s.m2}},
			{"event id across apps", hookd.MessageSearch{EventID: "evt-x"}, []*hookd.Message{s.m3, s.m4}},
			{"event id in one app", hookd.MessageSearch{EventID: "evt-x", AppID: s.a.ID}, []*hookd.Message{s.m4}},
			{"tag", hookd.MessageSearch{Tag: "t1"}, []*hookd.Message{s.m1, s.m3}},
			{"tag and app", hookd.MessageSearch{Tag: "t1", AppID: s.b.ID}, []*hookd.Message{s.m3}},
			{"tag and event type", hookd.MessageSearch{Tag: "t2", EventTypes: []string{"invoice.paid"}}, nil},
			{"unknown tag", hookd.MessageSearch{Tag: "nope"}, nil},
			{"channel", hookd.MessageSearch{Channel: "c1"}, []*hookd.Message{s.m1, s.m3}},
			{"channel and tag", hookd.MessageSearch{Channel: "c2", Tag: "t1"}, []*hookd.Message{s.m3}},
			{"failed delivery, once per message", hookd.MessageSearch{Status: &fail}, []*hookd.Message{s.m1}},
			{"failed delivery and app", hookd.MessageSearch{Status: &fail, AppID: s.b.ID}, nil},
			{"successful delivery", hookd.MessageSearch{Status: &success}, []*hookd.Message{s.m1, s.m2}},
			{"pending delivery", hookd.MessageSearch{Status: &pending}, []*hookd.Message{s.m3}},
			{"delivery being sent", hookd.MessageSearch{Status: &sending}, []*hookd.Message{s.m4}},
			{"pending delivery and tag", hookd.MessageSearch{Status: &pending, Tag: "t1"}, []*hookd.Message{s.m3}},
			{"after, exclusive", hookd.MessageSearch{After: s.m3.Timestamp}, []*hookd.Message{s.m4, s.m5}},
			{"before, exclusive", hookd.MessageSearch{Before: s.m3.Timestamp}, []*hookd.Message{s.m1, s.m2}},
			{"window", hookd.MessageSearch{After: s.beforeM3, Before: s.afterM3}, []*hookd.Message{s.m3}},
			{"window and tag", hookd.MessageSearch{After: s.beforeM3, Tag: "t1"}, []*hookd.Message{s.m3}},
			{"window and failed", hookd.MessageSearch{After: s.beforeM3, Status: &fail}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want := ids(tc.want, messageID)
				slices.Sort(want)
				checkPaging(t, want, func(p hookd.Page) ([]string, error) {
					ms, err := f.s.SearchMessages(f.ctx, tc.filter, p)
					return ids(ms, messageID), err
				})
			})
		}
		// The rows are whole messages.
		ms, err := f.s.SearchMessages(f.ctx, hookd.MessageSearch{Tag: "vip"}, hookd.Page{Limit: 10})
		must(t, err)
		if len(ms) != 1 || string(ms[0].Payload) != string(s.m1.Payload) || !equalStrings(ms[0].Tags, s.m1.Tags) ||
			!equalStrings(ms[0].Channels, s.m1.Channels) || !ms[0].Timestamp.Equal(s.m1.Timestamp) || ms[0].AppID != s.a.ID {
			t.Errorf("search by tag vip = %+v, want %+v", ms, s.m1)
		}
	}},
	{"DeletedAppLeavesNoTags", func(t *testing.T, f *fixture) {
		s := f.searchScene(t)
		must(t, f.s.DeleteApp(f.ctx, s.b.ID))
		for _, filter := range []hookd.MessageSearch{{Tag: "t1"}, {Channel: "c1"}} {
			ms, err := f.s.SearchMessages(f.ctx, filter, hookd.Page{Limit: 10})
			must(t, err)
			if got := ids(ms, messageID); !equalStrings(got, []string{s.m1.ID}) {
				t.Errorf("%+v after deleting app b = %v, want [%s]", filter, got, s.m1.ID)
			}
		}
	}},
	{"Attempts", func(t *testing.T, f *fixture) {
		s := f.searchScene(t)
		code := func(c int) *int { return &c }
		fail := hookd.StatusFail
		cases := []struct {
			name   string
			filter hookd.AttemptSearch
			want   []*hookd.Attempt
		}{
			{"all", hookd.AttemptSearch{}, []*hookd.Attempt{s.ok, s.failed, s.retrying, s.okOther}},
			{"status code", hookd.AttemptSearch{StatusCode: code(200)}, []*hookd.Attempt{s.ok, s.okOther}},
			{"status code and app", hookd.AttemptSearch{StatusCode: code(503), AppID: s.a.ID}, nil},
			{"status code of another app", hookd.AttemptSearch{StatusCode: code(503), AppID: s.b.ID}, []*hookd.Attempt{s.retrying}},
			{"no response", hookd.AttemptSearch{StatusCode: code(0)}, nil},
			{"status", hookd.AttemptSearch{Status: &fail}, []*hookd.Attempt{s.failed, s.retrying}},
			{"endpoint", hookd.AttemptSearch{EndpointID: s.ok.EndpointID}, []*hookd.Attempt{s.ok, s.okOther}},
			{"after, exclusive", hookd.AttemptSearch{After: s.failed.Timestamp}, []*hookd.Attempt{s.retrying, s.okOther}},
			{"before, exclusive", hookd.AttemptSearch{Before: s.failed.Timestamp}, []*hookd.Attempt{s.ok}},
			{"window and code", hookd.AttemptSearch{After: s.ok.Timestamp, Before: s.end, StatusCode: code(200)}, []*hookd.Attempt{s.okOther}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want := ids(tc.want, attemptID)
				slices.Sort(want)
				checkPaging(t, want, func(p hookd.Page) ([]string, error) {
					as, err := f.s.SearchAttempts(f.ctx, tc.filter, p)
					return ids(as, attemptID), err
				})
			})
		}
	}},
}

var expungeTests = []test{
	{"ExpungeMessageContents", func(t *testing.T, f *fixture) {
		s := f.searchScene(t)
		answer := func(key, msgID string) {
			_, err := f.s.SaveIdempotentResponse(f.ctx, &hookd.IdempotentResponse{Key: key, StatusCode: 202,
				ContentType: "application/json", Body: []byte(`{"id":"` + msgID + `","payload":{"secret":1}}`), CreatedAt: f.now})
			must(t, err)
		}
		answer("k1", s.m1.ID)
		answer("k2", s.m2.ID)
		found, err := f.s.ExpungeMessageContents(f.ctx, s.a.ID, []string{s.m1.ID, s.m3.ID, "msg_missing"})
		must(t, err)
		if !equalStrings(found, []string{s.m1.ID}) {
			t.Errorf("found %v, want [%s] (m3 is of another application)", found, s.m1.ID)
		}
		// Once more: the same outcome, nothing else changed.
		found, err = f.s.ExpungeMessageContents(f.ctx, s.a.ID, []string{s.m1.ID})
		must(t, err)
		if !equalStrings(found, []string{s.m1.ID}) {
			t.Errorf("again: found %v", found)
		}
		for _, c := range []struct {
			m      *hookd.Message
			app    string
			erased bool
		}{{s.m1, s.a.ID, true}, {s.m2, s.a.ID, false}, {s.m3, s.b.ID, false}} {
			got, err := f.s.Message(f.ctx, c.app, c.m.ID)
			must(t, err)
			if erased := string(got.Payload) == "{}"; erased != c.erased || got.EventType != c.m.EventType || !equalStrings(got.Tags, c.m.Tags) {
				t.Errorf("message %s after the expunge: %+v, want erased %v and the rest kept", c.m.ID, got, c.erased)
			}
			as, err := f.s.AttemptsByMessage(f.ctx, c.app, c.m.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
			must(t, err)
			for _, a := range as {
				if (a.Response == "") != c.erased || a.ResponseStatusCode == 0 {
					t.Errorf("attempt %s of %s: response %q, code %d (erased %v)", a.ID, c.m.ID, a.Response, a.ResponseStatusCode, c.erased)
				}
			}
		}
		_, err = f.s.IdempotentResponse(f.ctx, "k1")
		wantCode(t, err, hookd.ENOTFOUND)
		if _, err := f.s.IdempotentResponse(f.ctx, "k2"); err != nil {
			t.Errorf("the answer holding another message is gone: %v", err)
		}
		must(t, f.s.ExpungeMessageContent(f.ctx, s.a.ID, s.m2.ID))
		_, err = f.s.IdempotentResponse(f.ctx, "k2")
		wantCode(t, err, hookd.ENOTFOUND)
		wantCode(t, f.s.ExpungeMessageContent(f.ctx, s.b.ID, s.m1.ID), hookd.ENOTFOUND)
		must(t, f.s.ReclaimExpunged(f.ctx, false))
		must(t, f.s.ReclaimExpunged(f.ctx, true))
		if got, err := f.s.Message(f.ctx, s.b.ID, s.m3.ID); err != nil || string(got.Payload) != string(s.m3.Payload) {
			t.Errorf("m3 after reclaiming: %+v, %v", got, err)
		}
	}},
}
