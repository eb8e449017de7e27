// Package compress implements Kafka's record-batch compression codecs,
// selected by the codec bits (0-2) of a batch's attributes.
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
