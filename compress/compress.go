package compress

import (
	"errors"
	"fmt"
	"strings"
)

// Codec is a Kafka compression codec, numbered as in the batch attributes.
type Codec int8

// The codecs, by their attribute id.
const (
	None   Codec = 0
	Gzip   Codec = 1
	Snappy Codec = 2
	LZ4    Codec = 3
	Zstd   Codec = 4
)

// ErrTooLarge is returned when decompressed output would exceed the caller's limit.
var ErrTooLarge = errors.New("compress: decompressed size exceeds limit")

// ErrCorrupt is wrapped by every error about input that is not a valid
// stream of its codec; errors.As with *CorruptError gives the details.
var ErrCorrupt = errors.New("compress: corrupt input")

// ErrUnknownCodec is returned for codec ids outside 0-4. Kafka fails a batch
// with codec bits 5-7 as UNKNOWN_SERVER_ERROR.
var ErrUnknownCodec = errors.New("compress: unknown codec")

// ErrLevel is wrapped by the errors of ValidLevel: a compression level the
// codec's Kafka configuration does not accept.
var ErrLevel = errors.New("compress: invalid compression level")

// String returns Kafka's name for the codec: none, gzip, snappy, lz4, zstd.
func (c Codec) String() string {
	switch c {
	case None:
		return "none"
	case Gzip:
		return "gzip"
	case Snappy:
		return "snappy"
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", int8(c))
}

// Valid reports whether c is one of the five codecs Kafka defines.
func (c Codec) Valid() bool { return c >= None && c <= Zstd }

// ParseCodec maps a Kafka compression.type name to its codec. It accepts
// "none" and "uncompressed" for None; names are case-insensitive.
func ParseCodec(name string) (Codec, error) {
	switch strings.ToLower(name) {
	case "none", "uncompressed":
		return None, nil
	case "gzip":
		return Gzip, nil
	case "snappy":
		return Snappy, nil
	case "lz4":
		return LZ4, nil
	case "zstd":
		return Zstd, nil
	}
	return None, fmt.Errorf("compress: unknown codec %q", name)
}

// CorruptError describes compressed input that cannot be decoded: the codec,
// where in the input the faulty element (gzip member, xerial chunk, LZ4
// block, zstd frame or block) starts, and what is wrong with it.
type CorruptError struct {
	Codec  Codec  // codec of the stream
	Offset int    // byte offset in the compressed input of the faulty element
	Reason string // what is wrong, in words
	Err    error  // the decoding library's error, or nil
}

// Error formats the codec, offset, reason and cause.
func (e *CorruptError) Error() string {
	s := fmt.Sprintf("compress: corrupt %s input at byte %d: %s", e.Codec, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCorrupt and the library's error, so errors.Is matches both.
func (e *CorruptError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrCorrupt}
	}
	return []error{ErrCorrupt, e.Err}
}

func corrupt(c Codec, off int, err error, format string, args ...any) error {
	return &CorruptError{Codec: c, Offset: off, Reason: fmt.Sprintf(format, args...), Err: err}
}

func tooLarge(c Codec, limit int) error {
	return fmt.Errorf("%w (%s, limit %d bytes)", ErrTooLarge, c, limit)
}

// Compression level ranges of Kafka's compression.gzip.level,
// compression.lz4.level and compression.zstd.level (KIP-390), and the level
// each codec uses when the caller passes 0.
const (
	gzipMinLevel     = 1
	gzipMaxLevel     = 9
	gzipJavaDefault  = -1 // java.util.zip.Deflater.DEFAULT_COMPRESSION, zlib's level 6
	gzipDefaultLevel = 6
	lz4MinLevel      = 1
	lz4MaxLevel      = 17
	lz4DefaultLevel  = 9 // Kafka compresses with lz4-java's fast compressor at this level
	zstdMinLevel     = -131072
	zstdMaxLevel     = 22
	zstdDefaultLevel = 3
)

// ValidLevel reports whether level is accepted for codec c. Level 0 always
// means the codec's default. Otherwise the ranges are Kafka's: gzip 1-9 or
// -1 (Deflater's default), lz4 1-17, zstd -131072 to 22; snappy and none
// have no levels.
func ValidLevel(c Codec, level int) error {
	if !c.Valid() {
		return fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
	}
	if level == 0 {
		return nil
	}
	var lo, hi int
	switch c {
	case Gzip:
		if level == gzipJavaDefault {
			return nil
		}
		lo, hi = gzipMinLevel, gzipMaxLevel
	case LZ4:
		lo, hi = lz4MinLevel, lz4MaxLevel
	case Zstd:
		lo, hi = zstdMinLevel, zstdMaxLevel
	default:
		return fmt.Errorf("%w: %s has no levels, got %d", ErrLevel, c, level)
	}
	if level < lo || level > hi {
		return fmt.Errorf("%w: %s level %d outside [%d, %d]", ErrLevel, c, level, lo, hi)
	}
	return nil
}

// AppendDecoded decompresses src, framed as Kafka clients frame codec c
// inside a record batch, appends the output to dst and returns it. If the
// output would exceed limit bytes (a negative limit counts as 0) it stops and
// returns an error wrapping ErrTooLarge; decoding a bomb allocates at most
// about twice the limit. Corrupt input gives a *CorruptError wrapping
// ErrCorrupt. On error the returned slice holds dst's original contents plus
// possibly part of the output. None appends src itself.
func AppendDecoded(dst []byte, c Codec, src []byte, limit int) ([]byte, error) {
	out, err := appendDecoded(dst, c, src, max(limit, 0))
	if c != None && c.Valid() {
		countDecoded(c, len(out)-len(dst))
	}
	return out, err
}

func appendDecoded(dst []byte, c Codec, src []byte, limit int) ([]byte, error) {
	switch c {
	case None:
		if len(src) > limit {
			return dst, tooLarge(c, limit)
		}
		return append(dst, src...), nil
	case Gzip:
		return appendDecodedGzip(dst, src, limit)
	case Snappy:
		return appendDecodedSnappy(dst, src, limit)
	case LZ4:
		return appendDecodedLZ4(dst, src, limit, false)
	case Zstd:
		return appendDecodedZstd(dst, src, limit)
	}
	return dst, fmt.Errorf("%w %d", ErrUnknownCodec, int8(c))
}

// AppendEncoded compresses src with c, framed as the Java client frames it,
// and appends the result to dst. level 0 is the codec's Kafka default (gzip
// 6, lz4 9, zstd 3); other levels must pass ValidLevel. None appends src.
func AppendEncoded(dst []byte, c Codec, src []byte, level int) ([]byte, error) {
	if err := ValidLevel(c, level); err != nil {
		return dst, err
	}
	switch c {
	case None:
		return append(dst, src...), nil
	case Gzip:
		return appendEncodedGzip(dst, src, level), nil
	case Snappy:
		return appendEncodedSnappy(dst, src), nil
	case LZ4:
		return appendEncodedLZ4(dst, src, level, false), nil
	default: // Zstd; ValidLevel refused the rest
		return appendEncodedZstd(dst, src, level), nil
	}
}

// reserve returns dst with room for at least n more bytes, growing its
// capacity geometrically but never past len(dst)+most (most >= n), so a
// decoder that calls it with most = the bytes left under its limit never
// allocates beyond the limit.
func reserve(dst []byte, n, most int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	c := max(2*cap(dst), len(dst)+n, 512)
	c = min(c, len(dst)+most)
	grown := make([]byte, len(dst), c)
	copy(grown, dst)
	return grown
}
