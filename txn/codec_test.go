package txn

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files and fuzz seeds under testdata")

// goldenTxn and goldenGroup are the records of the golden files: every
// field set, including the empty group id.
func goldenTxn() *record {
	return &record{
		state: PrepareCommit, producerID: 4242, epoch: 7, lastPID: 4241, lastEpoch: 6, timeoutMs: 60000,
		startMs: 1700000000000, updateMs: 1700000001234,
		partitions: map[string][]int32{"orders": {0, 3}, "audit": {1}},
		groups:     []string{"", "billing"},
	}
}

func goldenGroup() *groupRecord {
	return &groupRecord{
		seq: 3,
		committed: offsetMap{
			"orders": {0: {offset: 100, leaderEpoch: 2, metadata: "m", seq: 1}, 3: {offset: 7, leaderEpoch: -1, seq: 3}},
		},
		pending: map[int64]offsetMap{
			4242: {"orders": {0: {offset: 150, leaderEpoch: 2, seq: 2}}},
		},
	}
}

// TestGolden pins the byte layouts documented in docs/format.md. Run with
// -update after a deliberate format change (and a new version byte).
func TestGolden(t *testing.T) {
	txnBytes, err := encodeRecord(goldenTxn())
	if err != nil {
		t.Fatal(err)
	}
	groupBytes, err := encodeGroup(goldenGroup())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"txn-record-v1.golden":   txnBytes,
		"group-record-v1.golden": groupBytes,
		"epoch-record-v1.golden": encodeEpoch(5),
	}
	for name, b := range files {
		path := filepath.Join("testdata", name)
		text := hexDump(b)
		if *update {
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != text {
			t.Errorf("%s changed:\n%s\nwant:\n%s", name, text, want)
		}
	}
	if *update {
		writeSeeds(t, "FuzzDecodeRecord", txnBytes, corruptions(txnBytes))
		writeSeeds(t, "FuzzDecodeGroup", groupBytes, corruptions(groupBytes))
	}
}

// hexDump is 16 bytes a line, offset first.
func hexDump(b []byte) string {
	var sb strings.Builder
	for off := 0; off < len(b); off += 16 {
		end := min(off+16, len(b))
		fmt.Fprintf(&sb, "%04x  %s\n", off, hex.EncodeToString(b[off:end]))
	}
	return sb.String()
}

func corruptions(b []byte) [][]byte {
	out := [][]byte{nil, {1}, b[:len(b)-1], append(bytes.Clone(b), 0)}
	flipped := bytes.Clone(b)
	flipped[len(b)/2] ^= 0x40
	out = append(out, flipped)
	return out
}

