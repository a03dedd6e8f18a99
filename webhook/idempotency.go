package webhook

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// ClaimState is the outcome of IdempotencyStore.Claim.
type ClaimState uint8

// The outcomes of a claim.
const (
	// Claimed means the caller now owns the key and should process the message,
	// then call Complete (success) or Release (failure).
	Claimed ClaimState = iota + 1
	// InFlight means another request owns the key and has not finished.
	InFlight
	// Completed means a message with this key was processed successfully.
	Completed
)

// String returns the state's name.
func (s ClaimState) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case InFlight:
		return "in-flight"
	case Completed:
		return "completed"
	}
	return fmt.Sprintf("ClaimState(%d)", uint8(s))
}

// IdempotencyStore remembers message IDs so a receiver processes each message once.
// A key goes through two states: in flight (claimed, with a short lease so a crashed
// process does not block the message forever) and completed (kept for the
// de-duplication window, typically days). Implementations must be safe for
// concurrent use; MemoryStore is one, and the sqlite and postgres packages of hookd
// provide durable ones shared by several processes. The webhooktest package checks
// an implementation, a receiver's own included, against this contract.
type IdempotencyStore interface {
	// Claim takes key for processing unless it is held or completed and not yet
	// expired. A claim expires after lease.
	Claim(ctx context.Context, key string, lease time.Duration) (ClaimState, error)
	// Complete marks key processed and keeps it for ttl.
	Complete(ctx context.Context, key string, ttl time.Duration) error
	// Release forgets key so that the sender's next retry is processed.
	Release(ctx context.Context, key string) error
}

// DefaultMemoryStoreSize is the capacity NewMemoryStore uses when given zero.
const DefaultMemoryStoreSize = 100_000

// MemoryStore is an in-process IdempotencyStore with expiry and a bounded number of
// keys. When full it drops expired keys first, then the oldest key, so a very busy
// receiver may accept a duplicate of a message older than its last size keys;
// choose the size from the message rate times the de-duplication window. Keys are
// lost on restart: use a durable store when that matters.
type MemoryStore struct {
	mu    sync.Mutex
	now   func() time.Time
	max   int
	keys  map[string]*list.Element
	order *list.List // of *memEntry, oldest claim first
}

type memEntry struct {
	key     string
	done    bool
	expires time.Time
}

var _ IdempotencyStore = (*MemoryStore)(nil)

// NewMemoryStore returns a MemoryStore holding at most size keys (zero means
// DefaultMemoryStoreSize) and reading time from now (nil means time.Now).
func NewMemoryStore(size int, now func() time.Time) *MemoryStore {
	if size <= 0 {
		size = DefaultMemoryStoreSize
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, max: size, keys: make(map[string]*list.Element), order: list.New()}
}

// Claim implements IdempotencyStore.
func (m *MemoryStore) Claim(_ context.Context, key string, lease time.Duration) (ClaimState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if el, ok := m.keys[key]; ok {
		e := el.Value.(*memEntry)
		if now.Before(e.expires) {
			if e.done {
				return Completed, nil
			}
			return InFlight, nil
		}
		m.remove(el)
	}
	m.evict(now)
	m.keys[key] = m.order.PushBack(&memEntry{key: key, expires: now.Add(lease)})
	return Claimed, nil
}

// Complete implements IdempotencyStore.
func (m *MemoryStore) Complete(_ context.Context, key string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	el, ok := m.keys[key]
	if !ok {
		m.evict(now)
		el = m.order.PushBack(&memEntry{key: key})
		m.keys[key] = el
	}
	e := el.Value.(*memEntry)
	e.done, e.expires = true, now.Add(ttl)
	return nil
}

// Release implements IdempotencyStore.
func (m *MemoryStore) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.keys[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len returns the number of keys held, expired or not.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.keys)
}

// evict makes room for one key: it drops expired keys from the oldest end (a bounded
// amount of work per call) and, if still full, the oldest key.
func (m *MemoryStore) evict(now time.Time) {
	for i, el := 0, m.order.Front(); el != nil && i < 64; i++ {
		next := el.Next()
		if !now.Before(el.Value.(*memEntry).expires) {
			m.remove(el)
		}
		el = next
	}
	for len(m.keys) >= m.max {
		m.remove(m.order.Front())
	}
}

func (m *MemoryStore) remove(el *list.Element) {
	delete(m.keys, el.Value.(*memEntry).key)
	m.order.Remove(el)
}
