package tier

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

// Sizes and version of the object format (docs/format.md).
const (
	headerSize    = 16
	footerSize    = 128
	formatVersion = 1
	keySuffix     = ".seg"
	keyDigits     = 20
)

// magic opens the header and closes the footer of every archived object.
var magic = [4]byte{'C', 'K', 'T', 'S'}

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	be         = binary.BigEndian
)

// The sections of an object, in the order they are stored.
const (
	secData = iota
	secIndex
	secTimeIndex
	secBloom
	numSections
)

// sectionNames name the sections in errors.
var sectionNames = [numSections]string{"data", "offset index", "time index", "bloom"}

// section locates one section of an object and holds its CRC-32C.
type section struct {
	off, length int64
	crc         uint32
}

// footer is the decoded last footerSize bytes of an object.
type footer struct {
	base, next, maxTimestamp int64
	sections                 [numSections]section
	objectSize               int64
}

// layout returns the footer for sections of the given lengths, their CRCs
// left zero: the sections follow the header back to back.
func layout(base, next, maxTs int64, lengths [numSections]int64) footer {
	f := footer{base: base, next: next, maxTimestamp: maxTs}
	off := int64(headerSize)
	for i, n := range lengths {
		f.sections[i] = section{off: off, length: n}
		off += n
	}
	f.objectSize = off + footerSize
	return f
}

func encodeHeader(base int64) []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, magic[:]...)
	b = append(b, formatVersion, 0, 0, 0)
	return be.AppendUint64(b, uint64(base))
}

func (f *footer) encode() []byte {
	b := make([]byte, 0, footerSize)
	b = be.AppendUint64(b, uint64(f.base))
	b = be.AppendUint64(b, uint64(f.next))
	b = be.AppendUint64(b, uint64(f.maxTimestamp))
	for _, s := range f.sections {
		b = be.AppendUint64(b, uint64(s.off))
		b = be.AppendUint64(b, uint64(s.length))
		b = be.AppendUint32(b, s.crc)
	}
	b = be.AppendUint64(b, uint64(f.objectSize))
	b = append(b, formatVersion, 0, 0, 0)
	b = be.AppendUint32(b, footerSize)
	b = be.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return append(b, magic[:]...)
}

// decodeFooter parses and checks a footer read from the end of an object
// of objectSize bytes stored under the key for base. It returns the reason
// the footer is invalid, or "" with the footer.
func decodeFooter(b []byte, objectSize, base int64) (footer, string) {
	var f footer
	switch {
	case len(b) != footerSize:
		return f, fmt.Sprintf("%d bytes, want %d", len(b), footerSize)
	case [4]byte(b[124:]) != magic:
		return f, "bad trailing magic"
	case be.Uint32(b[116:]) != footerSize:
		return f, fmt.Sprintf("footer length %d, want %d", be.Uint32(b[116:]), footerSize)
	case crc32.Checksum(b[:120], castagnoli) != be.Uint32(b[120:]):
		return f, "footer CRC mismatch"
	case b[112] == 0 || b[112] > formatVersion || b[112]+1 < formatVersion:
		return f, fmt.Sprintf("unsupported version %d", b[112])
	case b[113] != 0:
		return f, fmt.Sprintf("unknown flags %#x", b[113])
	}
	f.base = int64(be.Uint64(b[0:]))
	f.next = int64(be.Uint64(b[8:]))
	f.maxTimestamp = int64(be.Uint64(b[16:]))
	for i := range f.sections {
		p := b[24+20*i:]
		f.sections[i] = section{off: int64(be.Uint64(p)), length: int64(be.Uint64(p[8:])), crc: be.Uint32(p[16:])}
	}
	f.objectSize = int64(be.Uint64(b[104:]))
	if why := f.check(objectSize, base); why != "" {
		return footer{}, why
	}
	return f, ""
}

// check reports what makes f inconsistent with an object of objectSize
// bytes under the key for base, or "".
func (f *footer) check(objectSize, base int64) string {
	if f.objectSize != objectSize {
		return fmt.Sprintf("footer says %d bytes, the object has %d", f.objectSize, objectSize)
	}
	if f.base != base || f.base < 0 || f.next < f.base {
		return fmt.Sprintf("offsets [%d, %d) do not fit the key's base offset %d", f.base, f.next, base)
	}
	off := int64(headerSize)
	for i, s := range f.sections {
		if s.off != off || s.length < 0 || s.length > objectSize {
			return fmt.Sprintf("%s section at %d+%d, want it at %d", sectionNames[i], s.off, s.length, off)
		}
		off += s.length
	}
	if off != objectSize-footerSize {
		return fmt.Sprintf("sections end at %d, the footer starts at %d", off, objectSize-footerSize)
	}
	return ""
}

// segmentKey returns the object key of the segment based at base.
func segmentKey(prefix string, base int64) string {
	return fmt.Sprintf("%s%0*d%s", prefix, keyDigits, base, keySuffix)
}

// parseKey returns the base offset of a key made by segmentKey with prefix.
func parseKey(prefix, key string) (int64, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, keySuffix)
	if !ok || len(digits) != keyDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil
}