func writeSeeds(t *testing.T, name string, valid []byte, more [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, b := range append([][]byte{valid}, more...) {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range []*record{
		goldenTxn(),
		{state: Empty, producerID: 0, epoch: 0, lastPID: -1, lastEpoch: -1, timeoutMs: 1, startMs: -1, updateMs: 0},
		{state: CompleteAbort, producerID: 1<<62 + 3, epoch: 32767, lastPID: 1, lastEpoch: 32766, timeoutMs: 1<<31 - 1, startMs: 5, updateMs: 6},
	} {
		b, err := encodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := encodeRecord(got)
		if !bytes.Equal(b, b2) || got.state != r.state || got.producerID != r.producerID || got.epoch != r.epoch ||
			got.lastPID != r.lastPID || got.lastEpoch != r.lastEpoch || got.timeoutMs != r.timeoutMs ||
			got.startMs != r.startMs || got.updateMs != r.updateMs || len(got.partitions) != len(r.partitions) || len(got.groups) != len(r.groups) {
			t.Fatalf("round trip of %+v gave %+v", r, got)
		}
	}
	g := goldenGroup()
	b, err := encodeGroup(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeGroup(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.seq != 3 || got.committed["orders"][0] != g.committed["orders"][0] || got.pending[4242]["orders"][0].offset != 150 {
		t.Fatalf("group round trip gave %+v", got)
	}
	if e, err := decodeEpoch(encodeEpoch(9)); e != 9 || err != nil {
		t.Fatalf("epoch round trip = %d, %v", e, err)
	}
}

// Every way a record can be malformed is refused with errCorrupt, and the
// error says what is wrong.
func TestDecodeRejects(t *testing.T) {
	valid, _ := encodeRecord(goldenTxn())
	resum := func(b []byte) []byte { return appendCRC(bytes.Clone(b[:len(b)-4])) } // fix the CRC after an edit
	edit := func(off int, v ...byte) []byte {
		b := bytes.Clone(valid)
		copy(b[off:], v)
		return resum(b)
	}
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":            {nil, "too short"},
		"version 2":        {edit(0, 2), "version 2"},
		"bad CRC":          {append(bytes.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1), "CRC-32C"},
		"stored Dead":      {edit(1, byte(Dead)), "not a stored state"},
		"fence state":      {edit(1, byte(PrepareEpochFence)), "not a stored state"},
		"negative pid":     {edit(2, 0xff), "producer id"},
		"epoch -2":         {edit(10, 0xff, 0xfe), "epoch"},
		"zero timeout":     {edit(22, 0, 0, 0, 0), "timeout"},
		"truncated header": {resum(append(bytes.Clone(valid[:20]), 0, 0, 0, 0)), "shorter than"},
		"huge topic count": {edit(42, 0x7f, 0xff, 0xff, 0xff), "exceeds"},
		"trailing byte":    {resum(append(bytes.Clone(valid[:len(valid)-4]), 9, 0, 0, 0, 0)), "trailing"},
	}
	for name, tc := range cases {
		_, err := decodeRecord(tc.b)
		if !errors.Is(err, errCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	// Unsorted partitions and topics, as a bug in a writer would leave.
	bad := goldenTxn()
	bad.partitions = map[string][]int32{"t": {3, 1}}
	b := rawRecord(bad)
	if _, err := decodeRecord(b); !errors.Is(err, errCorrupt) {
		t.Errorf("unsorted partitions: %v", err)
	}
	if _, err := decodeEpoch([]byte{1, 0, 0}); !errors.Is(err, errCorrupt) {
		t.Errorf("short epoch record: %v", err)
	}
	if _, err := decodeGroup([]byte{1, 2, 3, 4, 5}); !errors.Is(err, errCorrupt) {
		t.Errorf("group: %v", err)
	}
}

// rawRecord encodes r without sorting its partitions.
func rawRecord(r *record) []byte {
	b, _ := encodeRecord(&record{state: r.state, producerID: r.producerID, epoch: r.epoch, lastPID: r.lastPID,
		lastEpoch: r.lastEpoch, timeoutMs: r.timeoutMs, startMs: r.startMs, updateMs: r.updateMs})
	// Replace the empty topic and group counts with one unsorted topic.
	body := bytes.Clone(b[:len(b)-4-8])
	body = append(body, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0)
	return appendCRC(body)
}

// fuzzInputs returns b as is and b with its last 4 bytes replaced by a
// correct CRC, so that mutations reach the parser behind the CRC check.
func fuzzInputs(b []byte) [][]byte {
	if len(b) < crcLen {
		return [][]byte{b}
	}
	return [][]byte{b, appendCRC(bytes.Clone(b[:len(b)-crcLen]))}
}

// FuzzDecodeRecord: decoding never panics, and whatever decodes encodes to
// the same bytes (the format has one encoding per record). Counts are
// bounded by the bytes left, so allocation stays proportional to the input.
func FuzzDecodeRecord(f *testing.F) {
	valid, _ := encodeRecord(goldenTxn())
	f.Add(valid)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range fuzzInputs(b) {
			r, err := decodeRecord(in)
			if err != nil {
				continue
			}
			again, err := encodeRecord(r)
			if err != nil || !bytes.Equal(again, in) {
				t.Fatalf("decoded %+v re-encodes to %x (%v), input %x", r, again, err, in)
			}
		}
	})
}

// FuzzDecodeGroup: the same invariants for group offsets records.
func FuzzDecodeGroup(f *testing.F) {
	valid, _ := encodeGroup(goldenGroup())
	f.Add(valid)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range fuzzInputs(b) {
			g, err := decodeGroup(in)
			if err != nil {
				continue
			}
			again, err := encodeGroup(g)
			if err != nil || !bytes.Equal(again, in) {
				t.Fatalf("decoded %+v re-encodes to %x (%v), input %x", g, again, err, in)
			}
		}
	})
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Empty: "Empty", PrepareEpochFence: "PrepareEpochFence", CompleteAbort: "CompleteAbort", 9: "State(9)", -1: "State(-1)"} {
		if got := s.String(); got != want {
			t.Errorf("%d: %q, want %q", s, got, want)
		}
	}
}
