package tier

import (
	"container/list"
	"sync"
)

// Kinds of cached items, one of each per segment.
const (
	kindFooter = iota
	kindIndex
	kindTimeIndex
	kindBloom
)

type cacheKey struct {
	base int64
	kind uint8
}

type cacheEntry struct {
	key  cacheKey
	val  any
	size int64
}

// lru is a least-recently-used cache of decoded footers, indexes and bloom
// filters, bounded by the bytes they were decoded from. It is safe for
// concurrent use; mu guards every field.
type lru struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // front: most recently used *cacheEntry
	items map[cacheKey]*list.Element
}

func newLRU(maxBytes int64) *lru {
	return &lru{max: maxBytes, order: list.New(), items: make(map[cacheKey]*list.Element)}
}

func (c *lru) get(k cacheKey) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).val, true
}

// add caches val, charged size bytes, unless it is larger than a quarter of
// the budget (it would evict most of the cache for one use).
func (c *lru) add(k cacheKey, val any, size int64) {
	if size > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.removeLocked(e)
	}
	c.items[k] = c.order.PushFront(&cacheEntry{key: k, val: val, size: size})
	c.used += size
	for c.used > c.max {
		c.removeLocked(c.order.Back())
	}
}

// dropSegment forgets every item of the segment based at base.
func (c *lru) dropSegment(base int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for kind := uint8(kindFooter); kind <= kindBloom; kind++ {
		if e, ok := c.items[cacheKey{base, kind}]; ok {
			c.removeLocked(e)
		}
	}
}

func (c *lru) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

func (c *lru) removeLocked(e *list.Element) {
	ce := c.order.Remove(e).(*cacheEntry)
	delete(c.items, ce.key)
	c.used -= ce.size
}
