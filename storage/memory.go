package storage

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// memObject is one stored object. Its data slice is never modified after
// the object is stored: an overwrite installs a new memObject, so readers of
// the old one keep a consistent view without copying.
type memObject struct {
	data    []byte
	modTime time.Time
}

// memStore is the ObjectStore returned by NewMemory.
type memStore struct {
	mu      sync.RWMutex // guards objects and closed
	objects map[string]memObject
	closed  bool
}

// NewMemory returns an empty ObjectStore held in process memory (a map under
// a mutex), for tests and for hosts that need no durability. Stored bytes
// are never copied on Get.
func NewMemory() ObjectStore { return &memStore{objects: make(map[string]memObject)} }

// Put reads all size bytes before taking the lock, so a failed or cancelled
// read never touches the stored object.
func (m *memStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if size < 0 {
		return opErr("put", key, fmt.Errorf("negative size %d", size))
	}
	if err := m.check(ctx); err != nil {
		return opErr("put", key, err)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(ctxReader{ctx: ctx, r: r}, data); err != nil {
		return opErr("put", key, fmt.Errorf("reading %d bytes: %w", size, err))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return opErr("put", key, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return opErr("put", key, err)
	}
	m.objects[key] = memObject{data: data, modTime: time.Now()}
	return nil
}

// Get returns a reader over a slice of the stored bytes; no copy is made.
func (m *memStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, opErr("get", key, fmt.Errorf("negative offset %d", offset))
	}
	if err := m.check(ctx); err != nil {
		return nil, opErr("get", key, err)
	}
	m.mu.RLock()
	obj, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return nil, opErr("get", key, ErrNotFound)
	}
	size := int64(len(obj.data))
	start := min(offset, size)
	end := size
	if length >= 0 && start+length < size {
		end = start + length
	}
	return io.NopCloser(bytes.NewReader(obj.data[start:end])), nil
}

// List takes a snapshot of the matching keys and calls fn without holding
// the lock, so fn may call back into the store.
func (m *memStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := m.check(ctx); err != nil {
		return opErr("list", prefix, err)
	}
	m.mu.RLock()
	infos := make([]ObjectInfo, 0, len(m.objects))
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, ObjectInfo{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	m.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return opErr("list", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes key if present.
func (m *memStore) Delete(ctx context.Context, key string) error {
	if err := m.check(ctx); err != nil {
		return opErr("delete", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return opErr("delete", key, ErrClosed)
	}
	delete(m.objects, key)
	return nil
}

// Close drops every object.
func (m *memStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return opErr("close", "", ErrClosed)
	}
	m.closed = true
	m.objects = nil
	return nil
}

// check reports ErrClosed or the context's error, in that order.
func (m *memStore) check(ctx context.Context) error {
	m.mu.RLock()
	closed := m.closed
	m.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	return ctx.Err()
}

// ctxReader fails a read once ctx is done, so a long Put from a slow reader
// stops when its caller gives up.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
