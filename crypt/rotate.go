package crypt

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/hookd/hookd"
)

// RefreshInterval is how often a running node reloads the keyring (Keyring.Watch), so
// that it learns a rotation's new data key while the old main key still opens it.
const RefreshInterval = 2 * time.Second

// DefaultSettle is how long Rotate waits before it drops the old main key: several
// RefreshIntervals, so every running node has loaded the new data key.
const DefaultSettle = 5 * RefreshInterval

// RotateOptions tune Rotate.
type RotateOptions struct {
	// Settle is how long to wait for running nodes to load the new data key before
	// the old main key stops opening the database (DefaultSettle if zero; negative:
	// no wait).
	Settle time.Duration
	// Step, if set, is told each step as it happens.
	Step func(msg string)
	// Added, if set, runs once both main keys open the database, before any secret
	// moves: the moment to store the new key (a key file), since from here on a
	// start may need it.
	Added func() error
}

// Rotate moves the database's secrets from main key old to main key next while
// nodes keep running: it adds a new data key, wrapped under both main keys; re-seals
// every secret under it; waits settle for running nodes to load it; then drops the
// wrap under old. Interrupted, it can be run again with old: until its last step the
// database opens with either key. Afterwards only next opens it.
func Rotate(ctx context.Context, st hookd.Store, old, next Key, opts RotateOptions) error {
	if old == next {
		return errors.New("the new encryption key is the current one")
	}
	step := opts.Step
	if step == nil {
		step = func(string) {}
	}
	settle := opts.Settle
	if settle == 0 {
		settle = DefaultSettle
	}
	k, err := Load(ctx, st, old, false)
	if err != nil {
		return err
	}
	k.mu.RLock()
	keys := maps.Clone(k.raw)
	k.mu.RUnlock()
	id, dk := newDataKey()
	keys[id] = dk
	both, err := wrapKeys(keys, id, old, next)
	if err != nil {
		return err
	}
	if err := st.PutSetting(ctx, KeyringSetting, both); err != nil {
		return fmt.Errorf("store keyring: %w", err)
	}
	if err := k.load(both); err != nil {
		return err
	}
	step(fmt.Sprintf("added data key %s, opened by main keys %s and %s", id, old.ID(), next.ID()))
	if opts.Added != nil {
		if err := opts.Added(); err != nil {
			return err
		}
	}
	n, err := Reseal(ctx, st, k, true)
	if err != nil {
		return err
	}
	step(fmt.Sprintf("re-sealed the secrets of %d endpoints under %s", n, id))
	if settle > 0 {
		step(fmt.Sprintf("waiting %s for running nodes to load the new data key", settle))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settle):
		}
	}
	// Secrets a node sealed under an older data key while this ran stay readable:
	// the older data keys stay in the keyring, now opened by next alone.
	only, err := wrapKeys(keys, id, next)
	if err != nil {
		return err
	}
	if err := st.PutSetting(ctx, KeyringSetting, only); err != nil {
		return fmt.Errorf("store keyring: %w", err)
	}
	step(fmt.Sprintf("main key %s no longer opens the database; %s does", old.ID(), next.ID()))
	return nil
}
