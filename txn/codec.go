package txn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"sort"
)

// Every value the coordinator stores is: one version byte, a body, and a
// CRC-32C (Castagnoli) of the version byte and body, big-endian. All
// integers are big-endian. docs/format.md ("transaction coordinator") has
// the byte layouts; readers accept exactly the versions below.
const (
	txnRecordV1   = 1 // namespace "txn", key = transactional id
	groupRecordV1 = 1 // namespace "offsets", key = "g" + group id
	epochRecordV1 = 1 // namespace "txn-coordinator", key "epoch"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is wrapped by every decoding failure.
var errCorrupt = errors.New("malformed record")

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errCorrupt}, args...)...)
}

// Sizes of the fixed parts, used to bound counts read from a record by the
// bytes left, so a corrupt count cannot make the decoder allocate more than
// the input justifies.
const (
	crcLen           = 4
	txnHeaderLen     = 1 + 1 + 8 + 2 + 8 + 2 + 4 + 8 + 8
	minTopicLen      = 2 + 1 + 4
	minGroupLen      = 2
	offsetEntryLen   = 4 + 8 + 4 + 8 + 2
	minPendingLen    = 8 + 4
	maxStringLen     = math.MaxInt16 // Kafka protocol strings: int16 length
	groupHeaderLen   = 1 + 8
	epochRecordLen   = 1 + 4 + crcLen
	maxOffsetMetaLen = math.MaxUint16
)

// encodeRecord returns the version-1 bytes of r. Topics, partitions and
// groups are written sorted, so equal records have equal bytes.
func encodeRecord(r *record) ([]byte, error) {
	b := make([]byte, 0, txnHeaderLen+64)
	b = append(b, txnRecordV1, byte(r.state))
	b = binary.BigEndian.AppendUint64(b, uint64(r.producerID))
	b = binary.BigEndian.AppendUint16(b, uint16(r.epoch))
	b = binary.BigEndian.AppendUint64(b, uint64(r.lastPID))
	b = binary.BigEndian.AppendUint16(b, uint16(r.lastEpoch))
	b = binary.BigEndian.AppendUint32(b, uint32(r.timeoutMs))
	b = binary.BigEndian.AppendUint64(b, uint64(r.startMs))
	b = binary.BigEndian.AppendUint64(b, uint64(r.updateMs))
	topics := sortedKeys(r.partitions)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		var err error
		if b, err = appendString(b, t); err != nil {
			return nil, err
		}
		ps := r.partitions[t]
		b = binary.BigEndian.AppendUint32(b, uint32(len(ps)))
		for _, p := range ps {
			b = binary.BigEndian.AppendUint32(b, uint32(p))
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(r.groups)))
	for _, g := range r.groups {
		var err error
		if b, err = appendString(b, g); err != nil {
			return nil, err
		}
	}
	return appendCRC(b), nil
}

// appendCRC appends the CRC-32C of b to b.
func appendCRC(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeRecord parses a version-1 transaction record, refusing anything
// encodeRecord would not have written.
func decodeRecord(b []byte) (*record, error) {
	d, err := newDecoder(b, txnRecordV1)
	if err != nil {
		return nil, err
	}
	if d.remaining() < txnHeaderLen-1 {
		return nil, corruptf("%d bytes, shorter than the %d-byte header", len(b), txnHeaderLen+crcLen)
	}
	r := &record{state: State(d.u8())}
	if !r.state.stored() {
		return nil, corruptf("state %d is not a stored state", r.state)
	}
	r.producerID = int64(d.u64())
	r.epoch = int16(d.u16())
	r.lastPID = int64(d.u64())
	r.lastEpoch = int16(d.u16())
	r.timeoutMs = int32(d.u32())
	r.startMs = int64(d.u64())
	r.updateMs = int64(d.u64())
	switch {
	case r.producerID < 0:
		return nil, corruptf("producer id %d", r.producerID)
	case r.epoch < noEpoch || r.lastEpoch < noEpoch:
		return nil, corruptf("epoch %d, last epoch %d", r.epoch, r.lastEpoch)
	case r.lastPID < noProducerID:
		return nil, corruptf("last producer id %d", r.lastPID)
	case r.timeoutMs <= 0:
		return nil, corruptf("timeout %d ms", r.timeoutMs)
	}
	nt, err := d.count(minTopicLen)
	if err != nil {
		return nil, err
	}
	if nt > 0 {
		r.partitions = make(map[string][]int32, nt)
	}
	prev := ""
	for i := 0; i < nt; i++ {
		t, err := d.str()
		if err != nil {
			return nil, err
		}
		if t == "" || (i > 0 && t <= prev) {
			return nil, corruptf("topic %q out of order or empty", t)
		}
		prev = t
		np, err := d.count(4)
		if err != nil {
			return nil, err
		}
		if np == 0 {
			return nil, corruptf("topic %q without partitions", t)
		}
		ps := make([]int32, np)
		for j := range ps {
			ps[j] = int32(d.u32())
			if ps[j] < 0 || (j > 0 && ps[j] <= ps[j-1]) {
				return nil, corruptf("topic %q partition %d out of order or negative", t, ps[j])
			}
		}
		r.partitions[t] = ps
	}
	ng, err := d.count(minGroupLen)
	if err != nil {
		return nil, err
	}
	if ng > 0 {
		r.groups = make([]string, ng)
	}
	for i := range r.groups {
		if r.groups[i], err = d.str(); err != nil {
			return nil, err
		}
		if i > 0 && r.groups[i] <= r.groups[i-1] {
			return nil, corruptf("group %q out of order", r.groups[i])
		}
	}
	return r, d.finish()
}

// offsetEntry is one committed or pending offset of a group record.
type offsetEntry struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	// seq orders commits of one group, as the offset of the commit record
	// in __consumer_offsets orders them in Kafka: a transaction's offsets
	// replace a committed offset at commit only when written after it
	// (GroupMetadata.completePendingTxnOffsetCommit).
	seq int64
}

