package record

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// Legacy message layout (magic 0 and 1), big-endian:
//
//	offset     int64   absolute; inside a magic-1 wrapper, relative (0..n-1)
//	size       int32   bytes after this field
//	crc        uint32  CRC-32 (IEEE) of magic..end
//	magic      int8    0 or 1
//	attributes int8    bits 0-2 codec, bit 3 LogAppendTime (magic 1)
//	timestamp  int64   magic 1 only
//	keyLength  int32   -1 = null key
//	key
//	valueLength int32  -1 = null value
//	value              for a compressed wrapper: the compressed inner message set
const (
	legacyOffCRC   = 12
	legacyOffMagic = 16
	legacyOffAttrs = 17
	legacyOffTS    = 18
	// legacyMinSizeV0 and legacyMinSizeV1 are the smallest size fields of a
	// magic 0 and a magic 1 message (Kafka's LegacyRecord.RECORD_OVERHEAD_V0/V1).
	legacyMinSizeV0 = 14
	legacyMinSizeV1 = 22
	// LegacyAttrLogAppendTime is the LogAppendTime attribute bit of a magic-1 message.
	LegacyAttrLogAppendTime = 0x08
)

// Message is one legacy (magic 0 or 1) message, a view over its bytes.
type Message struct {
	Offset     int64
	CRC        uint32
	Magic      int8
	Attributes int8
	// Timestamp is the timestamp readers see: -1 for magic 0; for an inner
	// message of a magic-1 LogAppendTime wrapper, the wrapper's timestamp
	// (LegacyRecord.timestamp); else the stored one.
	Timestamp int64
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
}

// Codec is the message's compression codec; non-None marks a wrapper whose
// value holds a compressed message set.
func (m *Message) Codec() compress.Codec { return compress.Codec(m.Attributes & AttrCodecMask) }

// LogAppendTime reports the LogAppendTime bit of a magic-1 message.
func (m *Message) LogAppendTime() bool {
	return m.Magic == 1 && m.Attributes&LegacyAttrLogAppendTime != 0
}

// legacyCRCValid reports whether the stored CRC of the framed message e
// matches CRC-32 (IEEE) over magic..end.
func legacyCRCValid(e []byte) bool {
	return binary.BigEndian.Uint32(e[legacyOffCRC:]) == crc32.ChecksumIEEE(e[legacyOffMagic:])
}

// parseMessage decodes the framed message e (exactly 12+size bytes, size
// >= 14) without checking its CRC. A magic other than 0 or 1, a magic-1
// message too short for its timestamp, or key and value lengths that do
// not fill the message exactly are CORRUPT_MESSAGE: Kafka never reads such
// a message meaningfully.
func parseMessage(e []byte) (Message, error) {
	be := binary.BigEndian
	m := Message{
		Offset:     int64(be.Uint64(e)),
		CRC:        be.Uint32(e[legacyOffCRC:]),
		Magic:      int8(e[legacyOffMagic]),
		Attributes: int8(e[legacyOffAttrs]),
		Timestamp:  NoTimestamp,
	}
	p := legacyOffTS
	switch m.Magic {
	case 0:
	case 1:
		if len(e) < LogOverhead+legacyMinSizeV1 {
			return m, corrupt(offBatchLength, "magic 1 message of size %d is below the minimum %d", len(e)-LogOverhead, legacyMinSizeV1)
		}
		m.Timestamp = int64(be.Uint64(e[p:]))
		p += 8
	default:
		return m, corrupt(legacyOffMagic, "invalid legacy message magic %d", m.Magic)
	}
	var err error
	if m.Key, p, err = legacyBytes(e, p, "key"); err != nil {
		return m, err
	}
	if m.Value, p, err = legacyBytes(e, p, "value"); err != nil {
		return m, err
	}
	if p != len(e) {
		return m, corrupt(p, "%d bytes after the message value", len(e)-p)
	}
	return m, nil
}

func legacyBytes(e []byte, p int, what string) ([]byte, int, error) {
	if len(e)-p < 4 {
		return nil, p, corrupt(p, "message %s length runs past the message", what)
	}
	n := int32(binary.BigEndian.Uint32(e[p:]))
	p += 4
	switch {
	case n == -1:
		return nil, p, nil
	case n < -1:
		return nil, p, corrupt(p-4, "invalid message %s length %d", what, n)
	case int(n) > len(e)-p:
		return nil, p, corrupt(p-4, "message %s of %d bytes runs past the message", what, n)
	}
	return e[p : p+int(n) : p+int(n)], p + int(n), nil
}

// ReadMessage reads the legacy message at the start of b, checking its
// framing (see NextBatch), its CRC and its layout; every failure is
// CORRUPT_MESSAGE. size is the message's length in b, prefix included.
func ReadMessage(b []byte) (m Message, size int, err error) {
	e, _, err := NextBatch(b)
	if err != nil {
		return m, 0, err
	}
	if e == nil {
		return m, 0, corrupt(0, "legacy message truncated: %d bytes", len(b))
	}
	if !legacyCRCValid(e) {
		return m, 0, corrupt(legacyOffCRC, "record is corrupt (stored crc = %d, computed crc = %d)",
			binary.BigEndian.Uint32(e[legacyOffCRC:]), crc32.ChecksumIEEE(e[legacyOffMagic:]))
	}
	m, err = parseMessage(e)
	return m, len(e), err
}

