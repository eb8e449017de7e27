package tier

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/segment"
	"github.com/chronik-go/chronik/storage"
)

// Defaults of Options.
const (
	DefaultCacheBytes      = 32 << 20
	DefaultReadRetries     = 4
	DefaultRetryMin        = 50 * time.Millisecond
	DefaultRetryMax        = 2 * time.Second
	DefaultListConcurrency = 8
)

// Options configures an Archiver. The zero value of each field selects its
// default.
type Options struct {
	// CacheBytes bounds the LRU cache of footers, offset and time indexes
	// and bloom filters, charged at their encoded size (default 32 MiB;
	// -1 disables the cache). An item above a quarter of it is not cached.
	CacheBytes int64
	// ReadRetries is how many times a failed read (of a footer, index,
	// bloom filter, data range or listing) is retried before its error is
	// returned (default 4; -1 means never). ErrNotFound, ErrClosed and
	// context errors are returned at once.
	ReadRetries int
	// RetryMin and RetryMax bound the exponential backoff between read
	// attempts (defaults 50 ms and 2 s).
	RetryMin, RetryMax time.Duration
	// ListConcurrency is how many footers Segments reads at once (default 8).
	ListConcurrency int
}

// Validate reports the first field outside its allowed range.
func (o Options) Validate() error {
	switch {
	case o.CacheBytes < -1:
		return fmt.Errorf("tier: CacheBytes %d below -1", o.CacheBytes)
	case o.ReadRetries < -1:
		return fmt.Errorf("tier: ReadRetries %d below -1", o.ReadRetries)
	case o.RetryMin < 0 || o.RetryMax < 0:
		return fmt.Errorf("tier: negative RetryMin (%v) or RetryMax (%v)", o.RetryMin, o.RetryMax)
	case o.RetryMin > 0 && o.RetryMax > 0 && o.RetryMin > o.RetryMax:
		return fmt.Errorf("tier: RetryMin %v above RetryMax %v", o.RetryMin, o.RetryMax)
	case o.ListConcurrency < 0:
		return fmt.Errorf("tier: negative ListConcurrency %d", o.ListConcurrency)
	}
	return nil
}

func (o Options) withDefaults() Options {
	switch o.CacheBytes {
	case 0:
		o.CacheBytes = DefaultCacheBytes
	case -1:
		o.CacheBytes = 0
	}
	switch o.ReadRetries {
	case 0:
		o.ReadRetries = DefaultReadRetries
	case -1:
		o.ReadRetries = 0
	}
	if o.RetryMin == 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax == 0 {
		o.RetryMax = max(DefaultRetryMax, o.RetryMin)
	}
	if o.ListConcurrency == 0 {
		o.ListConcurrency = DefaultListConcurrency
	}
	return o
}

// Archiver is the remote tier of one partition: it stores each sealed
// segment as one object under a key prefix of an ObjectStore. It is safe
// for concurrent use; it starts no goroutine that outlives a call.
type Archiver struct {
	store  storage.ObjectStore
	prefix string
	opts   Options
	cache  *lru

	sizesMu sync.Mutex      // guards sizes
	sizes   map[int64]int64 // object size by base offset, from listings and uploads
}

var _ segment.Archiver = (*Archiver)(nil)

// New returns an Archiver keeping segments in store under prefix (for
// example "orders/3/"; one prefix per partition). It panics if
// opts.Validate fails. Closing store is the caller's business.
func New(store storage.ObjectStore, prefix string, opts Options) *Archiver {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	opts = opts.withDefaults()
	return &Archiver{
		store:  store,
		prefix: prefix,
		opts:   opts,
		cache:  newLRU(opts.CacheBytes),
		sizes:  make(map[int64]int64),
	}
}

// Key returns the object key of the segment based at base.
func (a *Archiver) Key(base int64) string { return segmentKey(a.prefix, base) }

// CachedBytes returns the bytes the cache currently holds.
func (a *Archiver) CachedBytes() int64 { return a.cache.bytes() }

func (a *Archiver) setSize(base, size int64) {
	a.sizesMu.Lock()
	a.sizes[base] = size
	a.sizesMu.Unlock()
}

func (a *Archiver) forget(base int64) {
	a.dropSize(base)
	a.cache.dropSegment(base)
}

// localSegment is a sealed segment's index files, read and checked.
type localSegment struct {
	seg              segment.SealedSegment
	idx, tidx, bloom []byte
	lengths          [numSections]int64
}

