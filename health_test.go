package hookd_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func TestEndpointHealth(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	at := func(ep string, s hookd.Status, minute int) *hookd.Attempt {
		return &hookd.Attempt{EndpointID: ep, Status: s, Timestamp: t0.Add(time.Duration(minute) * time.Minute)}
	}
	ok, fail := hookd.StatusSuccess, hookd.StatusFail
	tests := []struct {
		name     string
		attempts []*hookd.Attempt
		want     []hookd.HealthChange
	}{
		{"none", nil, []hookd.HealthChange{}},
		{"one success", []*hookd.Attempt{at("ep_a", ok, 1)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Healthy: true}}},
		{"failures keep the first", []*hookd.Attempt{at("ep_a", fail, 1), at("ep_a", fail, 2)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Since: t0.Add(time.Minute)}}},
		{"failure then success", []*hookd.Attempt{at("ep_a", fail, 1), at("ep_a", ok, 2)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Healthy: true}}},
		{"success then failure", []*hookd.Attempt{at("ep_a", ok, 1), at("ep_a", fail, 2), at("ep_a", fail, 3)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Since: t0.Add(2 * time.Minute), Reset: true}}},
		{"failure, success, failure", []*hookd.Attempt{at("ep_a", fail, 1), at("ep_a", ok, 2), at("ep_a", fail, 3)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Since: t0.Add(3 * time.Minute), Reset: true}}},
		{"order given, not timestamps", []*hookd.Attempt{at("ep_a", fail, 5), at("ep_a", fail, 1)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Since: t0.Add(5 * time.Minute)}}},
		{"endpoints apart, in ID order", []*hookd.Attempt{at("ep_b", fail, 1), at("ep_a", ok, 2), at("ep_b", ok, 3), at("ep_c", fail, 4)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Healthy: true}, {EndpointID: "ep_b", Healthy: true},
				{EndpointID: "ep_c", Since: t0.Add(4 * time.Minute)}}},
		{"nil attempts skipped", []*hookd.Attempt{nil, at("ep_a", fail, 1)},
			[]hookd.HealthChange{{EndpointID: "ep_a", Since: t0.Add(time.Minute)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := hookd.EndpointHealth(tt.attempts); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("EndpointHealth = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKeyedAttempt(t *testing.T) {
	d := &hookd.Delivery{AppID: "app_1", MsgID: "msg_1", EndpointID: "ep_1"}
	full := &hookd.Attempt{ID: "atmpt_1", AppID: "app_2", MsgID: "msg_2", EndpointID: "ep_2"}
	if got := (hookd.AttemptResult{Delivery: d, Attempt: full}).KeyedAttempt(); got != full {
		t.Errorf("an attempt with every key was copied or changed: %+v", got)
	}
	empty := &hookd.Attempt{ID: "atmpt_2"}
	got := (hookd.AttemptResult{Delivery: d, Attempt: empty}).KeyedAttempt()
	if got.AppID != "app_1" || got.MsgID != "msg_1" || got.EndpointID != "ep_1" || got.ID != "atmpt_2" {
		t.Errorf("KeyedAttempt = %+v, want the delivery's keys", got)
	}
	if empty.AppID != "" || empty.MsgID != "" || empty.EndpointID != "" {
		t.Errorf("the caller's attempt was changed: %+v", empty)
	}
	if got := (hookd.AttemptResult{Delivery: d}).KeyedAttempt(); got != nil {
		t.Errorf("KeyedAttempt without an attempt = %+v", got)
	}
}

func TestPageSize(t *testing.T) {
	for _, tt := range []struct{ limit, want int }{
		{-1, hookd.DefaultPageLimit}, {0, hookd.DefaultPageLimit}, {1, 1}, {251, 251},
		{hookd.MaxPageLimit, hookd.MaxPageLimit}, {hookd.MaxPageLimit + 1, hookd.MaxPageLimit},
	} {
		if got := (hookd.Page{Limit: tt.limit}).Size(); got != tt.want {
			t.Errorf("Page{Limit: %d}.Size() = %d, want %d", tt.limit, got, tt.want)
		}
	}
}