// nextInner frames the inner message at data[p:] of a decompressed wrapper
// value, as Kafka's DataLogInputStream does: fewer than 12 bytes, or fewer
// than the size field says, end the set (a trailing partial message is
// ignored); a size below 14 is CORRUPT_MESSAGE. The inner magic is not
// checked here.
func nextInner(data []byte, p int) (e []byte, next int, err error) {
	if len(data)-p < LogOverhead {
		return nil, p, nil
	}
	size := int32(binary.BigEndian.Uint32(data[p+offBatchLength:]))
	if size < legacyMinSizeV0 {
		return nil, p, corrupt(p+offBatchLength, "record size is less than the minimum record overhead (%d) (in the decompressed wrapper value)", legacyMinSizeV0)
	}
	end := p + LogOverhead + int(size)
	if end > len(data) {
		return nil, p, nil
	}
	return data[p:end:end], end, nil
}

// MessageSet describes a legacy message set that passed CheckMessageSet.
type MessageSet struct {
	Data       []byte // the complete entries (a trailing partial entry dropped)
	Entries    int    // outer entries
	Magic      int8   // of the first entry
	Compressed bool   // some entry is a compressed wrapper
}

// CheckMessageSet runs Kafka's per-entry checks on a message set from a
// Produce v0-v2 request (UnifiedLog.analyzeAndValidateRecords), each entry
// in order: framing (see NextBatch; a trailing partial entry is dropped),
// for a v2 entry a base offset other than 0 (INVALID_RECORD), the entry's
// size against maxMessageBytes (MESSAGE_TOO_LARGE; <= 0: no limit), its CRC
// (CORRUPT_MESSAGE: CRC-32 for magic 0 and 1, CRC-32C for v2), and its
// codec (bits 5-7: CORRUPT_MESSAGE). A legacy entry whose layout does not
// parse is CORRUPT_MESSAGE too. A set with no complete entry gives Entries
// 0 and no error: Kafka appends nothing.
func CheckMessageSet(set []byte, maxMessageBytes int) (MessageSet, error) {
	ms := MessageSet{}
	pos := 0
	for {
		e, _, err := NextBatch(set[pos:])
		if err != nil {
			return ms, shift(err, pos)
		}
		if e == nil {
			break
		}
		magic := int8(e[offMagic])
		if ms.Entries == 0 {
			ms.Magic = magic
		}
		if magic == 2 && int64(binary.BigEndian.Uint64(e)) != 0 {
			return ms, invalid(pos, "the baseOffset of the record batch should be 0, but it is %d", int64(binary.BigEndian.Uint64(e)))
		}
		if maxMessageBytes > 0 && len(e) > maxMessageBytes {
			return ms, errorf(errcode.MessageTooLarge, pos, -1,
				"the message size %d exceeds the maximum configured value of %d", len(e), maxMessageBytes)
		}
		var codec compress.Codec
		if magic == 2 {
			if !CRCValid(e) {
				return ms, corrupt(pos+offCRC, "record batch is corrupt (CRC-32C mismatch or shorter than %d bytes)", HeaderSize)
			}
			codec = compress.Codec(e[offAttributes+1] & AttrCodecMask)
		} else {
			if !legacyCRCValid(e) {
				return ms, corrupt(pos+legacyOffCRC, "record is corrupt (stored crc = %d, computed crc = %d)",
					binary.BigEndian.Uint32(e[legacyOffCRC:]), crc32.ChecksumIEEE(e[legacyOffMagic:]))
			}
			m, err := parseMessage(e)
			if err != nil {
				return ms, shift(err, pos)
			}
			codec = m.Codec()
		}
		if !codec.Valid() {
			return ms, corrupt(pos+offAttributes, "unknown compression codec id %d", int8(codec))
		}
		if codec != compress.None {
			ms.Compressed = true
		}
		ms.Entries++
		pos += len(e)
	}
	ms.Data = set[:pos:pos]
	return ms, nil
}