// readLocal reads and checks the segment's index files: each must decode
// and describe the segment's base offset, size and next offset.
func readLocal(seg segment.SealedSegment) (*localSegment, error) {
	l := &localSegment{seg: seg}
	var err error
	if l.idx, err = vfs.ReadFile(seg.FS, seg.IndexPath); err != nil {
		return nil, err
	}
	if l.tidx, err = vfs.ReadFile(seg.FS, seg.TimeIndexPath); err != nil {
		return nil, err
	}
	if l.bloom, err = vfs.ReadFile(seg.FS, seg.BloomPath); err != nil {
		return nil, err
	}
	x, err := segment.DecodeOffsetIndex(l.idx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", seg.IndexPath, err)
	}
	t, err := segment.DecodeTimeIndex(l.tidx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", seg.TimeIndexPath, err)
	}
	b, err := segment.DecodeBloom(l.bloom)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", seg.BloomPath, err)
	}
	for _, d := range []struct {
		path             string
		base, size, next int64
	}{
		{seg.IndexPath, x.BaseOffset, x.LogSize, x.NextOffset},
		{seg.TimeIndexPath, t.BaseOffset, t.LogSize, t.NextOffset},
		{seg.BloomPath, b.BaseOffset, b.LogSize, b.NextOffset},
	} {
		if d.base != seg.BaseOffset || d.size != seg.Size || d.next != seg.NextOffset {
			return nil, fmt.Errorf("%s describes offsets [%d, %d) in %d bytes, the segment [%d, %d) in %d bytes",
				d.path, d.base, d.next, d.size, seg.BaseOffset, seg.NextOffset, seg.Size)
		}
	}
	l.lengths = [numSections]int64{seg.Size, int64(len(l.idx)), int64(len(l.tidx)), int64(len(l.bloom))}
	return l, nil
}

// footer returns the footer the object of l must end with, given the CRC
// of its data.
func (l *localSegment) footer(dataCRC uint32) footer {
	f := layout(l.seg.BaseOffset, l.seg.NextOffset, l.seg.MaxTimestamp, l.lengths)
	f.sections[secData].crc = dataCRC
	f.sections[secIndex].crc = crc32.Checksum(l.idx, castagnoli)
	f.sections[secTimeIndex].crc = crc32.Checksum(l.tidx, castagnoli)
	f.sections[secBloom].crc = crc32.Checksum(l.bloom, castagnoli)
	return f
}

