package delivery

import (
	"sync"
	"time"

	"github.com/hookd/hookd"
)

// cache keeps what a fetch returned for a short TTL, so a burst of deliveries to one
// endpoint reads it from the store once. A change made through this node's API is
// seen at once (the API calls ForgetEndpoint, and a fetch that overlapped the forget
// is not cached); one made through another node once the entry expires (CacheTTL, one
// second by default). Not-found answers are cached too.
type cache[V any] struct {
	ttl time.Duration

	mu    sync.Mutex
	m     map[string]cacheEntry[V]
	swept time.Time
	// gen counts forgets: a fetch that started before a forget is not cached, since
	// it may have read what the forget's change replaced.
	gen uint64
}

type cacheEntry[V any] struct {
	v   V
	err error
	at  time.Time
}

func newCache[V any](ttl time.Duration) *cache[V] {
	return &cache[V]{ttl: ttl, m: make(map[string]cacheEntry[V])}
}

// get returns the cached value for key, or fetches it. Errors other than ENOTFOUND
// are not cached.
func (c *cache[V]) get(key string, now time.Time, fetch func() (V, error)) (V, error) {
	var gen uint64
	if c.ttl > 0 {
		c.mu.Lock()
		e, ok := c.m[key]
		gen = c.gen
		c.mu.Unlock()
		if ok && now.Sub(e.at) < c.ttl && !now.Before(e.at) {
			return e.v, e.err
		}
	}
	v, err := fetch()
	if c.ttl > 0 && (err == nil || hookd.IsNotFound(err)) {
		c.mu.Lock()
		if c.gen == gen {
			c.m[key] = cacheEntry[V]{v: v, err: err, at: now}
			c.sweep(now)
		}
		c.mu.Unlock()
	}
	return v, err
}

// replace swaps the value cached under key for v, keeping its age, if it still holds
// old (compared with same); it does nothing otherwise, so a newer fetch or a forget
// is never undone.
func (c *cache[V]) replace(key string, same func(V) bool, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[key]; ok && e.err == nil && same(e.v) {
		e.v = v
		c.m[key] = e
	}
}

// forget drops key, so the next get fetches it again.
func (c *cache[V]) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.gen++
	c.mu.Unlock()
}

// sweep drops expired entries now and then, keeping the cache as small as the set of
// endpoints recently delivered to. c.mu is held.
func (c *cache[V]) sweep(now time.Time) {
	if now.Sub(c.swept) < 10*c.ttl {
		return
	}
	c.swept = now
	for k, e := range c.m {
		if now.Sub(e.at) >= c.ttl {
			delete(c.m, k)
		}
	}
}
