package wire

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"runtime/metrics"
	"testing"
)

// Fuzz invariants, for every decoder: it never panics; it allocates at most
// allocFactor bytes per input byte plus allocSlack, whatever counts the
// input claims; and what it accepts survives decode → AppendTo → decode
// unchanged, with a second AppendTo byte-identical to the first.
const (
	allocFactor = 24
	allocSlack  = 1024
)

// fuzzVersion keeps in-range versions and folds the others into the range,
// so that the fuzzer does not spend its time on rejected versions.
func fuzzVersion(v, lo, hi int16) int16 {
	if v >= lo && v <= hi {
		return v
	}
	return lo + int16(uint16(v)%uint16(hi-lo+1))
}

// checkAllocs runs f and fails if it allocated more than the input allows.
//
// The cheap runtime/metrics counter screens every run. It accounts small
// objects late (when their span leaves the per-P cache) and also sees what
// the fuzzing engine's own goroutines allocate meanwhile, so an excess is
// then confirmed with the exact runtime.ReadMemStats, which stops the world
// and is too slow to run every time: the excess must show in three exact
// measurements, as a decoder's allocations are deterministic and the noise
// is not. Large allocations, the ones a lying count would cause, are
// accounted at once; a small excess shows at its size class's next span
// refill, within a few runs of similar inputs.
func checkAllocs(t *testing.T, inputLen int, f func()) {
	t.Helper()
	limit := uint64(allocFactor*inputLen + allocSlack)
	before, after := []metrics.Sample{{Name: heapAllocsMetric}}, []metrics.Sample{{Name: heapAllocsMetric}}
	metrics.Read(before)
	f()
	metrics.Read(after)
	if after[0].Value.Uint64()-before[0].Value.Uint64() <= limit {
		return
	}
	var got uint64
	for range 3 {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		f()
		runtime.ReadMemStats(&m1)
		if got = m1.TotalAlloc - m0.TotalAlloc; got <= limit {
			return
		}
	}
	t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", inputLen, got, limit)
}

const heapAllocsMetric = "/gc/heap/allocs:bytes"

// checkDecodeError requires failures to be typed.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("untyped error %T: %v", err, err)
	}
}

func FuzzDecodeProduceRequest(f *testing.F) {
	f.Add(int16(9), kmsgProduceRequest(9, strp("t"), true).AppendTo(nil))
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		v := fuzzVersion(version, ProduceMinVersion, ProduceMaxVersion)
		var r *ProduceRequest
		var err error
		checkAllocs(t, len(body), func() { r, err = DecodeProduceRequest(v, body) })
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc := r.AppendTo(nil)
		r2, err := DecodeProduceRequest(v, enc)
		if err != nil {
			t.Fatalf("re-decoding our encoding: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the request:\n %+v\n %+v", r, r2)
		}
		if !bytes.Equal(enc, r2.AppendTo(nil)) {
			t.Fatal("second encoding differs")
		}
		// Reusing a request gives the same result.
		var reused ProduceRequest
		if err := reused.Decode(v, enc); err != nil || reused.Decode(v, body) != nil || !bytes.Equal(reused.AppendTo(nil), enc) {
			t.Fatalf("reused decode differs: %v", err)
		}
	})
}

func FuzzDecodeProduceResponse(f *testing.F) {
	f.Add(int16(9), sampleProduceResponse(9).AppendTo(nil))
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		v := fuzzVersion(version, ProduceMinVersion, ProduceMaxVersion)
		var r *ProduceResponse
		var err error
		checkAllocs(t, len(body), func() { r, err = DecodeProduceResponse(v, body) })
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc := r.AppendTo(nil)
		r2, err := DecodeProduceResponse(v, enc)
		if err != nil {
			t.Fatalf("re-decoding our encoding: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the response:\n %+v\n %+v", r, r2)
		}
		if !bytes.Equal(enc, r2.AppendTo(nil)) {
			t.Fatal("second encoding differs")
		}
	})
}

func FuzzDecodeFetchRequest(f *testing.F) {
	f.Add(int16(12), sampleFetchRequest(12).AppendTo(nil))
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		v := fuzzVersion(version, FetchMinVersion, FetchMaxVersion)
		var r *FetchRequest
		var err error
		checkAllocs(t, len(body), func() { r, err = DecodeFetchRequest(v, body) })
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc := r.AppendTo(nil)
		r2, err := DecodeFetchRequest(v, enc)
		if err != nil {
			t.Fatalf("re-decoding our encoding: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the request:\n %+v\n %+v", r, r2)
		}
		if !bytes.Equal(enc, r2.AppendTo(nil)) {
			t.Fatal("second encoding differs")
		}
	})
}

func FuzzDecodeFetchResponse(f *testing.F) {
	f.Add(int16(12), sampleFetchResponse(12).AppendTo(nil))
	f.Fuzz(func(t *testing.T, version int16, body []byte) {
		v := fuzzVersion(version, FetchMinVersion, FetchMaxVersion)
		var r *FetchResponse
		var err error
		checkAllocs(t, len(body), func() { r, err = DecodeFetchResponse(v, body) })
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		enc := r.AppendTo(nil)
		r2, err := DecodeFetchResponse(v, enc)
		if err != nil {
			t.Fatalf("re-decoding our encoding: %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the response:\n %+v\n %+v", r, r2)
		}
		if !bytes.Equal(enc, r2.AppendTo(nil)) {
			t.Fatal("second encoding differs")
		}
	})
}

func FuzzParseRequestHeader(f *testing.F) {
	f.Add(AppendRequestHeader(nil, RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: 1, ClientID: strp("c")}))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var h RequestHeader
		var body []byte
		var err error
		checkAllocs(t, len(frame), func() { h, body, err = ParseRequestHeader(frame) })
		var uk *UnknownAPIKeyError
		if err != nil && !errors.As(err, &uk) {
			checkDecodeError(t, err)
			return
		}
		if len(body) > len(frame) || (len(body) > 0 && &body[len(body)-1] != &frame[len(frame)-1]) {
			t.Fatal("body is not the tail of the frame")
		}
		again := append(AppendRequestHeader(nil, h), body...)
		h2, body2, err2 := ParseRequestHeader(again)
		if (err2 == nil) != (err == nil) || !reflect.DeepEqual(h, h2) || !bytes.Equal(body, body2) {
			t.Fatalf("re-parse: %+v %x %v, want %+v %x %v", h2, body2, err2, h, body, err)
		}
	})
}