// offsetMap is topic -> partition -> offset.
type offsetMap map[string]map[int32]offsetEntry

// groupRecord is the stored state of one consumer group's offsets.
type groupRecord struct {
	seq       int64               // the last seq handed out
	committed offsetMap           // visible offsets
	pending   map[int64]offsetMap // producer id -> offsets of its open transaction
}

func (g *groupRecord) empty() bool { return len(g.committed) == 0 && len(g.pending) == 0 }

// encodeGroup returns the version-1 bytes of g.
func encodeGroup(g *groupRecord) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, groupRecordV1)
	b = binary.BigEndian.AppendUint64(b, uint64(g.seq))
	var err error
	if b, err = appendOffsets(b, g.committed); err != nil {
		return nil, err
	}
	pids := make([]int64, 0, len(g.pending))
	for pid := range g.pending {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	b = binary.BigEndian.AppendUint32(b, uint32(len(pids)))
	for _, pid := range pids {
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		if b, err = appendOffsets(b, g.pending[pid]); err != nil {
			return nil, err
		}
	}
	return appendCRC(b), nil
}

func appendOffsets(b []byte, m offsetMap) ([]byte, error) {
	topics := sortedKeys(m)
	b = binary.BigEndian.AppendUint32(b, uint32(len(topics)))
	for _, t := range topics {
		var err error
		if b, err = appendString(b, t); err != nil {
			return nil, err
		}
		ps := make([]int32, 0, len(m[t]))
		for p := range m[t] {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		b = binary.BigEndian.AppendUint32(b, uint32(len(ps)))
		for _, p := range ps {
			o := m[t][p]
			if len(o.metadata) > maxOffsetMetaLen {
				return nil, fmt.Errorf("offset metadata of %d bytes", len(o.metadata))
			}
			b = binary.BigEndian.AppendUint32(b, uint32(p))
			b = binary.BigEndian.AppendUint64(b, uint64(o.offset))
			b = binary.BigEndian.AppendUint32(b, uint32(o.leaderEpoch))
			b = binary.BigEndian.AppendUint64(b, uint64(o.seq))
			b = binary.BigEndian.AppendUint16(b, uint16(len(o.metadata)))
			b = append(b, o.metadata...)
		}
	}
	return b, nil
}

// decodeGroup parses a version-1 group record.
func decodeGroup(b []byte) (*groupRecord, error) {
	d, err := newDecoder(b, groupRecordV1)
	if err != nil {
		return nil, err
	}
	if d.remaining() < groupHeaderLen-1 {
		return nil, corruptf("%d bytes, shorter than the header", len(b))
	}
	g := &groupRecord{seq: int64(d.u64())}
	if g.seq < 0 {
		return nil, corruptf("sequence %d", g.seq)
	}
	if g.committed, err = d.offsets(g.seq); err != nil {
		return nil, err
	}
	np, err := d.count(minPendingLen)
	if err != nil {
		return nil, err
	}
	if np > 0 {
		g.pending = make(map[int64]offsetMap, np)
	}
	prev := int64(-1)
	for i := 0; i < np; i++ {
		if d.remaining() < 8 {
			return nil, corruptf("truncated pending producer")
		}
		pid := int64(d.u64())
		if pid <= prev {
			return nil, corruptf("pending producer %d out of order or negative", pid)
		}
		prev = pid
		m, err := d.offsets(g.seq)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, corruptf("pending producer %d without offsets", pid)
		}
		g.pending[pid] = m
	}
	return g, d.finish()
}

// encodeEpoch returns the version-1 coordinator epoch record.
func encodeEpoch(epoch int32) []byte {
	b := []byte{epochRecordV1}
	b = binary.BigEndian.AppendUint32(b, uint32(epoch))
	return appendCRC(b)
}

