package segment

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/internal/vfs"
)

func TestLookupKeySkipsSegments(t *testing.T) {
	clk := newClock(t0)
	opts := testOptions(vfs.NewCrashFS(nil), clk)
	opts.SegmentBytes = 4096
	l := mustOpen(t, "/p", opts)
	defer l.Close()
	// Every batch has 20 keys unique to it; segments hold a few batches.
	for i := range 120 {
		mustAppend(t, l, keyedBatch(t, t0+int64(i), fmt.Sprint("b", i), 20))
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	segs := l.Stats().Segments
	if segs < 20 {
		t.Fatalf("only %d segments", segs)
	}
	for i := 0; i < 120; i += 7 {
		recs, st, err := l.LookupKey(fmt.Appendf(nil, "b%d-3", i), 0)
		if err != nil || len(recs) != 1 || recs[0].Offset != int64(20*i+3) {
			t.Fatalf("b%d-3: %+v %v", i, recs, err)
		}
		if st.SegmentsScanned+st.SegmentsSkipped != segs || st.SegmentsScanned < 1 {
			t.Fatalf("stats %+v for %d segments", st, segs)
		}
		// At 1% false positives, at most a couple of extra segments are read.
		if st.SegmentsSkipped < segs-3 {
			t.Fatalf("only %d of %d segments skipped", st.SegmentsSkipped, segs)
		}
	}
	recs, st, err := l.LookupKey([]byte("absent"), 0)
	if err != nil || len(recs) != 0 || st.SegmentsSkipped < segs-3 {
		t.Fatalf("absent key: %d records, %+v, %v", len(recs), st, err)
	}
}

// TestLookupKeyNeverMisses is a property test: random batches (random codec,
// keys drawn from a small universe, some null) and random queries; LookupKey
// must return exactly what a brute-force scan of the appended records finds,
// newest first, before and after the index files are rebuilt.
func TestLookupKeyNeverMisses(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			clk := newClock(t0)
			opts := testOptions(vfs.NewCrashFS(nil), clk)
			opts.SegmentBytes = int64(1024 + rng.IntN(4096))
			opts.BloomFalsePositiveRate = []float64{0.5, 0.1, 0.01, 0.001}[seed%4]
			l := mustOpen(t, "/p", opts)
			type kv struct {
				off        int64
				key, value string
			}
			var model []kv
			universe := 5 + rng.IntN(60)
			for i := range 80 + rng.IntN(80) {
				n := 1 + rng.IntN(6)
				recs := make([]rec, n)
				for j := range recs {
					recs[j] = rec{ts: t0 + int64(i), value: fmt.Appendf(nil, "%d/%d", i, j)}
					if rng.IntN(8) != 0 {
						recs[j].key = fmt.Appendf(nil, "u%d", rng.IntN(universe))
					}
				}
				codec := compress.Codec(rng.IntN(5))
				b := buildBatch(t, codec, recs...)
				info := AppendInfo{}
				if rng.IntN(2) == 0 { // sometimes the caller passes the keys
					info.Keys = [][]byte{}
					for _, r := range recs {
						info.Keys = append(info.Keys, r.key)
					}
				}
				base, err := l.Append(b, info)
				if err != nil {
					t.Fatal(err)
				}
				for j, r := range recs {
					if r.key != nil {
						model = append(model, kv{base + int64(j), string(r.key), string(r.value)})
					}
				}
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			check := func(l *Log) {
				for q := range universe + 5 {
					key := fmt.Sprintf("u%d", q)
					limit := rng.IntN(4)
					var want []kv
					for i := len(model) - 1; i >= 0; i-- {
						if model[i].key == key && (limit == 0 || len(want) < limit) {
							want = append(want, model[i])
						}
					}
					recs, _, err := l.LookupKey([]byte(key), limit)
					if err != nil {
						t.Fatal(err)
					}
					var got []kv
					for _, r := range recs {
						got = append(got, kv{r.Offset, string(r.Key), string(r.Value)})
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("LookupKey(%s, %d) = %v, want %v", key, limit, got, want)
					}
				}
			}
			check(l)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			ents, _ := opts.FS.ReadDir("/p")
			for _, e := range ents {
				if !isLogFile(e.Name()) {
					opts.FS.Remove("/p/" + e.Name())
				}
			}
			l = mustOpen(t, "/p", opts)
			defer l.Close()
			check(l)
		})
	}
}