// WalkMessageSet calls fn for every message of the legacy set (after
// CheckMessageSet), descending into compressed wrappers: each wrapper's
// value is decompressed into scratch (LZ4 with the broken magic-0 frame
// checksum for magic 0, KAFKA-3160) and its inner messages are passed with
// absolute offsets (magic-1 inner offsets are relative to the wrapper's,
// which is the last inner message's) and the timestamps readers see. i
// counts messages across the set. The structural rules of Kafka's legacy
// iterator apply and are thrown: a zstd or null-valued wrapper, an empty
// one, a magic-1 wrapper offset below the last inner offset (unless 0), an
// inner message that is itself compressed or whose magic differs from the
// wrapper's are INVALID_RECORD; an inner CRC mismatch or bad inner layout
// is CORRUPT_MESSAGE. m is valid only during fn.
func WalkMessageSet(set []byte, scratch []byte, limit int, fn func(i int, m *Message) error) ([]byte, error) {
	i := 0
	pos := 0
	for {
		e, _, err := NextBatch(set[pos:])
		if err != nil {
			return scratch, shift(err, pos)
		}
		if e == nil {
			return scratch, nil
		}
		if int8(e[offMagic]) == 2 {
			return scratch, invalid(pos+offMagic, "a v2 record batch inside a legacy message set")
		}
		m, _, err := ReadMessage(e)
		if err != nil {
			return scratch, shift(err, pos)
		}
		if m.Codec() == compress.None {
			if err := fn(i, &m); err != nil {
				return scratch, err
			}
			i++
			pos += len(e)
			continue
		}
		var data []byte
		var w wrapper
		data, scratch, w, err = openWrapper(&m, e, pos, scratch, limit)
		if err != nil {
			return scratch, err
		}
		for p := 0; ; {
			ie, next, _ := nextInner(data, p)
			if ie == nil {
				break
			}
			if ie[legacyOffAttrs]&AttrCodecMask != 0 {
				return scratch, errorf(errcode.InvalidRecord, p, i, "compressed outer record has an inner record that is also compressed (in the decompressed wrapper value)")
			}
			if int8(ie[legacyOffMagic]) != m.Magic {
				return scratch, errorf(errcode.InvalidRecord, p, i, "compressed message magic %d does not match wrapper magic %d (in the decompressed wrapper value)", int8(ie[legacyOffMagic]), m.Magic)
			}
			im, err := innerMessage(&m, &w, ie, p, i)
			if err != nil {
				return scratch, err
			}
			if err := fn(i, &im); err != nil {
				return scratch, err
			}
			i++
			p = next
		}
		pos += len(e)
	}
}

// wrapper is what openWrapper learned about a compressed wrapper's inner set.
type wrapper struct {
	n          int   // inner messages
	baseOffset int64 // added to inner offsets; -1: inner offsets are absolute
}

// openWrapper decompresses the value of the compressed wrapper m (framed as
// e, at byte pos of its set) into scratch and frames its inner messages,
// applying the checks of Kafka's DeepRecordsIterator constructor in its
// order. Error offsets are in the set, or in the decoded value for
// problems inside it (the message says so).
func openWrapper(m *Message, e []byte, pos int, scratch []byte, limit int) (data, scratchOut []byte, w wrapper, err error) {
	c := m.Codec()
	if c == compress.Zstd {
		return nil, scratch, w, invalid(pos+legacyOffAttrs, "invalid wrapper compression type zstd for a magic %d message", m.Magic)
	}
	if m.Value == nil {
		return nil, scratch, w, invalid(pos+legacyOffAttrs, "found invalid compressed record set with null value (magic = %d)", m.Magic)
	}
	valueOff := pos + len(e) - len(m.Value)
	if c == compress.LZ4 {
		scratch, err = decodeLZ4Legacy(scratch[:0], m.Value, limit, m.Magic == 0)
	} else {
		scratch, err = decode(scratch[:0], c, m.Value, limit)
	}
	if err != nil {
		return nil, scratch, w, decodeError(err, c, valueOff)
	}
	data = scratch
	var lastInner int64
	for p := 0; ; {
		ie, next, err := nextInner(data, p)
		if err != nil {
			return nil, scratch, w, err
		}
		if ie == nil {
			break
		}
		lastInner = int64(binary.BigEndian.Uint64(ie))
		w.n++
		p = next
	}
	if w.n == 0 {
		return nil, scratch, w, invalid(valueOff, "found invalid compressed record set with no inner records")
	}
	w.baseOffset = -1
	if m.Magic == 1 {
		switch {
		case m.Offset == 0:
			w.baseOffset = 0
		case m.Offset < lastInner:
			return nil, scratch, w, invalid(pos, "found invalid wrapper offset in compressed v1 message set, wrapper offset '%d' "+
				"is less than the last inner message offset '%d' and it is not zero", m.Offset, lastInner)
		default:
			w.baseOffset = m.Offset - lastInner
		}
	}
	return data, scratch, w, nil
}

// innerMessage checks the CRC and layout of the inner message ie (at p in
// the decoded value, record index i) of wrapper m and decodes it with its
// absolute offset and visible timestamp.
func innerMessage(m *Message, w *wrapper, ie []byte, p, i int) (Message, error) {
	if !legacyCRCValid(ie) {
		return Message{}, errorf(errcode.CorruptMessage, p+legacyOffCRC, i,
			"record is corrupt (stored crc = %d, computed crc = %d) (in the decompressed wrapper value)",
			binary.BigEndian.Uint32(ie[legacyOffCRC:]), crc32.ChecksumIEEE(ie[legacyOffMagic:]))
	}
	im, err := parseMessage(ie)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Offset += p
			e.Index = i
			e.Msg += " (in the decompressed wrapper value)"
		}
		return im, err
	}
	if w.baseOffset >= 0 {
		im.Offset += w.baseOffset
	}
	if m.LogAppendTime() {
		im.Timestamp = m.Timestamp
	}
	return im, nil
}