// decodeEpoch parses a coordinator epoch record.
func decodeEpoch(b []byte) (int32, error) {
	if len(b) != epochRecordLen {
		return 0, corruptf("coordinator epoch record of %d bytes, want %d", len(b), epochRecordLen)
	}
	d, err := newDecoder(b, epochRecordV1)
	if err != nil {
		return 0, err
	}
	e := int32(d.u32())
	if e < 0 {
		return 0, corruptf("coordinator epoch %d", e)
	}
	return e, d.finish()
}

// decoder reads a record body after checking its version byte and CRC.
// Reads past the end are prevented by the callers' length checks: every
// fixed-size read is preceded by a check of remaining().
type decoder struct {
	b   []byte // body, without the version byte and CRC
	off int
}

func newDecoder(b []byte, version byte) (*decoder, error) {
	if len(b) < 1+crcLen {
		return nil, corruptf("%d bytes, too short", len(b))
	}
	if b[0] != version {
		return nil, corruptf("version %d, want %d", b[0], version)
	}
	body, sum := b[:len(b)-crcLen], binary.BigEndian.Uint32(b[len(b)-crcLen:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, corruptf("CRC-32C %08x, stored %08x", got, sum)
	}
	return &decoder{b: body[1:]}, nil
}

func (d *decoder) remaining() int { return len(d.b) - d.off }

func (d *decoder) u8() uint8 { v := d.b[d.off]; d.off++; return v }

func (d *decoder) u16() uint16 {
	v := binary.BigEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *decoder) u32() uint32 {
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) u64() uint64 {
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// count reads a uint32 count of items that take at least min bytes each
// and refuses one the remaining bytes cannot hold.
func (d *decoder) count(min int) (int, error) {
	if d.remaining() < 4 {
		return 0, corruptf("truncated count at byte %d", d.off+1)
	}
	n := int(d.u32())
	if n < 0 || n > d.remaining()/min {
		return 0, corruptf("count %d at byte %d exceeds the %d bytes left", n, d.off-3, d.remaining())
	}
	return n, nil
}

// str reads a uint16 length and that many bytes.
func (d *decoder) str() (string, error) {
	if d.remaining() < 2 {
		return "", corruptf("truncated string length at byte %d", d.off+1)
	}
	n := int(d.u16())
	if n > maxStringLen || n > d.remaining() {
		return "", corruptf("string of %d bytes at byte %d exceeds the %d bytes left", n, d.off-1, d.remaining())
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s, nil
}

// offsets reads a topic -> partition -> offset block whose seqs are at
// most maxSeq.
func (d *decoder) offsets(maxSeq int64) (offsetMap, error) {
	nt, err := d.count(minTopicLen)
	if err != nil {
		return nil, err
	}
	var m offsetMap
	if nt > 0 {
		m = make(offsetMap, nt)
	}
	prev := ""
	for i := 0; i < nt; i++ {
		t, err := d.str()
		if err != nil {
			return nil, err
		}
		if t == "" || (i > 0 && t <= prev) {
			return nil, corruptf("topic %q out of order or empty", t)
		}
		prev = t
		np, err := d.count(offsetEntryLen)
		if err != nil {
			return nil, err
		}
		if np == 0 {
			return nil, corruptf("topic %q without partitions", t)
		}
		ps := make(map[int32]offsetEntry, np)
		last := int32(-1)
		for j := 0; j < np; j++ {
			if d.remaining() < offsetEntryLen {
				return nil, corruptf("truncated offset of topic %q", t)
			}
			p := int32(d.u32())
			o := offsetEntry{offset: int64(d.u64()), leaderEpoch: int32(d.u32()), seq: int64(d.u64())}
			if p <= last {
				return nil, corruptf("topic %q partition %d out of order or negative", t, p)
			}
			last = p
			if o.seq <= 0 || o.seq > maxSeq {
				return nil, corruptf("topic %q partition %d sequence %d outside [1, %d]", t, p, o.seq, maxSeq)
			}
			n := int(d.u16())
			if n > d.remaining() {
				return nil, corruptf("topic %q partition %d metadata of %d bytes exceeds the %d bytes left", t, p, n, d.remaining())
			}
			o.metadata = string(d.b[d.off : d.off+n])
			d.off += n
			ps[p] = o
		}
		m[t] = ps
	}
	return m, nil
}

// finish refuses trailing bytes.
func (d *decoder) finish() error {
	if d.remaining() != 0 {
		return corruptf("%d trailing bytes", d.remaining())
	}
	return nil
}

func appendString(b []byte, s string) ([]byte, error) {
	if len(s) > maxStringLen {
		return nil, fmt.Errorf("string of %d bytes exceeds the protocol limit of %d", len(s), maxStringLen)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
