package index

import (
	"io"
	"sync"

	blugeindex "github.com/blugelabs/bluge/index"
	segment "github.com/blugelabs/bluge_segment_api"
	"github.com/blugelabs/ice"
)

// Segment files are memory-mapped (bluge's file directory), and a read of
// a few bytes maps far more than it reads: the kernel maps the pages
// around a fault, and where the page cache holds a file in large folios
// (as for files just written) a whole folio of up to 2 MiB. Loading a
// segment reads a few bytes spread over it; every Index call looks the
// checkpoint document's id up in every segment of its partition (bluge's
// Update); a merge reads its inputs whole. Left alone, every segment of a
// partition being indexed stays mostly resident in the process, so its
// resident memory grows with the number and size of segments rather than
// with what it is doing. The index therefore drops the pages of a
// partition's segment files from its mappings after loading a segment,
// after each Index call and after each merge: they stay in the page cache
// (nothing is read from disk again), and the next read maps what it
// touches.

// mappedFile is one segment file mapped by syncedDirectory.Load.
type mappedFile struct {
	b   []byte // the mapping, valid until the file is closed
	dir string // the partition index directory
}

// mapped holds the segment files mapped now. Releases hold mu, and a file
// leaves the set (under mu) before it is unmapped, so a release never
// touches a mapping that is gone.
var mapped struct {
	mu    sync.Mutex
	files map[*segment.Data]*mappedFile
}

// Load maps a file of the index directory; a segment file is added to
// mapped until it is closed.
func (d *syncedDirectory) Load(kind string, id uint64) (*segment.Data, io.Closer, error) {
	data, closer, err := d.FileSystemDirectory.Load(kind, id)
	// Size is the capacity of an in-memory (here: mapped) Data, 0 for
	// one read from the file on demand.
	if err != nil || kind != blugeindex.ItemKindSegment || data.Size() == 0 {
		return data, closer, err
	}
	b, err := data.Read(0, data.Len())
	if err != nil {
		return data, closer, nil // not released: still correct
	}
	mapped.mu.Lock()
	if mapped.files == nil {
		mapped.files = make(map[*segment.Data]*mappedFile)
	}
	mapped.files[data] = &mappedFile{b: b, dir: d.path}
	mapped.mu.Unlock()
	return data, closerFunc(func() error {
		mapped.mu.Lock()
		delete(mapped.files, data)
		mapped.mu.Unlock()
		return closer.Close()
	}), nil
}

// closerFunc is an io.Closer calling itself.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// loadSegment is the Load of the index's segment plugin: ice's, then the
// pages loading mapped are released when the data is a mapped file.
func loadSegment(data *segment.Data) (segment.Segment, error) {
	seg, err := ice.Load(data)
	mapped.mu.Lock()
	if f := mapped.files[data]; f != nil {
		releaseMapped(f.b)
	}
	mapped.mu.Unlock()
	return seg, err
}

// releaseDir releases the mapped pages of every segment file of the
// partition index in dir.
func releaseDir(dir string) {
	mapped.mu.Lock()
	defer mapped.mu.Unlock()
	for _, f := range mapped.files {
		if f.dir == dir {
			releaseMapped(f.b)
		}
	}
}
