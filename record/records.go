package record

import (
	"errors"
	"sync"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/errcode"
)

// Record is one v2 record, a view over the bytes it was read from.
//
// Wire layout (every integer a zigzag varint, see varint.go):
//
//	length varint        bytes after this field
//	attributes int8      unused, 0
//	timestampDelta varlong
//	offsetDelta varint
//	keyLength varint     -1 = null key
//	key bytes
//	valueLength varint   -1 = null value
//	value bytes
//	headerCount varint
//	headers: keyLength varint (>= 0), key, valueLength varint (-1 = null), value
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte // nil for a null key; non-nil and empty for an empty one
	Value          []byte // nil for a null value
	Headers        []byte // the raw header entries, after the header count
	NumHeaders     int
	// Size is the record's size on the wire, length prefix included.
	Size int
}

// ForEachHeader calls fn with each header's key and value (nil for a null
// value), in order, without allocating. It stops at the first error fn
// returns. Headers that do not parse give an INVALID_RECORD *Error; that
// cannot happen for a Record produced by Records or WalkBatch.
func (r *Record) ForEachHeader(fn func(key, value []byte) error) error {
	b := r.Headers
	p := 0
	for i := 0; i < r.NumHeaders; i++ {
		var key, value []byte
		var err error
		if key, p, err = readHeaderBytes(b, p, false); err != nil {
			return err
		}
		if value, p, err = readHeaderBytes(b, p, true); err != nil {
			return err
		}
		if err := fn(key, value); err != nil {
			return err
		}
	}
	return nil
}

// readHeaderBytes reads one length-prefixed header key (nullable false) or
// value (nullable true) at b[p:].
func readHeaderBytes(b []byte, p int, nullable bool) ([]byte, int, error) {
	n, q, ok := readVarint(b, p)
	if !ok {
		return nil, p, invalid(p, "found invalid record structure: bad header length varint")
	}
	switch {
	case n == -1 && nullable:
		return nil, q, nil
	case n < 0 && !nullable:
		return nil, p, invalid(p, "invalid negative header key size %d", n)
	case n < 0:
		return nil, p, invalid(p, "invalid header value size %d", n)
	case int(n) > len(b)-q:
		return nil, p, invalid(p, "header of %d bytes runs past the record", n)
	}
	return b[q : q+int(n) : q+int(n)], q + int(n), nil
}

// readRecord parses the record at data[p:] into r, as Kafka's
// DefaultRecord.readFrom does, and returns the position after it. Any
// structural problem is INVALID_RECORD: a length that is negative or runs
// past data, a varint that does not end within its size, a key or value
// length below -1, a negative header count or one larger than the bytes
// left, a negative (null) header key, fields that do not fill the declared
// length exactly. Offsets in errors are data offsets plus base.
func readRecord(data []byte, p int, r *Record, base int) (int, error) {
	start := p
	size, p, ok := readVarint(data, p)
	switch {
	case !ok:
		return start, invalid(base+start, "incorrect declared batch size, premature EOF reached")
	case size < 0:
		return start, invalid(base+start, "invalid record size %d", size)
	case int(size) > len(data)-p:
		return start, invalid(base+start, "invalid record size: expected %d bytes in record payload, but only %d remain",
			size, len(data)-p)
	}
	end := p + int(size)
	body := data[:end]
	if p >= end {
		return start, invalid(base+start, "found invalid record structure: empty record")
	}
	r.Attributes = int8(body[p])
	p++
	if r.TimestampDelta, p, ok = readVarlong(body, p); !ok {
		return start, invalid(base+p, "found invalid record structure: bad timestamp delta varlong")
	}
	if r.OffsetDelta, p, ok = readVarint(body, p); !ok {
		return start, invalid(base+p, "found invalid record structure: bad offset delta varint")
	}
	var err error
	if r.Key, p, err = readNullableBytes(body, p, base, "key"); err != nil {
		return start, err
	}
	if r.Value, p, err = readNullableBytes(body, p, base, "value"); err != nil {
		return start, err
	}
	var n int32
	q := p
	if n, p, ok = readVarint(body, p); !ok {
		return start, invalid(base+q, "found invalid record structure: bad header count varint")
	}
	if n < 0 {
		return start, invalid(base+q, "found invalid number of record headers %d", n)
	}
	if int(n) > end-p {
		return start, invalid(base+q, "found invalid number of record headers: %d is larger than the remaining size of the buffer", n)
	}
	hs := p
	for i := int32(0); i < n; i++ {
		if _, p, err = readHeaderBytes(body, p, false); err != nil {
			return start, shift(err, base)
		}
		if _, p, err = readHeaderBytes(body, p, true); err != nil {
			return start, shift(err, base)
		}
	}
	if p != end {
		return start, invalid(base+start, "invalid record size: expected to read %d bytes in record payload, but instead read %d",
			size, int(size)-(end-p))
	}
	r.Headers = body[hs:end:end]
	r.NumHeaders = int(n)
	r.Size = end - start
	return end, nil
}

func readNullableBytes(b []byte, p, base int, what string) ([]byte, int, error) {
	n, q, ok := readVarint(b, p)
	switch {
	case !ok:
		return nil, p, invalid(base+p, "found invalid record structure: bad %s length varint", what)
	case n == -1:
		return nil, q, nil
	case n < -1:
		return nil, p, invalid(base+p, "invalid %s size %d", what, n)
	case int(n) > len(b)-q:
		return nil, p, invalid(base+p, "%s of %d bytes runs past the record", what, n)
	}
	return b[q : q+int(n) : q+int(n)], q + int(n), nil
}

