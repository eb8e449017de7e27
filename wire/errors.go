package wire

import (
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/errcode"
)

// Causes a *DecodeError wraps; test for them with errors.Is.
var (
	// ErrTruncated means the input ended inside a field.
	ErrTruncated = errors.New("input truncated")
	// ErrNull means a non-nullable field was encoded as null.
	ErrNull = errors.New("null in a non-nullable field")
	// ErrBadLength means a length or count is out of its legal range.
	ErrBadLength = errors.New("invalid length")
	// ErrArrayTooLong means an array count is larger than the remaining
	// input could possibly hold; it is reported before any allocation.
	ErrArrayTooLong = errors.New("array count exceeds the remaining input")
	// ErrBadVarint means an unsigned varint runs past five bytes.
	ErrBadVarint = errors.New("unsigned varint longer than 5 bytes")
	// ErrTrailingBytes means bytes are left after the message's last field.
	ErrTrailingBytes = errors.New("trailing bytes after the message")
)

// DecodeError reports malformed input: which message, which field, where.
type DecodeError struct {
	Message string // the structure being decoded, e.g. "Produce v9 request"
	Field   string // dotted field path, e.g. "topics.partitions.records"
	Offset  int    // byte offset in the decoded slice where the field starts
	Err     error  // one of the Err* causes above
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("wire: decode %s: field %s at byte %d: %v", e.Message, e.Field, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// UnsupportedVersionError reports an API version this package cannot decode.
type UnsupportedVersionError struct {
	APIKey   int16
	Version  int16
	Min, Max int16 // the supported range
}

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("wire: %s version %d not in supported range %d-%d",
		APIName(e.APIKey), e.Version, e.Min, e.Max)
}

// Code is the Kafka error code a broker answers with: UNSUPPORTED_VERSION.
func (e *UnsupportedVersionError) Code() errcode.Code { return errcode.UnsupportedVersion }

// UnknownAPIKeyError reports a request header whose API key is not a
// standard Kafka API. Kafka closes the connection in that case
// (InvalidRequestException while parsing the header).
type UnknownAPIKeyError struct {
	APIKey int16
}

func (e *UnknownAPIKeyError) Error() string {
	return fmt.Sprintf("wire: unknown API key %d", e.APIKey)
}

// FrameSizeError reports a frame whose size prefix is negative or above the
// reader's limit. Kafka closes the connection on such a frame
// (InvalidReceiveException, bounded by socket.request.max.bytes).
type FrameSizeError struct {
	Size int64 // the size prefix as read
	Max  int   // the limit in force
}

func (e *FrameSizeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("wire: negative frame size %d", e.Size)
	}
	return fmt.Sprintf("wire: frame size %d exceeds limit %d", e.Size, e.Max)
}
