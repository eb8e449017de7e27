package segment

import (
	"bytes"
	"hash/crc32"
	"testing"

	"github.com/chronik-go/chronik/internal/vfs"
	"github.com/chronik-go/chronik/record"
)

// Decoders never panic, never allocate more than the input allows, and
// whatever they accept encodes back to the same bytes. Each input is tried
// as is and with its trailing CRC recomputed, so that mutations reach the
// structural checks behind the CRC.

// inputs returns b and, when long enough, a copy whose last 4 bytes are
// the CRC-32C of the rest.
func inputs(b []byte) [][]byte {
	if len(b) < 4 {
		return [][]byte{b}
	}
	fixed := bytes.Clone(b)
	be.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], castagnoli))
	return [][]byte{b, fixed}
}

func FuzzDecodeOffsetIndex(f *testing.F) {
	f.Add((&OffsetIndex{BaseOffset: 5, LogSize: 100, NextOffset: 9, Entries: []IndexEntry{{0, 0}, {2, 40}}}).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, b := range inputs(in) {
			x, err := DecodeOffsetIndex(b)
			if err != nil {
				continue
			}
			if !bytes.Equal(x.Encode(), b) {
				t.Fatal("accepted bytes do not round-trip")
			}
			for _, e := range x.Entries {
				if off, pos := x.Lookup(x.BaseOffset + int64(e.RelOffset)); pos != int64(e.Position) || off != x.BaseOffset+int64(e.RelOffset) {
					t.Fatal("lookup of an entry's own offset misses it")
				}
			}
		}
	})
}

func FuzzDecodeTimeIndex(f *testing.F) {
	f.Add((&TimeIndex{BaseOffset: 5, LogSize: 100, NextOffset: 9, MaxTimestamp: 50, MaxTimestampOffset: 7, Entries: []TimeEntry{{10, 0}, {50, 2}}}).Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, b := range inputs(in) {
			x, err := DecodeTimeIndex(b)
			if err != nil {
				continue
			}
			if !bytes.Equal(x.Encode(), b) {
				t.Fatal("accepted bytes do not round-trip")
			}
			if len(x.Entries) > 0 && x.Lookup(x.Entries[0].Timestamp-1) != x.BaseOffset {
				t.Fatal("lookup below the first entry does not start at the segment base")
			}
		}
	})
}

// FuzzDecodeBloom also checks that a decoded filter keeps working: a key
// added is then reported, and adding it again counts nothing, unless the
// newest filter was full (then the key goes once into the next one).
func FuzzDecodeBloom(f *testing.F) {
	for _, n := range []int{0, 20, 1500} {
		b := NewBloom(0.1)
		for i := range n {
			b.Add([]byte{byte(i), byte(i >> 8)})
		}
		f.Add(b.Encode())
	}
	all := NewBloom(0.01)
	all.SetAll()
	f.Add(all.Encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, data := range inputs(in) {
			d, err := DecodeBloom(data)
			if err != nil {
				continue
			}
			if d.SizeBytes() > len(data) {
				t.Fatalf("%d filter bytes from %d input bytes", d.SizeBytes(), len(data))
			}
			if !bytes.Equal(d.Encode(), data) {
				t.Fatal("accepted bytes do not round-trip")
			}
			for i, bf := range d.filters {
				if bf.count > bf.capacity || bf.f.K() < 1 || bf.f.K() > d.maxK {
					t.Fatalf("filter %d: count %d of %d, k %d, largest k %d", i, bf.count, bf.capacity, bf.f.K(), d.maxK)
				}
			}
			d.MayContain([]byte("k"))
			d.Add([]byte("k"))
			if !d.MayContain([]byte("k")) {
				t.Fatal("false negative after Add")
			}
			keys, n := d.Keys(), len(d.filters)
			full := n > 0 && d.filters[n-1].count >= d.filters[n-1].capacity
			d.Add([]byte("k"))
			if got := d.Keys(); got != keys && !(full && got == keys+1 && len(d.filters) == n+1) {
				t.Fatalf("a repeated key was counted again: %d keys, then %d", keys, got)
			}
		}
	})
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Add(checkpoint{logStartOffset: 42}.encode())
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, b := range inputs(in) {
			c, err := decodeCheckpoint(b)
			if err == nil && !bytes.Equal(c.encode(), b) {
				t.Fatal("accepted bytes do not round-trip")
			}
		}
	})
}

// FuzzRecover writes three valid batches followed by arbitrary bytes as a
// segment's .log and opens the log: recovery must not panic, must keep the
// valid batches byte-exact, serve only CRC-valid batches with contiguous
// offsets, and give the same result when run again.
func FuzzRecover(f *testing.F) {
	valid := fuzzPrefix(f)
	f.Add(valid[:40])
	f.Add(append(append([]byte(nil), valid...), valid[:70]...))
	f.Fuzz(func(t *testing.T, tail []byte) {
		prefix := fuzzPrefix(t)
		fs := vfs.NewCrashFS(nil)
		fs.MkdirAll("/p", 0o755)
		vfs.WriteFile(fs, "/p/"+SegmentName(0, LogSuffix), append(prefix, tail...), 0o644)
		fs.SyncDir("/p")
		opts := Options{FS: fs, SegmentBytes: 1 << 20}
		l, err := Open("/p", opts)
		if err != nil {
			t.Fatal(err)
		}
		leo := l.NextOffset()
		if leo < 6 {
			t.Fatalf("valid prefix lost: LEO %d", leo)
		}
		data, err := l.Read(0, 1<<20, leo)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, prefix) {
			t.Fatal("valid prefix changed")
		}
		next := int64(0)
		for len(data) > 0 {
			h := record.ReadHeader(data)
			if h.BaseOffset != next || !record.CRCValid(data[:h.Size()]) {
				t.Fatalf("bad batch served at %d", next)
			}
			next = h.LastOffset() + 1
			data = data[h.Size():]
		}
		if next != leo {
			t.Fatalf("batches end at %d, LEO %d", next, leo)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, err = Open("/p", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.NextOffset() != leo {
			t.Fatalf("second recovery: LEO %d, first %d", l.NextOffset(), leo)
		}
	})
}

func fuzzPrefix(t testing.TB) []byte {
	var out []byte
	for i := range 3 {
		b := keyedBatch(t, t0, "f", 2)
		record.SetBaseOffset(b, int64(2*i))
		out = append(out, b...)
	}
	return out
}
