// Package storagetest is the conformance suite for storage.ObjectStore.
// Every implementation, in this module or a host's, runs it from its own
// tests:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return open(t) })
//	}
//
// The suite checks the contract written on storage.ObjectStore: whole-or-
// nothing writes, ranged reads, ordered and paged listing, not-found and
// closed errors, context cancellation and concurrent writers.
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/storage"
)

// LargeObjectSize is the size of the object the large-object test writes:
// above 16 MiB and not a multiple of any part size, so S3, GCS and Azure
// writers all go through their multipart (or block) upload path with a
// short last part.
const LargeObjectSize = 16<<20 + 12345

// PageObjects is how many objects the pagination test lists: more than the
// 1000-key page of S3, GCS and Azure, so the store must follow page tokens.
const PageObjects = 1100

// Run runs every conformance test as a subtest of t. open must return a
// ready store each time it is called; stores it returns may share one
// backend (one bucket), because each subtest writes only under its own
// unique key prefix and deletes what it wrote. Run closes each store it
// opens.
func Run(t *testing.T, open func(t *testing.T) storage.ObjectStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"PutGet", testPutGet},
		{"EmptyObject", testEmptyObject},
		{"RangedGet", testRangedGet},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"ListPrefixAndOrder", testListPrefixAndOrder},
		{"ListCallbackError", testListCallbackError},
		{"ListPagination", testListPagination},
		{"Delete", testDelete},
		{"LargeObject", testLargeObject},
		{"CancelledContext", testCancelledContext},
		{"CancelDuringPut", testCancelDuringPut},
		{"FailingReader", testFailingReader},
		{"ShortReader", testShortReader},
		{"ConcurrentDifferentKeys", testConcurrentDifferentKeys},
		{"ConcurrentSameKey", testConcurrentSameKey},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, open)
			tc.fn(t, h)
		})
	}
}

// harness is one subtest's store and key prefix.
type harness struct {
	open   func(t *testing.T) storage.ObjectStore
	store  storage.ObjectStore
	prefix string
}

func newHarness(t *testing.T, open func(t *testing.T) storage.ObjectStore) *harness {
	t.Helper()
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatal(err)
	}
	h := &harness{
		open:   open,
		store:  open(t),
		prefix: fmt.Sprintf("storagetest/%s-%d-%s/", strings.ReplaceAll(t.Name(), "/", "-"), time.Now().UnixNano(), hex.EncodeToString(id[:])),
	}
	t.Cleanup(func() {
		store := h.store
		if store == nil {
			store = open(t)
		}
		removeAll(t, store, h.prefix)
		_ = store.Close()
	})
	return h
}

// key returns name under the subtest's prefix.
func (h *harness) key(name string) string { return h.prefix + name }

// removeAll deletes every object under prefix, reporting (not failing on)
// errors: it runs in cleanup, after the test has had its say.
func removeAll(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var keys []string
	if err := s.List(ctx, prefix, func(o storage.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		t.Logf("cleanup: list %q: %v", prefix, err)
		return
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Logf("cleanup: delete %q: %v", k, err)
		}
	}
}

