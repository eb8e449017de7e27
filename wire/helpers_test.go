package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/protocol"
)

func strp(s string) *string { return &s }

// eqBytes compares nullable bytes: nil (null) differs from empty.
func eqBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

// eqStrp compares nullable strings.
func eqStrp(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func showStrp(s *string) string {
	if s == nil {
		return "<null>"
	}
	return fmt.Sprintf("%q", *s)
}

// pattern returns n bytes that differ from one call site to the next.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i*7)
	}
	return b
}

// kgoRecordSet encodes records with segmentio/kafka-go: a magic-1 message
// set for version 1, a v2 record batch for version 2. kafka-go writes the
// records field whole, int32 size first; the size is stripped here, so the
// result is what a ProducePartition's Records holds.
func kgoRecordSet(t testing.TB, version int8, attrs protocol.Attributes, values ...string) []byte {
	t.Helper()
	t0 := time.UnixMilli(1_700_000_000_000)
	recs := make([]protocol.Record, len(values))
	for i, v := range values {
		recs[i] = protocol.Record{
			Offset: int64(i),
			Time:   t0.Add(time.Duration(i) * time.Millisecond),
			Key:    protocol.NewBytes([]byte(fmt.Sprintf("k%d", i))),
			Value:  protocol.NewBytes([]byte(v)),
		}
	}
	rs := protocol.RecordSet{Version: version, Attributes: attrs, Records: protocol.NewRecordReader(recs...)}
	var buf bytes.Buffer
	if _, err := rs.WriteTo(&buf); err != nil {
		t.Fatalf("kafka-go RecordSet.WriteTo: %v", err)
	}
	b := buf.Bytes()
	if int(binary.BigEndian.Uint32(b)) != len(b)-4 {
		t.Fatalf("kafka-go record set size prefix %x does not match %d bytes", b[:4], len(b)-4)
	}
	return b[4:]
}

// withSize prefixes b with its int32 size: the records field as kafka-go's
// RawRecordSet holds it.
func withSize(b []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// requireDecodeError fails unless err is a *DecodeError wrapping cause.
func requireDecodeError(t *testing.T, err, cause error) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if cause != nil && !errors.Is(err, cause) {
		t.Fatalf("error %v does not wrap %v", err, cause)
	}
	return de
}

// checkEveryPrefixFails decodes every strict prefix of a valid encoding and
// requires a *DecodeError for each (and no panic).
func checkEveryPrefixFails(t *testing.T, full []byte, decode func([]byte) error) {
	t.Helper()
	if err := decode(full); err != nil {
		t.Fatalf("full input: %v", err)
	}
	for n := 0; n < len(full); n++ {
		// A fresh copy of exactly n bytes, so that reading past it would
		// be caught by the race detector's bounds as well.
		in := append([]byte(nil), full[:n]...)
		err := decode(in)
		if err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded without error", n, len(full))
		}
		requireDecodeError(t, err, nil)
	}
}

// allocBytes is the average number of bytes f allocates per call.
func allocBytes(f func()) uint64 {
	f()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const runs = 50
	for range runs {
		f()
	}
	runtime.ReadMemStats(&m1)
	return (m1.TotalAlloc - m0.TotalAlloc) / runs
}
