package bench

import (
	"context"
	"time"

	"github.com/hookd/hookd/webhook"
)

// FloorStore exposes the floor's database to the tests.
type FloorStore struct {
	s relayKeeper
	// Schema is the PostgreSQL floor's schema ("" for SQLite).
	Schema string
}

// OpenFloorStore opens (creating) a floor database at path.
func OpenFloorStore(path string) (*FloorStore, error) {
	s, err := openFloorStore(path)
	if err != nil {
		return nil, err
	}
	return &FloorStore{s: s}, nil
}

// OpenPGFloorStore creates a PostgreSQL floor in a fresh schema of dsn's database.
func OpenPGFloorStore(dsn string) (*FloorStore, error) {
	s, err := openPGFloorStore(context.Background(), dsn)
	if err != nil {
		return nil, err
	}
	return &FloorStore{s: s, Schema: s.schema}, nil
}

// Keep stores message seq with key and body before it would be forwarded.
func (f *FloorStore) Keep(seq int64, key string, body []byte) (bool, error) {
	return f.s.keep(seq, key, body)
}

// Attempted queues an attempt record of message seq.
func (f *FloorStore) Attempted(seq int64, slot, code int) {
	f.s.attempted(seq, slot, code, time.Millisecond)
}

// Settle waits until every record is committed.
func (f *FloorStore) Settle() (time.Time, error) { return f.s.settle() }

// Close closes the database.
func (f *FloorStore) Close() { f.s.close() }

// FloorRelay is the floor's relay server on a FloorStore.
type FloorRelay struct{ r *relay }

// StartRelay starts the floor's relay on f, forwarding each message to url with 4
// workers; closing it closes f.
func (f *FloorStore) StartRelay(url string) (*FloorRelay, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	profile, err := webhook.LookupProfile("")
	if err != nil {
		return nil, err
	}
	signer, err := webhook.NewSigner(profile, secret)
	if err != nil {
		return nil, err
	}
	r, err := startRelay(f.s, []string{url}, signer, 4, 4)
	if err != nil {
		return nil, err
	}
	return &FloorRelay{r}, nil
}

// URL is where the relay takes messages.
func (r *FloorRelay) URL() string { return r.r.url() }

// Drain waits until every accepted message has been forwarded.
func (r *FloorRelay) Drain() { r.r.drain() }

// Close stops the relay and closes its store.
func (r *FloorRelay) Close() { r.r.close() }
