package main

import (
	"strconv"

	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/tier"
)

// archiveCacheBytes bounds each partition's cache of archived footers,
// indexes and bloom filters; there is one cache per open partition.
const archiveCacheBytes = 4 << 20

// newArchiverFactory returns the produce.WithArchiver callback: each
// partition archives its sealed segments to store under the prefix
// "<topic>/<partition>/" (topic names hold only [a-zA-Z0-9._-]).
func newArchiverFactory(store storage.ObjectStore) func(topic string, partition int32) (segment.Archiver, error) {
	return func(topic string, partition int32) (segment.Archiver, error) {
		prefix := topic + "/" + strconv.Itoa(int(partition)) + "/"
		return tier.New(store, prefix, tier.Options{CacheBytes: archiveCacheBytes}), nil
	}
}