func put(t *testing.T, s storage.ObjectStore, key string, data []byte) {
	t.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

func getErr(s storage.ObjectStore, key string, offset, length int64) ([]byte, error) {
	rc, err := s.Get(context.Background(), key, offset, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func get(t *testing.T, s storage.ObjectStore, key string, offset, length int64) []byte {
	t.Helper()
	b, err := getErr(s, key, offset, length)
	if err != nil {
		t.Fatalf("Get(%q, %d, %d): %v", key, offset, length, err)
	}
	return b
}

func list(t *testing.T, s storage.ObjectStore, prefix string) []storage.ObjectInfo {
	t.Helper()
	var out []storage.ObjectInfo
	if err := s.List(context.Background(), prefix, func(o storage.ObjectInfo) error {
		out = append(out, o)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func keysOf(infos []storage.ObjectInfo) []string {
	keys := make([]string, len(infos))
	for i, o := range infos {
		keys[i] = o.Key
	}
	return keys
}

// assertAbsent fails unless Get of key gives ErrNotFound and List does not
// show it.
func assertAbsent(t *testing.T, s storage.ObjectStore, key string) {
	t.Helper()
	b, err := getErr(s, key, 0, -1)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(%q) = %d bytes, %v; want ErrNotFound", key, len(b), err)
	}
	for _, o := range list(t, s, key) {
		if o.Key == key {
			t.Fatalf("List shows %q (%d bytes) that should not exist", key, o.Size)
		}
	}
}

// randomBytes returns n bytes from a seeded generator, so a failure is
// reproducible from the seed in the test log.
func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0], s[1], s[2], s[3] = byte(seed), byte(seed>>8), byte(seed>>16), byte(seed>>24)
	b := make([]byte, n)
	_, _ = mrand.NewChaCha8(s).Read(b)
	return b
}

func testPutGet(t *testing.T, h *harness) {
	for i, name := range []string{"plain.seg", "dir/sub dir/ünïcode-ключ 1.seg"} {
		key := h.key(name)
		data := randomBytes(uint64(i+1), 1000+i)
		put(t, h.store, key, data)
		if got := get(t, h.store, key, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("Get(%q) returned %d bytes that differ from the %d put", key, len(got), len(data))
		}
		infos := list(t, h.store, key)
		if len(infos) != 1 || infos[0].Key != key || infos[0].Size != int64(len(data)) {
			t.Fatalf("List(%q) = %+v; want one object of %d bytes", key, infos, len(data))
		}
		if infos[0].ModTime.IsZero() {
			t.Errorf("List(%q) gave a zero ModTime", key)
		}
	}
}

func testEmptyObject(t *testing.T, h *harness) {
	key := h.key("empty")
	put(t, h.store, key, nil)
	if got := get(t, h.store, key, 0, -1); len(got) != 0 {
		t.Fatalf("Get of empty object returned %d bytes", len(got))
	}
	if got := get(t, h.store, key, 0, 10); len(got) != 0 {
		t.Fatalf("ranged Get of empty object returned %d bytes", len(got))
	}
	infos := list(t, h.store, key)
	if len(infos) != 1 || infos[0].Size != 0 {
		t.Fatalf("List(%q) = %+v; want one object of 0 bytes", key, infos)
	}
}

func testRangedGet(t *testing.T, h *harness) {
	key := h.key("ranged")
	data := []byte("abcdefghijklmnopqrstuvwxyz")
	n := int64(len(data))
	put(t, h.store, key, data)
	cases := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"whole", 0, -1, data},
		{"whole with other negative length", 0, -7, data},
		{"middle", 10, 5, data[10:15]},
		{"offset to end", 20, -1, data[20:]},
		{"prefix", 0, 3, data[:3]},
		{"last byte", n - 1, 1, data[n-1:]},
		{"exact end", 6, n - 6, data[6:]},
		{"zero length", 4, 0, nil},
		{"zero length at end", n, 0, nil},
		{"length past end", 20, 100, data[20:]},
		{"offset at end", n, -1, nil},
		{"offset at end with length", n, 5, nil},
		{"offset past end", n + 100, 5, nil},
		{"offset past end to end", n + 100, -1, nil},
	}
	for _, c := range cases {
		got, err := getErr(h.store, key, c.offset, c.length)
		if err != nil {
			t.Errorf("%s: Get(%d, %d): %v", c.name, c.offset, c.length, err)
			continue
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("%s: Get(%d, %d) = %q; want %q", c.name, c.offset, c.length, got, c.want)
		}
	}
	if _, err := getErr(h.store, key, -1, 5); err == nil {
		t.Errorf("Get with negative offset succeeded")
	}
}

func testNotFound(t *testing.T, h *harness) {
	key := h.key("missing")
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {5, 10}} {
		if _, err := getErr(h.store, key, r[0], r[1]); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("Get(missing, %d, %d) error = %v; want ErrNotFound", r[0], r[1], err)
		}
	}
	if got := list(t, h.store, h.prefix); len(got) != 0 {
		t.Errorf("List of an unused prefix = %v; want nothing", keysOf(got))
	}
	if err := h.store.Delete(context.Background(), key); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
}

func testOverwrite(t *testing.T, h *harness) {
	key := h.key("over")
	long := randomBytes(1, 5000)
	short := randomBytes(2, 300)
	put(t, h.store, key, long)
	put(t, h.store, key, short)
	if got := get(t, h.store, key, 0, -1); !bytes.Equal(got, short) {
		t.Fatalf("after overwrite with 300 bytes Get returned %d bytes (first write had 5000)", len(got))
	}
	put(t, h.store, key, short) // idempotent for the same content
	if got := get(t, h.store, key, 0, -1); !bytes.Equal(got, short) {
		t.Fatalf("after re-put of the same content Get returned different bytes")
	}
	if infos := list(t, h.store, key); len(infos) != 1 || infos[0].Size != int64(len(short)) {
		t.Fatalf("List after overwrite = %+v; want one object of %d bytes", infos, len(short))
	}
}

