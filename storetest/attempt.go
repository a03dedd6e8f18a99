package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

// attemptSet is a message log made by makeAttempts.
type attemptSet struct {
	app          *hookd.Application
	e1, e2       *hookd.Endpoint
	m1, m2       *hookd.Message
	ok, fail, no *hookd.Attempt // m1→e1 200, m1→e2 500, m2→e1 no response
	redirect     *hookd.Attempt // m2→e2 302, the newest
}

// makeAttempts records four attempts in timestamp (and ID) order.
func (f *fixture) makeAttempts() *attemptSet {
	f.t.Helper()
	a := f.app()
	s := &attemptSet{app: a, e1: f.endpoint(a.ID), e2: f.endpoint(a.ID)}
	s.m1, _ = f.message(a.ID, []*hookd.Endpoint{s.e1, s.e2}, func(m *hookd.Message) {
		m.EventType, m.Channels = "invoice.paid", []string{"eu"}
	})
	s.m2, _ = f.message(a.ID, []*hookd.Endpoint{s.e1, s.e2}, func(m *hookd.Message) {
		m.EventType = "user.created"
	})
	f.now = f.now.Add(time.Second)
	claimed := f.claim(f.now, 10)
	find := func(m *hookd.Message, e *hookd.Endpoint) *hookd.Delivery {
		for _, d := range claimed {
			if d.MsgID == m.ID && d.EndpointID == e.ID {
				return d
			}
		}
		f.t.Fatalf("delivery of %s to %s not claimed", m.ID, e.ID)
		return nil
	}
	record := func(d *hookd.Delivery, status hookd.Status, code int) *hookd.Attempt {
		f.now = f.now.Add(time.Second)
		r := f.result(d, status, code)
		if code == 0 {
			r.Attempt.Response, r.Attempt.Error = "", "connection refused"
		}
		if err := f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}); err != nil {
			f.t.Fatalf("RecordAttempts: %v", err)
		}
		return r.Attempt
	}
	s.ok = record(find(s.m1, s.e1), hookd.StatusSuccess, 200)
	s.fail = record(find(s.m1, s.e2), hookd.StatusFail, 500)
	s.no = record(find(s.m2, s.e1), hookd.StatusFail, 0)
	s.redirect = record(find(s.m2, s.e2), hookd.StatusFail, 302)
	return s
}

