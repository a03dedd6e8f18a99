package bench

import "time"

// FloorStore exposes the floor's database to the tests.
type FloorStore struct{ s *floorStore }

// OpenFloorStore opens (creating) a floor database at path.
func OpenFloorStore(path string) (*FloorStore, error) {
	s, err := openFloorStore(path)
	if err != nil {
		return nil, err
	}
	return &FloorStore{s}, nil
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