func testListPrefixAndOrder(t *testing.T, h *harness) {
	names := []string{
		"b/2", "a/1", "a/2/x", "a/2/y", "ab", "a0", "B", "c", "b/10", "b/1",
		"z/deep/er/still.seg", "00000000000000000010.seg", "00000000000000000009.seg",
	}
	for i, n := range names {
		put(t, h.store, h.key(n), []byte(strings.Repeat("x", i)))
	}
	full := make([]string, len(names))
	for i, n := range names {
		full[i] = h.key(n)
	}
	want := slices.Clone(full)
	slices.Sort(want)
	infos := list(t, h.store, h.prefix)
	if got := keysOf(infos); !slices.Equal(got, want) {
		t.Fatalf("List(prefix) =\n%q\nwant (lexical order)\n%q", got, want)
	}
	for _, o := range infos {
		i := slices.Index(full, o.Key)
		if o.Size != int64(i) {
			t.Errorf("List: %q has size %d; want %d", o.Key, o.Size, i)
		}
	}
	for _, c := range []struct {
		sub  string
		want []string
	}{
		{"a", []string{"a/1", "a/2/x", "a/2/y", "a0", "ab"}},
		{"a/", []string{"a/1", "a/2/x", "a/2/y"}},
		{"a/2", []string{"a/2/x", "a/2/y"}},
		{"b/1", []string{"b/1", "b/10"}},
		{"z/deep/", []string{"z/deep/er/still.seg"}},
		{"000", []string{"00000000000000000009.seg", "00000000000000000010.seg"}},
		{"nothing", nil},
	} {
		var wantKeys []string
		for _, w := range c.want {
			wantKeys = append(wantKeys, h.key(w))
		}
		if got := keysOf(list(t, h.store, h.key(c.sub))); !slices.Equal(got, wantKeys) {
			t.Errorf("List(%q) = %q; want %q", c.sub, got, wantKeys)
		}
	}
}

func testListCallbackError(t *testing.T, h *harness) {
	for _, n := range []string{"1", "2", "3"} {
		put(t, h.store, h.key(n), []byte(n))
	}
	stop := errors.New("stop here")
	calls := 0
	err := h.store.List(context.Background(), h.prefix, func(storage.ObjectInfo) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("List returned %v; want the callback's error", err)
	}
	if calls != 1 {
		t.Fatalf("callback called %d times after returning an error; want 1", calls)
	}
}

