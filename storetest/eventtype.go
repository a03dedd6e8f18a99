package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hookd/hookd"
)

func (f *fixture) eventType(name string, mods ...func(*hookd.EventType)) *hookd.EventType {
	f.t.Helper()
	et := &hookd.EventType{Name: name, Description: "about " + name, CreatedAt: f.tick(), UpdatedAt: f.now}
	for _, m := range mods {
		m(et)
	}
	if err := f.s.CreateEventType(f.ctx, et); err != nil {
		f.t.Fatalf("CreateEventType: %v", err)
	}
	return et
}

func eventTypeName(et *hookd.EventType) string { return et.Name }

var eventTypeTests = []test{
	{"CreateAndGet", func(t *testing.T, f *fixture) {
		want := f.eventType("invoice.paid", func(et *hookd.EventType) {
			et.Deprecated, et.FeatureFlag, et.RetrySchedule, et.EnforceSchema = true, "beta", "short", true
			et.Schemas = map[string]json.RawMessage{"1": json.RawMessage(`{"type":"object"}`)}
		})
		got, err := f.s.EventType(f.ctx, want.Name)
		must(t, err)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("EventType =\n%+v, want\n%+v", got, want)
		}
	}},
	{"ConflictAndNotFound", func(t *testing.T, f *fixture) {
		f.eventType("a.b")
		wantCode(t, f.s.CreateEventType(f.ctx, &hookd.EventType{Name: "a.b", CreatedAt: t0, UpdatedAt: t0}), hookd.ECONFLICT)
		_, err := f.s.EventType(f.ctx, "missing")
		wantCode(t, err, hookd.ENOTFOUND)
		if msg := hookd.ErrorMessage(err); msg != "event type not found" {
			t.Errorf("message = %q, want %q", msg, "event type not found")
		}
		wantCode(t, f.s.UpdateEventType(f.ctx, &hookd.EventType{Name: "missing"}), hookd.ENOTFOUND)
		wantCode(t, f.s.DeleteEventType(f.ctx, "missing"), hookd.ENOTFOUND)
	}},
	{"UpdateAndDelete", func(t *testing.T, f *fixture) {
		et := f.eventType("user.created", func(et *hookd.EventType) {
			et.Schemas = map[string]json.RawMessage{"1": json.RawMessage(`{}`)}
		})
		upd := *et
		upd.Description, upd.Archived, upd.Deprecated = "changed", true, true
		upd.FeatureFlag, upd.RetrySchedule, upd.Schemas, upd.EnforceSchema = "ff", "none", nil, !upd.EnforceSchema
		upd.UpdatedAt = et.UpdatedAt.Add(time.Hour)
		must(t, f.s.UpdateEventType(f.ctx, &upd))
		got, err := f.s.EventType(f.ctx, et.Name)
		must(t, err)
		if !reflect.DeepEqual(got, &upd) {
			t.Errorf("after update =\n%+v, want\n%+v", got, &upd)
		}
		must(t, f.s.DeleteEventType(f.ctx, et.Name))
		_, err = f.s.EventType(f.ctx, et.Name)
		wantCode(t, err, hookd.ENOTFOUND)
	}},
	{"ListByNameAndArchived", func(t *testing.T, f *fixture) {
		// Created out of name order: lists are by name, not by creation.
		for _, n := range []string{"c.x", "a.x", "e.x", "b.x"} {
			f.eventType(n)
		}
		f.eventType("d.x", func(et *hookd.EventType) { et.Archived = true })
		checkPaging(t, []string{"a.x", "b.x", "c.x", "e.x"}, func(p hookd.Page) ([]string, error) {
			l, err := f.s.EventTypes(f.ctx, hookd.EventTypeFilter{}, p)
			return ids(l, eventTypeName), err
		})
		checkPaging(t, []string{"a.x", "b.x", "c.x", "d.x", "e.x"}, func(p hookd.Page) ([]string, error) {
			l, err := f.s.EventTypes(f.ctx, hookd.EventTypeFilter{IncludeArchived: true}, p)
			return ids(l, eventTypeName), err
		})
	}},
}
