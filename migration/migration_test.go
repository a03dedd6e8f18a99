package migration_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hookd/hookd/migration"
)

func TestLoad(t *testing.T) {
	good := fstest.MapFS{
		"m/0002_b.sql":  {Data: []byte("B")},
		"m/0010_c.sql":  {Data: []byte("C")},
		"m/0001_a.sql":  {Data: []byte("A")},
		"m/README.md":   {Data: []byte("not a migration")},
		"other/9_x.sql": {Data: []byte("elsewhere")},
	}
	ms, err := migration.Load(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+"="+m.SQL)
	}
	if want := []string{"0001_a.sql=A", "0002_b.sql=B", "0010_c.sql=C"}; !slices.Equal(got, want) {
		t.Errorf("Load = %v, want %v (by version number, not name)", got, want)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"no version":        {"m/init.sql": {}},
		"no underscore":     {"m/0001.sql": {}},
		"version 0":         {"m/0000_x.sql": {}},
		"duplicate version": {"m/0001_a.sql": {}, "m/1_b.sql": {}},
	} {
		if _, err := migration.Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load accepted it", name)
		}
	}
}

// target is an in-memory Target.
type target struct {
	applied map[int]bool
	ran     []string
	fail    string
}

func (t *target) Applied(context.Context) (map[int]bool, error) { return t.applied, nil }

func (t *target) Apply(_ context.Context, m migration.Migration) error {
	if m.Name == t.fail {
		return errors.New("syntax error")
	}
	t.ran = append(t.ran, m.Name)
	t.applied[m.Version] = true
	return nil
}

func TestRun(t *testing.T) {
	ms := []migration.Migration{{Version: 1, Name: "1_a"}, {Version: 2, Name: "2_b"}, {Version: 3, Name: "3_c"}}
	tg := &target{applied: map[int]bool{1: true}}
	v, err := migration.Run(t.Context(), tg, ms)
	if err != nil || v != 3 || !slices.Equal(tg.ran, []string{"2_b", "3_c"}) {
		t.Fatalf("Run = %d, %v, ran %v; want version 3 after running 2_b and 3_c", v, err, tg.ran)
	}
	if v, err := migration.Run(t.Context(), tg, ms); err != nil || v != 3 || len(tg.ran) != 2 {
		t.Errorf("second Run = %d, %v, ran %v; want nothing run", v, err, tg.ran)
	}
	tg = &target{applied: map[int]bool{}, fail: "2_b"}
	v, err = migration.Run(t.Context(), tg, ms)
	if err == nil || !strings.Contains(err.Error(), "2_b") || v != 1 || !slices.Equal(tg.ran, []string{"1_a"}) {
		t.Errorf("Run with a failing migration = %d, %v, ran %v; want it to stop at 2_b at version 1", v, err, tg.ran)
	}
}