func testListPagination(t *testing.T, h *harness) {
	const workers = 8
	var (
		wg   sync.WaitGroup
		errs = make(chan error, workers)
		next = make(chan int)
	)
	for range workers {
		wg.Go(func() {
			for i := range next {
				k := h.key(fmt.Sprintf("page/%04d", i))
				if err := h.store.Put(context.Background(), k, strings.NewReader(k), int64(len(k))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range PageObjects {
			select {
			case next <- i:
			case <-time.After(time.Minute):
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Put: %v", err)
	}
	infos := list(t, h.store, h.key("page/"))
	if len(infos) != PageObjects {
		t.Fatalf("List over %d objects returned %d", PageObjects, len(infos))
	}
	for i, o := range infos {
		if want := h.key(fmt.Sprintf("page/%04d", i)); o.Key != want || o.Size != int64(len(want)) {
			t.Fatalf("List entry %d = %q (%d bytes); want %q (%d bytes)", i, o.Key, o.Size, want, len(want))
		}
	}
	if got := list(t, h.store, h.key("page/10")); len(got) != 100 {
		t.Fatalf("List(page/10) returned %d objects; want 100", len(got))
	}
}

func testDelete(t *testing.T, h *harness) {
	key, other := h.key("del"), h.key("keep")
	put(t, h.store, key, []byte("doomed"))
	put(t, h.store, other, []byte("kept"))
	if err := h.store.Delete(context.Background(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	assertAbsent(t, h.store, key)
	if err := h.store.Delete(context.Background(), key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if got := get(t, h.store, other, 0, -1); string(got) != "kept" {
		t.Fatalf("Delete removed a neighbour: Get(keep) = %q", got)
	}
	put(t, h.store, key, []byte("reborn"))
	if got := get(t, h.store, key, 0, -1); string(got) != "reborn" {
		t.Fatalf("Put after Delete: Get = %q", got)
	}
}

func testLargeObject(t *testing.T, h *harness) {
	key := h.key("large")
	data := randomBytes(7, LargeObjectSize)
	put(t, h.store, key, data)
	if got := get(t, h.store, key, 0, -1); !bytes.Equal(got, data) {
		t.Fatalf("large object: Get returned %d bytes that differ from the %d put", len(got), len(data))
	}
	for _, r := range [][2]int64{
		{5<<20 - 10, 20},          // across a 5 MiB part boundary
		{8<<20 - 100, 200},        // across an 8 MiB part boundary
		{LargeObjectSize - 5, -1}, // the short last part
		{1 << 20, 4 << 20},
	} {
		end := int64(len(data))
		if r[1] >= 0 {
			end = r[0] + r[1]
		}
		if got := get(t, h.store, key, r[0], r[1]); !bytes.Equal(got, data[r[0]:end]) {
			t.Fatalf("large object: Get(%d, %d) returned wrong bytes", r[0], r[1])
		}
	}
	infos := list(t, h.store, key)
	if len(infos) != 1 || infos[0].Size != LargeObjectSize {
		t.Fatalf("List(large) = %+v; want one object of %d bytes", infos, LargeObjectSize)
	}
}

func testCancelledContext(t *testing.T, h *harness) {
	existing := h.key("existing")
	put(t, h.store, existing, []byte("old"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := h.key("fresh")
	if err := h.store.Put(ctx, fresh, strings.NewReader("data"), 4); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with cancelled ctx: %v; want context.Canceled", err)
	}
	if err := h.store.Put(ctx, existing, strings.NewReader("new!"), 4); !errors.Is(err, context.Canceled) {
		t.Errorf("overwriting Put with cancelled ctx: %v; want context.Canceled", err)
	}
	if rc, err := h.store.Get(ctx, existing, 0, -1); !errors.Is(err, context.Canceled) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get with cancelled ctx: %v; want context.Canceled", err)
	}
	if err := h.store.List(ctx, h.prefix, func(storage.ObjectInfo) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("List with cancelled ctx: %v; want context.Canceled", err)
	}
	if err := h.store.Delete(ctx, existing); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with cancelled ctx: %v; want context.Canceled", err)
	}
	assertAbsent(t, h.store, fresh)
	if got := get(t, h.store, existing, 0, -1); string(got) != "old" {
		t.Errorf("after cancelled calls the existing object reads %q; want %q", got, "old")
	}
}

// hookReader delivers data and calls hook (once) when at reaches the given
// offset; the hook's error, if any, is returned from that Read on.
type hookReader struct {
	data []byte
	pos  int
	at   int
	hook func() error
	err  error
}

func (r *hookReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.pos == r.at && r.hook != nil {
		h := r.hook
		r.hook = nil
		if err := h(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if r.pos >= len(r.data) {
		return 0, io.EOF
	}
	limit := len(r.data)
	if r.pos < r.at {
		limit = r.at
	}
	n := copy(p, r.data[r.pos:limit])
	r.pos += n
	return n, nil
}

func testCancelDuringPut(t *testing.T, h *harness) {
	for _, size := range []int{64 << 10, 6 << 20} {
		for _, overwrite := range []bool{false, true} {
			key := h.key(fmt.Sprintf("cancel-%d-%v", size, overwrite))
			if overwrite {
				put(t, h.store, key, []byte("previous"))
			}
			ctx, cancel := context.WithCancel(context.Background())
			data := randomBytes(uint64(size), size)
			r := &hookReader{data: data, at: size / 2, hook: func() error { cancel(); return nil }}
			err := h.store.Put(ctx, key, r, int64(size))
			cancel()
			if err == nil {
				t.Fatalf("Put of %d bytes whose ctx was cancelled half way succeeded", size)
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Put cancelled half way: %v; want context.Canceled", err)
			}
			if overwrite {
				if got := get(t, h.store, key, 0, -1); string(got) != "previous" {
					t.Fatalf("cancelled overwrite of %d bytes left %d bytes; want the previous object", size, len(got))
				}
			} else {
				assertAbsent(t, h.store, key)
			}
		}
	}
}

func testFailingReader(t *testing.T, h *harness) {
	boom := errors.New("reader broke")
	for _, size := range []int{10 << 10, 6 << 20} {
		for _, overwrite := range []bool{false, true} {
			key := h.key(fmt.Sprintf("fail-%d-%v", size, overwrite))
			if overwrite {
				put(t, h.store, key, []byte("previous"))
			}
			r := &hookReader{data: randomBytes(3, size), at: size / 2, hook: func() error { return boom }}
			err := h.store.Put(context.Background(), key, r, int64(size))
			if !errors.Is(err, boom) {
				t.Fatalf("Put from a reader that failed half way: %v; want the reader's error", err)
			}
			if overwrite {
				if got := get(t, h.store, key, 0, -1); string(got) != "previous" {
					t.Fatalf("failed overwrite of %d bytes left %d bytes; want the previous object", size, len(got))
				}
			} else {
				assertAbsent(t, h.store, key)
			}
		}
	}
}

func testShortReader(t *testing.T, h *harness) {
	key := h.key("short")
	if err := h.store.Put(context.Background(), key, strings.NewReader("only 13 bytes"), 100); err == nil {
		t.Fatalf("Put of 100 bytes from a 13-byte reader succeeded")
	}
	assertAbsent(t, h.store, key)
	// A longer reader is read only up to size.
	put(t, h.store, key, nil)
	if err := h.store.Put(context.Background(), key, strings.NewReader("0123456789"), 4); err != nil {
		t.Fatalf("Put of 4 bytes from a 10-byte reader: %v", err)
	}
	if got := get(t, h.store, key, 0, -1); string(got) != "0123" {
		t.Fatalf("Put of 4 bytes from a 10-byte reader stored %q", got)
	}
}

func testConcurrentDifferentKeys(t *testing.T, h *harness) {
	const writers = 16
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			data := randomBytes(uint64(100+i), 10000+i*1000)
			k := h.key(fmt.Sprintf("w%02d", i))
			if err := h.store.Put(context.Background(), k, bytes.NewReader(data), int64(len(data))); err != nil {
				errs <- err
				return
			}
			got, err := getErr(h.store, k, 0, -1)
			if err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(got, data) {
				errs <- fmt.Errorf("writer %d read back %d bytes that differ from its %d", i, len(got), len(data))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := list(t, h.store, h.prefix); len(got) != writers {
		t.Fatalf("List after %d concurrent writers shows %d objects", writers, len(got))
	}
}

// sameKeyContent is writer i's object in the same-key test: every byte is
// i, and its length is unique to i, so any mix of two writes is detectable.
func sameKeyContent(i int) []byte {
	return bytes.Repeat([]byte{byte(i)}, 200<<10+i*4099)
}

// checkWhole reports whether b is exactly one writer's sameKeyContent.
func checkWhole(b []byte, writers int) error {
	if len(b) == 0 {
		return errors.New("read an empty object")
	}
	i := int(b[0])
	if i >= writers || !bytes.Equal(b, sameKeyContent(i)) {
		return fmt.Errorf("read %d bytes starting with %d that are no single writer's whole object", len(b), b[0])
	}
	return nil
}

func testConcurrentSameKey(t *testing.T, h *harness) {
	const writers = 8
	key := h.key("same")
	put(t, h.store, key, sameKeyContent(0))
	var (
		wg      sync.WaitGroup
		errs    = make(chan error, 2*writers)
		stop    = make(chan struct{})
		readers sync.WaitGroup
	)
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := getErr(h.store, key, 0, -1)
				if err == nil {
					err = checkWhole(b, writers)
				}
				if err != nil {
					errs <- fmt.Errorf("reader during concurrent writes: %w", err)
					return
				}
			}
		})
	}
	for i := 1; i < writers; i++ {
		wg.Go(func() {
			data := sameKeyContent(i)
			for range 3 {
				if err := h.store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := checkWhole(get(t, h.store, key, 0, -1), writers); err != nil {
		t.Fatalf("after concurrent writers: %v", err)
	}
	if infos := list(t, h.store, key); len(infos) != 1 {
		t.Fatalf("List after concurrent writes to one key shows %d objects", len(infos))
	}
}

func testClose(t *testing.T, h *harness) {
	key := h.key("closing")
	put(t, h.store, key, []byte("before close"))
	s := h.store
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	h.store = nil // cleanup reopens to delete what is left
	ctx := context.Background()
	if err := s.Put(ctx, key, strings.NewReader("x"), 1); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Put after Close: %v; want ErrClosed", err)
	}
	if rc, err := s.Get(ctx, key, 0, -1); !errors.Is(err, storage.ErrClosed) {
		if err == nil {
			rc.Close()
		}
		t.Errorf("Get after Close: %v; want ErrClosed", err)
	}
	if err := s.List(ctx, "", func(storage.ObjectInfo) error { return nil }); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("List after Close: %v; want ErrClosed", err)
	}
	if err := s.Delete(ctx, key); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("Delete after Close: %v; want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Errorf("second Close: %v; want ErrClosed", err)
	}
}
