package wire

import (
	"encoding/binary"
	"strconv"
)

// maxStringLen is the longest string Kafka accepts, compact or not: the
// classic encoding has an int16 length, and Kafka's generated readers reject
// longer compact strings too ("string field had invalid length").
const maxStringLen = 0x7fff

// decoder reads one message body. The first failure is kept in err and the
// remaining input is dropped, so every later read fails fast and every later
// array count is capped at zero.
type decoder struct {
	b        []byte // input not yet consumed
	n        int    // length of the whole input, to report offsets
	flexible bool   // compact encodings and tagged fields (KIP-482)
	apiKey   int16  // with version and kind: what is decoded, for errors
	version  int16
	kind     string // "request", "response" or "request header"
	err      *DecodeError
}

func newDecoder(body []byte, flexible bool, apiKey, version int16, kind string) decoder {
	return decoder{b: body, n: len(body), flexible: flexible, apiKey: apiKey, version: version, kind: kind}
}

// message names what is decoded, such as "Produce v9 request"; it is only
// built once something has failed.
func (d *decoder) message() string {
	if d.apiKey < 0 {
		return d.kind
	}
	return APIName(d.apiKey) + " v" + strconv.Itoa(int(d.version)) + " " + d.kind
}

// offset is the position of the next unread byte.
func (d *decoder) offset() int { return d.n - len(d.b) }

func (d *decoder) failAt(field string, off int, cause error) {
	if d.err == nil {
		d.err = &DecodeError{Message: d.message(), Field: field, Offset: off, Err: cause}
	}
	d.b = d.b[len(d.b):]
}

func (d *decoder) fail(field string, cause error) { d.failAt(field, d.offset(), cause) }

// finish reports the first error, or ErrTrailingBytes if input is left.
func (d *decoder) finish() error {
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		d.fail("(end)", ErrTrailingBytes)
		return d.err
	}
	return nil
}

func (d *decoder) int8(field string) int8 {
	if len(d.b) < 1 {
		d.fail(field, ErrTruncated)
		return 0
	}
	v := int8(d.b[0])
	d.b = d.b[1:]
	return v
}

func (d *decoder) int16(field string) int16 {
	if len(d.b) < 2 {
		d.fail(field, ErrTruncated)
		return 0
	}
	v := int16(binary.BigEndian.Uint16(d.b))
	d.b = d.b[2:]
	return v
}