// Records iterates over the records of an uncompressed records section
// (the bytes after a v2 header, or their decompressed form), requiring
// exactly count records and exactly all bytes, as Kafka's batch iterator
// does. Use it as a value; it does not allocate:
//
//	rs := record.NewRecords(data, h.NumRecords)
//	for rs.Next() {
//		r := rs.Record()
//		...
//	}
//	if err := rs.Err(); err != nil { ... }
type Records struct {
	data  []byte
	pos   int
	base  int // added to byte offsets in errors
	count int32
	n     int32
	rec   Record
	err   error
	inZip bool // data was decompressed (for error messages)
}

// NewRecords returns an iterator over count records in data.
func NewRecords(data []byte, count int32) Records {
	return Records{data: data, count: count}
}

// Next reads the next record. It returns false after the last record or at
// the first error; Err tells which.
func (rs *Records) Next() bool {
	if rs.err != nil {
		return false
	}
	if rs.n >= rs.count {
		if rs.count < 0 {
			rs.err = invalid(rs.base, "found invalid record count %d", rs.count)
		} else if rs.pos != len(rs.data) {
			rs.err = errorf(errcode.InvalidRecord, rs.base+rs.pos, -1,
				"incorrect declared batch size, records still remaining%s: %d bytes after record %d",
				rs.where(), len(rs.data)-rs.pos, rs.count-1)
		}
		return false
	}
	next, err := readRecord(rs.data, rs.pos, &rs.rec, rs.base)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Index = int(rs.n)
			e.Msg += rs.where()
		}
		rs.err = err
		return false
	}
	rs.pos = next
	rs.n++
	return true
}

func (rs *Records) where() string {
	if rs.inZip {
		return " (in the decompressed records)"
	}
	return ""
}

// Record returns the record Next read. It is overwritten by the next call.
func (rs *Records) Record() *Record { return &rs.rec }

// Index is the 0-based index of the record Next read.
func (rs *Records) Index() int { return int(rs.n) - 1 }

// Err returns nil after exactly count records consumed exactly all bytes,
// otherwise the INVALID_RECORD *Error that stopped the iteration.
func (rs *Records) Err() error { return rs.err }

var recordsPool = sync.Pool{New: func() any { return new(Records) }}

// WalkBatch calls fn for every record of the checked v2 batch b (h from
// CheckFraming and CheckContents, or ReadHeader of a batch known good),
// requiring exactly h.NumRecords records that fill the records section
// exactly (else INVALID_RECORD, thrown as Kafka does: no record_errors).
//
// A compressed batch is decompressed once into scratch (reused, grown as
// needed, and returned holding the decoded records); more than limit
// decoded bytes (limit <= 0: no limit) stops with a MESSAGE_TOO_LARGE
// *Error wrapping compress.ErrTooLarge, and undecodable data is
// CORRUPT_MESSAGE. An uncompressed batch is walked in place and scratch is
// returned untouched. Offsets in errors about decoded records are offsets
// in the decoded records.
//
// r is valid only during fn; its slices alias b or scratch. An error from
// fn stops the walk and is returned as is. In steady state WalkBatch
// allocates nothing for an uncompressed batch.
func WalkBatch(b []byte, h *Header, scratch []byte, limit int, fn func(i int, r *Record) error) ([]byte, error) {
	data, scratch, err := batchRecords(b, h, scratch, limit)
	if err != nil {
		return scratch, err
	}
	rs := recordsPool.Get().(*Records)
	*rs = NewRecords(data, h.NumRecords)
	if h.Codec() == compress.None {
		rs.base = HeaderSize
	} else {
		rs.inZip = true
	}
	for rs.Next() {
		if err = fn(int(rs.n)-1, &rs.rec); err != nil {
			break
		}
	}
	if err == nil {
		err = rs.err
	}
	*rs = Records{}
	recordsPool.Put(rs)
	return scratch, err
}

// batchRecords returns the uncompressed records section of b: in place, or
// decoded into scratch.
func batchRecords(b []byte, h *Header, scratch []byte, limit int) (data, scratchOut []byte, err error) {
	size := h.Size()
	if size < HeaderSize || len(b) < size {
		return nil, scratch, corrupt(0, "record batch of %d bytes is shorter than the %d-byte header", min(size, len(b)), HeaderSize)
	}
	src := b[HeaderSize:size]
	c := h.Codec()
	if c == compress.None {
		return src, scratch, nil
	}
	if !c.Valid() {
		return nil, scratch, corrupt(offAttributes, "unknown compression codec id %d", int8(c))
	}
	scratch, err = decode(scratch[:0], c, src, limit)
	if err != nil {
		return nil, scratch, decodeError(err, c, HeaderSize)
	}
	return scratch, scratch, nil
}

// decodeError maps a decompression failure to a *Error: exceeding the limit
// is MESSAGE_TOO_LARGE (a Java producer then splits the batch and retries),
// anything else CORRUPT_MESSAGE.
func decodeError(err error, c compress.Codec, off int) *Error {
	if errors.Is(err, compress.ErrTooLarge) {
		return &Error{Code: errcode.MessageTooLarge, Offset: off, Index: -1,
			Msg: "decompressed " + c.String() + " records exceed the limit", Err: err}
	}
	return &Error{Code: errcode.CorruptMessage, Offset: off, Index: -1,
		Msg: "cannot decompress " + c.String() + " records", Err: err}
}