// Archive uploads seg as one object and returns nil once the object is
// stored and its footer read back intact. It checks every batch of the
// .log on the way (framing, CRC-32C, offsets); a segment that fails is not
// uploaded and Archive returns a *segment.CorruptionError. If the object
// is already there with the same content (a retry after a lost answer),
// Archive returns nil without uploading it again.
func (a *Archiver) Archive(ctx context.Context, seg segment.SealedSegment) error {
	key := a.Key(seg.BaseOffset)
	fail := func(what string, err error) error { return fmt.Errorf("tier: archive %s: %s: %w", key, what, err) }
	if seg.BaseOffset < 0 || seg.NextOffset < seg.BaseOffset || seg.Size < 0 {
		return fail("check", fmt.Errorf("invalid segment: offsets [%d, %d), %d bytes", seg.BaseOffset, seg.NextOffset, seg.Size))
	}
	local, err := readLocal(seg)
	if err != nil {
		return fail("reading index files", err)
	}
	f, err := seg.FS.OpenFile(seg.LogPath, os.O_RDONLY, 0)
	if err != nil {
		return fail("opening log", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fail("stat log", err)
	}
	if st.Size() != seg.Size {
		return fail("check", fmt.Errorf("%s has %d bytes, the segment %d", seg.LogPath, st.Size(), seg.Size))
	}
	want := local.footer(0)

	done, err := a.alreadyArchived(ctx, local, f, want)
	if err != nil {
		return fail("checking the stored copy", err)
	}
	if done {
		return nil
	}

	a.forget(seg.BaseOffset)
	data := newLogReader(f, newBatchChecker(seg.LogPath, seg.BaseOffset, seg.NextOffset, seg.Size))
	var footerBytes []byte
	stream := io.MultiReader(
		bytes.NewReader(encodeHeader(seg.BaseOffset)),
		data,
		bytes.NewReader(local.idx),
		bytes.NewReader(local.tidx),
		bytes.NewReader(local.bloom),
		&lazyReader{build: func() ([]byte, error) {
			if !data.done {
				return nil, errors.New("tier: footer requested before the data was streamed")
			}
			ft := local.footer(data.crc)
			footerBytes = ft.encode()
			return footerBytes, nil
		}},
	)
	if err := a.store.Put(ctx, key, stream, want.objectSize); err != nil {
		return fail("upload", err)
	}
	if footerBytes == nil {
		return fail("upload", errors.New("the store accepted the object without reading it whole"))
	}

	// Confirm the upload: the footer read back must be the one written.
	var got []byte
	err = a.retry(ctx, func() error {
		got, err = a.readRange(ctx, key, want.objectSize-footerSize, footerSize)
		return err
	})
	if err != nil {
		return fail("reading back the footer", err)
	}
	if !bytes.Equal(got, footerBytes) {
		return fail("verify", &CorruptObjectError{Key: key, Section: "footer", Reason: "the footer read back differs from the one written"})
	}
	ft, _ := decodeFooter(got, want.objectSize, seg.BaseOffset)
	a.setSize(seg.BaseOffset, want.objectSize)
	a.cache.add(cacheKey{seg.BaseOffset, kindFooter}, &ft, footerSize)
	return nil
}

// alreadyArchived reports whether the store already holds the object l
// would become: same size, and a footer equal in every field to want,
// whose data CRC matches the local .log (which it reads, checking it).
// Failures to read the stored copy answer false: uploading again is safe.
func (a *Archiver) alreadyArchived(ctx context.Context, l *localSegment, logFile io.ReaderAt, want footer) (bool, error) {
	key := a.Key(l.seg.BaseOffset)
	size, err := a.listSize(ctx, key)
	if err != nil || size != want.objectSize {
		return false, ctx.Err()
	}
	got, err := a.readRange(ctx, key, size-footerSize, footerSize)
	if err != nil {
		return false, ctx.Err()
	}
	stored, why := decodeFooter(got, size, l.seg.BaseOffset)
	if why != "" {
		return false, nil
	}
	storedCRC := stored.sections[secData].crc
	stored.sections[secData].crc = 0
	if stored != want {
		return false, nil
	}
	data := newLogReader(logFile, newBatchChecker(l.seg.LogPath, l.seg.BaseOffset, l.seg.NextOffset, l.seg.Size))
	if _, err := io.Copy(io.Discard, data); err != nil {
		return false, err
	}
	if data.crc != storedCRC {
		return false, nil
	}
	stored.sections[secData].crc = storedCRC
	a.setSize(l.seg.BaseOffset, size)
	a.cache.add(cacheKey{l.seg.BaseOffset, kindFooter}, &stored, footerSize)
	return true, nil
}

// listSize returns the size of the object at key, or storage.ErrNotFound,
// retrying failed listings.
func (a *Archiver) listSize(ctx context.Context, key string) (int64, error) {
	var size int64
	err := a.retry(ctx, func() error {
		var err error
		size, err = a.listSizeOnce(ctx, key)
		return err
	})
	return size, err
}

func (a *Archiver) listSizeOnce(ctx context.Context, key string) (int64, error) {
	size := int64(-1)
	err := a.store.List(ctx, key, func(o storage.ObjectInfo) error {
		if o.Key == key {
			size = o.Size
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if size < 0 {
		return 0, fmt.Errorf("tier: %s: %w", key, storage.ErrNotFound)
	}
	return size, nil
}

// Segments lists the archived segments in offset order, reading the
// footer of each object under the prefix (cached after the first time).
// Keys under the prefix that are not segment objects are ignored; an
// object whose footer is corrupt fails the listing with a
// *CorruptObjectError naming it.
func (a *Archiver) Segments(ctx context.Context) ([]segment.RemoteSegment, error) {
	type object struct{ base, size int64 }
	var objs []object
	err := a.retry(ctx, func() error {
		objs = objs[:0]
		return a.store.List(ctx, a.prefix, func(o storage.ObjectInfo) error {
			if base, ok := parseKey(a.prefix, o.Key); ok {
				objs = append(objs, object{base, o.Size})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("tier: listing %q: %w", a.prefix, err)
	}
	var changed []int64
	a.sizesMu.Lock()
	for _, o := range objs {
		if old, ok := a.sizes[o.base]; !ok || old != o.size {
			a.sizes[o.base] = o.size
			changed = append(changed, o.base)
		}
	}
	a.sizesMu.Unlock()
	for _, base := range changed {
		a.cache.dropSegment(base) // replaced behind our back: its footer is stale
	}

	out := make([]segment.RemoteSegment, len(objs))
	errs := make([]error, len(objs))
	sem := make(chan struct{}, a.opts.ListConcurrency)
	var wg sync.WaitGroup
	for i, o := range objs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f, err := a.footer(ctx, o.base)
			if err != nil {
				errs[i] = err
				return
			}
			out[i] = segment.RemoteSegment{BaseOffset: f.base, NextOffset: f.next, MaxTimestamp: f.maxTimestamp, Size: f.sections[secData].length}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(x, y segment.RemoteSegment) int { return cmp.Compare(x.BaseOffset, y.BaseOffset) })
	return out, nil
}

// objectSize returns the size of the object for base: known from a
// listing or an upload, or else listed now (once; the caller retries).
func (a *Archiver) objectSize(ctx context.Context, base int64) (int64, error) {
	a.sizesMu.Lock()
	size, ok := a.sizes[base]
	a.sizesMu.Unlock()
	if ok {
		return size, nil
	}
	size, err := a.listSizeOnce(ctx, a.Key(base))
	if err != nil {
		return 0, err
	}
	a.setSize(base, size)
	return size, nil
}

func (a *Archiver) dropSize(base int64) {
	a.sizesMu.Lock()
	delete(a.sizes, base)
	a.sizesMu.Unlock()
}

// footer returns the checked footer of the object for base. A footer that
// does not check out makes the next attempt list the object's size again:
// another process may have replaced the object since the size was learnt.
func (a *Archiver) footer(ctx context.Context, base int64) (*footer, error) {
	if v, ok := a.cache.get(cacheKey{base, kindFooter}); ok {
		return v.(*footer), nil
	}
	key := a.Key(base)
	var f footer
	err := a.retry(ctx, func() error {
		size, err := a.objectSize(ctx, base)
		if err != nil {
			return err
		}
		if size < headerSize+footerSize {
			a.dropSize(base)
			return &CorruptObjectError{Key: key, Section: "footer", Reason: fmt.Sprintf("object of %d bytes is too small", size)}
		}
		b, err := a.readRange(ctx, key, size-footerSize, footerSize)
		if err != nil {
			return err
		}
		var why string
		if f, why = decodeFooter(b, size, base); why != "" {
			a.dropSize(base)
			return &CorruptObjectError{Key: key, Section: "footer", Reason: why}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.cache.add(cacheKey{base, kindFooter}, &f, footerSize)
	return &f, nil
}

// checkedFooter returns the footer for seg, checking it describes seg. A
// cached footer that does not is dropped and read again first: the object
// may have been replaced.
func (a *Archiver) checkedFooter(ctx context.Context, seg segment.RemoteSegment) (*footer, error) {
	f, err := a.footer(ctx, seg.BaseOffset)
	if err != nil {
		return nil, err
	}
	if f.next != seg.NextOffset {
		a.forget(seg.BaseOffset)
		if f, err = a.footer(ctx, seg.BaseOffset); err != nil {
			return nil, err
		}
	}
	if f.next != seg.NextOffset {
		return nil, &MismatchError{Key: a.Key(seg.BaseOffset), WantBase: seg.BaseOffset, WantNext: seg.NextOffset, StoredBase: f.base, StoredNx: f.next}
	}
	return f, nil
}

// sectionBytes fetches section sec of the object for f and checks its CRC.
func (a *Archiver) sectionBytes(ctx context.Context, f *footer, sec int) ([]byte, error) {
	key := a.Key(f.base)
	s := f.sections[sec]
	b, err := a.readRange(ctx, key, s.off, s.length)
	if err != nil {
		return nil, err
	}
	if c := crc32.Checksum(b, castagnoli); c != s.crc {
		return nil, &CorruptObjectError{Key: key, Section: sectionNames[sec], Reason: fmt.Sprintf("CRC %#08x, footer says %#08x", c, s.crc)}
	}
	return b, nil
}

// decoded returns section sec of the object for f decoded by decode,
// through the cache.
func decoded[T any](ctx context.Context, a *Archiver, f *footer, sec int, kind uint8, decode func([]byte) (T, error)) (T, error) {
	var zero T
	k := cacheKey{f.base, kind}
	if v, ok := a.cache.get(k); ok {
		return v.(T), nil
	}
	var out T
	err := a.retry(ctx, func() error {
		b, err := a.sectionBytes(ctx, f, sec)
		if err != nil {
			return err
		}
		if out, err = decode(b); err != nil {
			return &CorruptObjectError{Key: a.Key(f.base), Section: sectionNames[sec], Reason: err.Error(), Err: err}
		}
		return nil
	})
	if err != nil {
		return zero, err
	}
	a.cache.add(k, out, f.sections[sec].length)
	return out, nil
}

func (a *Archiver) offsetIndex(ctx context.Context, f *footer) (*segment.OffsetIndex, error) {
	return decoded(ctx, a, f, secIndex, kindIndex, segment.DecodeOffsetIndex)
}

func (a *Archiver) timeIndex(ctx context.Context, f *footer) (*segment.TimeIndex, error) {
	return decoded(ctx, a, f, secTimeIndex, kindTimeIndex, segment.DecodeTimeIndex)
}

func (a *Archiver) bloom(ctx context.Context, f *footer) (*segment.Bloom, error) {
	return decoded(ctx, a, f, secBloom, kindBloom, segment.DecodeBloom)
}

// Read returns whole batches of seg starting with the batch that contains
// offset (or the first after it): at least one batch, otherwise at most
// maxBytes, byte-exact as archived (Kafka's fetch rule, KIP-74, as
// segment.ReadSegment applies it). It fetches the footer and offset index
// (cached) and then only the data ranges the index points to. Every batch
// returned has had its CRC-32C checked.
func (a *Archiver) Read(ctx context.Context, seg segment.RemoteSegment, offset int64, maxBytes int) ([]byte, error) {
	if offset >= seg.NextOffset {
		return nil, nil
	}
	f, err := a.checkedFooter(ctx, seg)
	if err != nil {
		return nil, fmt.Errorf("tier: read %d: %w", seg.BaseOffset, err)
	}
	idx, err := a.offsetIndex(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("tier: read %d: %w", seg.BaseOffset, err)
	}
	key := a.Key(f.base)
	var out []byte
	err = a.retry(ctx, func() error {
		ra := a.dataReader(ctx, f)
		b, err := segment.ReadSegment(ra, f.sections[secData].length, idx, offset, maxBytes, f.next)
		if err != nil {
			return asCorrupt(key, err)
		}
		if err := checkBatches(key, b); err != nil {
			return err
		}
		out = b
		return nil
	})
	if err != nil {
		a.forgetIfCorrupt(seg.BaseOffset, err)
		return nil, fmt.Errorf("tier: read %d at offset %d: %w", seg.BaseOffset, offset, err)
	}
	return out, nil
}

// forgetIfCorrupt drops what is cached about the segment at base when err
// reports corruption, so that the next call starts from a fresh footer (the
// object may have been replaced since it was cached).
func (a *Archiver) forgetIfCorrupt(base int64, err error) {
	var ce *CorruptObjectError
	if errors.As(err, &ce) {
		a.forget(base)
	}
}

// checkBatches verifies the CRC-32C of every batch in b.
func checkBatches(key string, b []byte) error {
	for p := 0; p < len(b); {
		if len(b)-p < record.HeaderSize {
			return &CorruptObjectError{Key: key, Section: "data", Reason: fmt.Sprintf("%d stray bytes after the batches", len(b)-p)}
		}
		h := record.ReadHeader(b[p:])
		n := h.Size()
		if h.BatchLength < minBatchLength || n > len(b)-p {
			return &CorruptObjectError{Key: key, Section: "data", Reason: fmt.Sprintf("batch at offset %d has bad length %d", h.BaseOffset, h.BatchLength)}
		}
		if !record.CRCValid(b[p : p+n]) {
			return &CorruptObjectError{Key: key, Section: "data", Reason: fmt.Sprintf("batch at offset %d fails its CRC", h.BaseOffset)}
		}
		p += n
	}
	return nil
}

// asCorrupt turns the segment package's framing error into a
// CorruptObjectError, leaving other errors as they are.
func asCorrupt(key string, err error) error {
	var ce *segment.CorruptionError
	if errors.As(err, &ce) {
		return &CorruptObjectError{Key: key, Section: "data", Reason: fmt.Sprintf("at data byte %d: %s", ce.FilePos, ce.Reason)}
	}
	return err
}

// OffsetForTime returns the offset of the first record of seg whose
// timestamp is at least ts (Kafka's LogSegment.findOffsetByTimestamp, as
// segment.SegmentOffsetForTime applies it), reading the time and offset
// indexes and then only the batches they point to.
func (a *Archiver) OffsetForTime(ctx context.Context, seg segment.RemoteSegment, ts int64) (int64, bool, error) {
	f, err := a.checkedFooter(ctx, seg)
	if err != nil {
		return 0, false, fmt.Errorf("tier: offset for time in %d: %w", seg.BaseOffset, err)
	}
	if f.maxTimestamp < ts {
		return 0, false, nil
	}
	idx, err := a.offsetIndex(ctx, f)
	if err != nil {
		return 0, false, fmt.Errorf("tier: offset for time in %d: %w", seg.BaseOffset, err)
	}
	tidx, err := a.timeIndex(ctx, f)
	if err != nil {
		return 0, false, fmt.Errorf("tier: offset for time in %d: %w", seg.BaseOffset, err)
	}
	key := a.Key(f.base)
	var off int64
	var found bool
	err = a.retry(ctx, func() error {
		var err error
		off, found, err = segment.SegmentOffsetForTime(a.dataReader(ctx, f), f.sections[secData].length, idx, tidx, ts)
		return asCorrupt(key, err)
	})
	if err != nil {
		a.forgetIfCorrupt(seg.BaseOffset, err)
		return 0, false, fmt.Errorf("tier: offset for time in %d: %w", seg.BaseOffset, err)
	}
	return off, found, nil
}

// MayContainKey consults seg's archived bloom filter: false means no record
// of seg has key.
func (a *Archiver) MayContainKey(ctx context.Context, seg segment.RemoteSegment, key []byte) (bool, error) {
	f, err := a.checkedFooter(ctx, seg)
	if err != nil {
		return false, fmt.Errorf("tier: bloom of %d: %w", seg.BaseOffset, err)
	}
	b, err := a.bloom(ctx, f)
	if ve := (*segment.BloomVersionError)(nil); errors.As(err, &ve) {
		// Archived by a version that hashed keys differently: the filter
		// cannot rule the key out.
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("tier: bloom of %d: %w", seg.BaseOffset, err)
	}
	return b.MayContain(key), nil
}

// Delete removes seg's object; a missing object is not an error.
func (a *Archiver) Delete(ctx context.Context, seg segment.RemoteSegment) error {
	key := a.Key(seg.BaseOffset)
	a.forget(seg.BaseOffset)
	err := a.retry(ctx, func() error { return a.store.Delete(ctx, key) })
	if err != nil {
		return fmt.Errorf("tier: delete %s: %w", key, err)
	}
	return nil
}

// readRange fetches length bytes of key at off; fewer is an error.
func (a *Archiver) readRange(ctx context.Context, key string, off, length int64) ([]byte, error) {
	rc, err := a.store.Get(ctx, key, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b := make([]byte, length)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("tier: reading %d bytes of %s at %d: %w", length, key, off, err)
	}
	return b, nil
}

// retry runs fn until it succeeds, fails permanently, or has been retried
// ReadRetries times, sleeping RetryMin, 2*RetryMin, ... (at most RetryMax)
// between attempts. Not found, closed and context errors are permanent.
func (a *Archiver) retry(ctx context.Context, fn func() error) error {
	backoff := a.opts.RetryMin
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || attempt >= a.opts.ReadRetries || permanent(ctx, err) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
		backoff = min(2*backoff, a.opts.RetryMax)
	}
}

func permanent(ctx context.Context, err error) bool {
	var ve *segment.BloomVersionError
	return ctx.Err() != nil ||
		errors.As(err, &ve) ||
		errors.Is(err, storage.ErrNotFound) ||
		errors.Is(err, storage.ErrClosed) ||
		errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
}

// dataReader returns an io.ReaderAt over the data section of the object for
// f: each read outside the last window fetched is one ranged Get.
func (a *Archiver) dataReader(ctx context.Context, f *footer) *rangeReader {
	s := f.sections[secData]
	return &rangeReader{ctx: ctx, a: a, key: a.Key(f.base), base: s.off, size: s.length}
}

// rangeReader reads a section of an object with ranged Gets, keeping the
// last range fetched so that reads within it cost nothing. It is used by
// one goroutine at a time.
type rangeReader struct {
	ctx    context.Context
	a      *Archiver
	key    string
	base   int64 // the section's offset in the object
	size   int64 // the section's length
	win    []byte
	winOff int64 // section offset of win[0]
}

func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("tier: negative read offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.size-off)
	if off < r.winOff || off+want > r.winOff+int64(len(r.win)) {
		b, err := r.a.readRange(r.ctx, r.key, r.base+off, want)
		if err != nil {
			return 0, err
		}
		r.win, r.winOff = b, off
	}
	n := copy(p, r.win[off-r.winOff:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