func (d *decoder) int32(field string) int32 {
	if len(d.b) < 4 {
		d.fail(field, ErrTruncated)
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}

func (d *decoder) int64(field string) int64 {
	if len(d.b) < 8 {
		d.fail(field, ErrTruncated)
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

// uvarint reads an unsigned varint of at most 5 bytes, as Kafka's
// ByteUtils.readUnsignedVarint does.
func (d *decoder) uvarint(field string) uint32 {
	var v uint32
	for i := 0; i < 5; i++ {
		if i >= len(d.b) {
			d.fail(field, ErrTruncated)
			return 0
		}
		c := d.b[i]
		v |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			d.b = d.b[i+1:]
			return v
		}
	}
	d.fail(field, ErrBadVarint)
	return 0
}

// length reads a length or count: int16 or int32 in classic versions,
// unsigned varint N+1 in flexible ones. It returns -1 for null (Kafka's
// readers treat every negative classic length as null).
func (d *decoder) length(field string, classic16 bool) int {
	if d.flexible {
		u := d.uvarint(field)
		if u > 1<<31-1 {
			d.fail(field, ErrBadLength)
			return 0
		}
		return int(u) - 1
	}
	var n int
	if classic16 {
		n = int(d.int16(field))
	} else {
		n = int(d.int32(field))
	}
	if n < 0 {
		return -1
	}
	return n
}

// arrayLen reads a non-nullable array count and checks that the rest of
// the input could hold that many elements of at least minElem bytes each.
func (d *decoder) arrayLen(field string, minElem int) int {
	off := d.offset()
	n, null := d.nullableArrayLen(field, minElem)
	if null {
		d.failAt(field, off, ErrNull)
	}
	return n
}

// nullableArrayLen is arrayLen for a nullable array.
func (d *decoder) nullableArrayLen(field string, minElem int) (n int, null bool) {
	off := d.offset()
	n = d.length(field, false)
	if d.err != nil {
		return 0, false
	}
	if n < 0 {
		return 0, true
	}
	if n > len(d.b)/minElem {
		d.failAt(field, off, ErrArrayTooLong)
		return 0, false
	}
	return n, false
}

// rawString reads the bytes of a string; null reports a null string.
func (d *decoder) rawString(field string) (s []byte, null bool) {
	off := d.offset()
	n := d.length(field, true)
	if d.err != nil {
		return nil, false
	}
	if n < 0 {
		return nil, true
	}
	if n > maxStringLen {
		d.failAt(field, off, ErrBadLength)
		return nil, false
	}
	if n > len(d.b) {
		d.failAt(field, off, ErrTruncated)
		return nil, false
	}
	s = d.b[:n]
	d.b = d.b[n:]
	return s, false
}

// string reads a non-nullable string. If the bytes equal reuse, reuse is
// returned and nothing is allocated.
func (d *decoder) string(field, reuse string) string {
	off := d.offset()
	b, null := d.rawString(field)
	if null {
		d.failAt(field, off, ErrNull)
		return ""
	}
	if string(b) == reuse {
		return reuse
	}
	return string(b)
}

// nullableString reads a nullable string; nil means null. If the bytes
// equal *reuse, reuse is returned and nothing is allocated.
func (d *decoder) nullableString(field string, reuse *string) *string {
	b, null := d.rawString(field)
	if null || d.err != nil {
		return nil
	}
	if reuse != nil && string(b) == *reuse {
		return reuse
	}
	s := string(b)
	return &s
}

// nullableBytes reads nullable bytes as a sub-slice of the input whose
// capacity ends with it, so appending to it cannot overwrite what follows.
func (d *decoder) nullableBytes(field string) []byte {
	off := d.offset()
	n := d.length(field, false)
	if d.err != nil || n < 0 {
		return nil
	}
	if n > len(d.b) {
		d.failAt(field, off, ErrTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// skipTags skips a tagged-field section (flexible versions only). None of
// the tags defined for the versions decoded here carries data chronik uses,
// so every tag is skipped the way Kafka skips unknown tags.
func (d *decoder) skipTags(field string) {
	if !d.flexible {
		return
	}
	n := d.uvarint(field)
	for i := uint32(0); i < n && d.err == nil; i++ {
		d.uvarint(field)
		size := d.uvarint(field)
		if d.err != nil {
			return
		}
		if uint64(size) > uint64(len(d.b)) {
			d.fail(field, ErrTruncated)
			return
		}
		d.b = d.b[size:]
	}
}

// Encoding helpers. Each appends one field in the classic or the flexible
// (compact) form.

func appendInt16(dst []byte, v int16) []byte {
	return binary.BigEndian.AppendUint16(dst, uint16(v))
}

func appendInt32(dst []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(dst, uint32(v))
}

func appendInt64(dst []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(v))
}

func appendUvarint(dst []byte, v uint32) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// appendLength writes a length or count n >= 0, or null when n < 0.
func appendLength(dst []byte, n int, flexible, classic16 bool) []byte {
	switch {
	case flexible:
		return appendUvarint(dst, uint32(n+1))
	case classic16:
		return appendInt16(dst, int16(n))
	default:
		return appendInt32(dst, int32(n))
	}
}

func appendArrayLen(dst []byte, n int, flexible bool) []byte {
	return appendLength(dst, n, flexible, false)
}

func appendString(dst []byte, s string, flexible bool) []byte {
	if len(s) > maxStringLen {
		s = s[:maxStringLen]
	}
	dst = appendLength(dst, len(s), flexible, true)
	return append(dst, s...)
}

func appendNullableString(dst []byte, s *string, flexible bool) []byte {
	if s == nil {
		return appendLength(dst, -1, flexible, true)
	}
	return appendString(dst, *s, flexible)
}

func appendNullableBytes(dst []byte, b []byte, flexible bool) []byte {
	if b == nil {
		return appendLength(dst, -1, flexible, false)
	}
	dst = appendLength(dst, len(b), flexible, false)
	return append(dst, b...)
}

// appendTags writes an empty tagged-field section in flexible versions.
func appendTags(dst []byte, flexible bool) []byte {
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

// clampVersion maps a version outside [lo, hi] to the nearest bound, for
// encoders that cannot return an error.
func clampVersion(v, lo, hi int16) int16 {
	return max(lo, min(v, hi))
}
