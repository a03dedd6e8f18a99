package api

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// defaultFanoutTTL is how long createMessage reuses an application and its endpoints.
const defaultFanoutTTL = hookd.DefaultCacheTTL

// maxFanoutEntries bounds the fan-out cache; past it, the cache starts over.
const maxFanoutEntries = 10000

// fanoutCache keeps, per app_id path value, the application and all its endpoints, so
// that accepting a message does not read them from the store every time. Every
// request on this node that may change an application or an endpoint empties it
// before and after it runs (see Server.serve), so this node's own changes take effect
// on the next message. A change made by another node (PostgreSQL), or by this node's
// delivery workers (an endpoint disabled after failing), affects fan-out once the
// entry expires, at most TTL later; the delivery workers check the endpoint again
// before sending.
//
// Entries expire by the monotonic wall clock, not Config.Now, so that a test clock
// that stands still cannot keep stale endpoints forever.
type fanoutCache struct {
	ttl time.Duration

	mu  sync.Mutex
	gen uint64 // incremented by every invalidation
	m   map[string]fanoutEntry
}

type fanoutEntry struct {
	app *hookd.Application
	eps []*hookd.Endpoint // shared between requests: read only
	at  time.Time
}

func newFanoutCache(ttl time.Duration) *fanoutCache {
	return &fanoutCache{ttl: ttl, m: make(map[string]fanoutEntry)}
}

// get returns the fresh entry for key and, when there is none, the generation to
// pass to put once the caller has read the store.
func (c *fanoutCache) get(key string) (fanoutEntry, uint64, bool) {
	if c.ttl <= 0 {
		return fanoutEntry{}, 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if ok && time.Since(e.at) < c.ttl {
		return e, c.gen, true
	}
	return fanoutEntry{}, c.gen, false
}

// put stores what was read under generation gen, unless an invalidation happened since
// the read began (the read may then predate a change).
func (c *fanoutCache) put(key string, gen uint64, app *hookd.Application, eps []*hookd.Endpoint, readAt time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxFanoutEntries {
		clear(c.m)
	}
	c.m[key] = fanoutEntry{app: app, eps: eps, at: readAt}
}

// invalidate forgets every entry and makes reads in flight not cache their result.
func (c *fanoutCache) invalidate() {
	c.mu.Lock()
	c.gen++
	clear(c.m)
	c.mu.Unlock()
}

// changesFanout reports whether a request may change what the fan-out cache holds:
// every write except accepting a message (which only creates an application the
// cache has not seen yet, see fanoutTargets) and trying a payload filter (which
// changes nothing).
func changesFanout(r *http.Request, rt route) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if strings.HasSuffix(rt.pattern, "/filter/test") {
		return false
	}
	return rt.pattern != messagesPattern || r.Method != http.MethodPost
}

// fanoutTargets returns the message's application (creating it when the body asks
// for it) and all of the application's endpoints, from the cache when fresh.
func (s *Server) fanoutTargets(r *http.Request, in *applicationIn) (*hookd.Application, []*hookd.Endpoint, error) {
	key := r.PathValue("app_id")
	e, gen, ok := s.fanout.get(key)
	if ok {
		return e.app, e.eps, nil
	}
	readAt := time.Now()
	a, err := s.messageApp(r, in)
	if err != nil {
		return nil, nil, err
	}
	eps, err := s.store.AllEndpoints(r.Context(), a.ID)
	if err != nil {
		return nil, nil, err
	}
	s.fanout.put(key, gen, a, eps, readAt)
	return a, eps, nil
}
