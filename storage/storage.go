// Package storage defines ObjectStore, the interface chronik keeps sealed
// log segments in, with implementations over gocloud.dev/blob (S3, GCS,
// Azure Blob, local files, memory) and a pure in-memory one for tests.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (possibly wrapped) by Get for a key that does not exist.
var ErrNotFound = errors.New("storage: object not found")

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("storage: store closed")

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// ObjectStore is a flat key-value store of immutable-once-written objects.
// Keys are slash-separated paths without a leading slash; no key may also
// be a directory of another key ("a" and "a/b" cannot both exist), because
// a file-system store cannot hold both.
//
// Every method honours ctx: a cancelled context makes a pending call return
// ctx.Err() (possibly wrapped) and leaves no partial object visible.
// Implementations are safe for concurrent use.
type ObjectStore interface {
	// Put stores size bytes read from r under key, replacing any object
	// already there. The object becomes visible whole or not at all: a
	// failed or cancelled Put never leaves a partial object under key, and
	// the previous object (if any) stays readable. Put reads exactly size
	// bytes; a reader that fails or ends before size bytes fails the Put.
	// Put is idempotent for the same content. Concurrent Puts to one key
	// leave one of them whole (last write wins), never a mix.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// Get returns a reader over length bytes of the object starting at
	// offset; length < 0 reads to the end. A missing key gives ErrNotFound.
	// A range past the end is truncated to the object's end (an offset at
	// or past the end gives an empty reader); a negative offset is an error.
	// The caller must Close the reader.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)

	// List calls fn for every object whose key starts with prefix, in
	// lexical key order, paging through the backend as needed. An error
	// from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// Close releases the store's resources. Later calls, Close included,
	// return ErrClosed. Readers already returned by Get may fail after Close.
	Close() error
}