var attemptTests = []test{
	{"Headers", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		for _, at := range []*hookd.Attempt{s.ok, s.no} {
			got, err := f.s.Attempt(f.ctx, s.app.ID, at.MsgID, at.ID)
			must(t, err)
			if got.Headers != nil {
				t.Errorf("attempt recorded without headers reads back %+v", got.Headers)
			}
		}
		m, _ := f.message(s.app.ID, []*hookd.Endpoint{s.e1})
		f.now = f.now.Add(time.Second)
		var d *hookd.Delivery
		for _, c := range f.claim(f.now, 10) {
			if c.MsgID == m.ID {
				d = c
			}
		}
		if d == nil {
			t.Fatal("new message's delivery not claimed")
		}
		r := f.result(d, hookd.StatusSuccess, 200)
		want := &hookd.AttemptHeaders{
			Sent:      map[string]string{"webhook-id": d.MsgID, "X-Api-Key": hookd.RedactedValue, "quote": `a"b\\c ü`},
			Sensitive: []string{"X-Api-Key"},
			Response:  [][2]string{{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}},
		}
		r.Attempt.Headers = want
		must(t, f.s.RecordAttempts(f.ctx, []hookd.AttemptResult{r}))
		got, err := f.s.Attempt(f.ctx, s.app.ID, d.MsgID, r.Attempt.ID)
		must(t, err)
		if !reflect.DeepEqual(got.Headers, want) {
			t.Errorf("Headers = %+v, want %+v", got.Headers, want)
		}
	}},
	{"Get", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		got, err := f.s.Attempt(f.ctx, s.app.ID, s.m2.ID, s.no.ID)
		must(t, err)
		if !reflect.DeepEqual(got, s.no) {
			t.Errorf("Attempt =\n%+v, want\n%+v", got, s.no)
		}
		_, err = f.s.Attempt(f.ctx, s.app.ID, s.m1.ID, s.no.ID) // wrong message
		wantCode(t, err, hookd.ENOTFOUND)
		_, err = f.s.Attempt(f.ctx, s.app.ID, s.m1.ID, "atmpt_missing")
		wantCode(t, err, hookd.ENOTFOUND)
		if msg := hookd.ErrorMessage(err); msg != "attempt not found" {
			t.Errorf("message = %q, want %q", msg, "attempt not found")
		}
	}},
	{"TenantIsolation", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		b := f.app()
		_, err := f.s.Attempt(f.ctx, b.ID, s.m1.ID, s.ok.ID)
		wantCode(t, err, hookd.ENOTFOUND)
		l, err := f.s.AttemptsByMessage(f.ctx, b.ID, s.m1.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		l2, err := f.s.AttemptsByEndpoint(f.ctx, b.ID, s.e1.ID, hookd.AttemptFilter{}, hookd.Page{Limit: 10})
		must(t, err)
		if len(l) != 0 || len(l2) != 0 {
			t.Errorf("app B sees %d/%d attempts of app A", len(l), len(l2))
		}
		wantCode(t, f.s.ExpungeAttemptContent(f.ctx, b.ID, s.m1.ID, s.ok.ID), hookd.ENOTFOUND)
	}},
	{"ByMessage", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		checkPaging(t, []string{s.ok.ID, s.fail.ID}, func(p hookd.Page) ([]string, error) {
			l, err := f.s.AttemptsByMessage(f.ctx, s.app.ID, s.m1.ID, hookd.AttemptFilter{}, p)
			return ids(l, attemptID), err
		})
		cases := []struct {
			name   string
			msg    *hookd.Message
			filter hookd.AttemptFilter
			want   []*hookd.Attempt
		}{
			{"status success", s.m1, hookd.AttemptFilter{Status: statusPtr(hookd.StatusSuccess)}, []*hookd.Attempt{s.ok}},
			{"status fail", s.m1, hookd.AttemptFilter{Status: statusPtr(hookd.StatusFail)}, []*hookd.Attempt{s.fail}},
			{"class 500", s.m1, hookd.AttemptFilter{StatusCodeClass: 500}, []*hookd.Attempt{s.fail}},
			{"class 300", s.m2, hookd.AttemptFilter{StatusCodeClass: 300}, []*hookd.Attempt{s.redirect}},
			{"no response", s.m2, hookd.AttemptFilter{NoResponse: true}, []*hookd.Attempt{s.no}},
			{"endpoint", s.m2, hookd.AttemptFilter{EndpointID: s.e2.ID}, []*hookd.Attempt{s.redirect}},
			{"event type match", s.m1, hookd.AttemptFilter{EventTypes: []string{"invoice.paid"}}, []*hookd.Attempt{s.ok, s.fail}},
			{"event type no match", s.m1, hookd.AttemptFilter{EventTypes: []string{"user.created"}}, nil},
			{"channel", s.m1, hookd.AttemptFilter{Channel: "eu"}, []*hookd.Attempt{s.ok, s.fail}},
			{"channel no match", s.m2, hookd.AttemptFilter{Channel: "eu"}, nil},
			{"before is exclusive", s.m1, hookd.AttemptFilter{Before: s.fail.Timestamp}, []*hookd.Attempt{s.ok}},
			{"after is exclusive", s.m1, hookd.AttemptFilter{After: s.ok.Timestamp}, []*hookd.Attempt{s.fail}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				l, err := f.s.AttemptsByMessage(f.ctx, s.app.ID, tc.msg.ID, tc.filter, hookd.Page{Limit: 10, Ascending: true})
				must(t, err)
				if got, want := ids(l, attemptID), ids(tc.want, attemptID); !equalStrings(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			})
		}
	}},
	{"ByEndpoint", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		checkPaging(t, []string{s.fail.ID, s.redirect.ID}, func(p hookd.Page) ([]string, error) {
			l, err := f.s.AttemptsByEndpoint(f.ctx, s.app.ID, s.e2.ID, hookd.AttemptFilter{}, p)
			return ids(l, attemptID), err
		})
		cases := []struct {
			name   string
			filter hookd.AttemptFilter
			want   []*hookd.Attempt
		}{
			{"all", hookd.AttemptFilter{}, []*hookd.Attempt{s.ok, s.no}},
			{"status", hookd.AttemptFilter{Status: statusPtr(hookd.StatusFail)}, []*hookd.Attempt{s.no}},
			{"class 200", hookd.AttemptFilter{StatusCodeClass: 200}, []*hookd.Attempt{s.ok}},
			{"no response", hookd.AttemptFilter{NoResponse: true}, []*hookd.Attempt{s.no}},
			{"event type", hookd.AttemptFilter{EventTypes: []string{"user.created"}}, []*hookd.Attempt{s.no}},
			{"channel", hookd.AttemptFilter{Channel: "eu"}, []*hookd.Attempt{s.ok}},
			{"after", hookd.AttemptFilter{After: s.ok.Timestamp}, []*hookd.Attempt{s.no}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				l, err := f.s.AttemptsByEndpoint(f.ctx, s.app.ID, s.e1.ID, tc.filter, hookd.Page{Limit: 10, Ascending: true})
				must(t, err)
				if got, want := ids(l, attemptID), ids(tc.want, attemptID); !equalStrings(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			})
		}
	}},
	{"ExpungeContent", func(t *testing.T, f *fixture) {
		s := f.makeAttempts()
		must(t, f.s.ExpungeAttemptContent(f.ctx, s.app.ID, s.m1.ID, s.ok.ID))
		got, err := f.s.Attempt(f.ctx, s.app.ID, s.m1.ID, s.ok.ID)
		must(t, err)
		if got.Response != "" {
			t.Errorf("response after expunge = %q", got.Response)
		}
		want := *s.ok
		want.Response = ""
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("expunge changed more than the response: %+v", got)
		}
		other, err := f.s.Attempt(f.ctx, s.app.ID, s.m1.ID, s.fail.ID)
		must(t, err)
		if other.Response == "" {
			t.Error("expunge cleared another attempt")
		}
		wantCode(t, f.s.ExpungeAttemptContent(f.ctx, s.app.ID, s.m1.ID, "atmpt_missing"), hookd.ENOTFOUND)
	}},
	{"SurviveEndpointDelete", func(t *testing.T, f *fixture) {
		// The attempt log stays readable after its endpoint is deleted.
		s := f.makeAttempts()
		must(t, f.s.DeleteEndpoint(f.ctx, s.app.ID, s.e1.ID))
		if _, err := f.s.Attempt(f.ctx, s.app.ID, s.m1.ID, s.ok.ID); err != nil {
			t.Errorf("attempt after endpoint delete: %v", err)
		}
	}},
}
