package record

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/chronik-go/chronik/errcode"
)

// Error is a batch or message-set failure that Kafka throws (rather than
// collects per record): the whole batch is refused with Code, and the
// produce response carries no record_errors.
type Error struct {
	Code errcode.Code
	// Offset is the byte offset of the problem: in the batch or message set
	// for framing, header and uncompressed-record problems, in the decoded
	// records for problems inside compressed data (Msg says so).
	Offset int
	Index  int    // index of the record at fault, or -1
	Msg    string // what is wrong
	Err    error  // cause, such as compress.ErrTooLarge, or nil
}

// Error says what is wrong and where: the code, the record index if any,
// the byte offset, the message and the cause.
func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString("record: ")
	sb.WriteString(e.Code.String())
	if e.Index >= 0 {
		sb.WriteString(" in record ")
		sb.WriteString(strconv.Itoa(e.Index))
	}
	sb.WriteString(" at byte ")
	sb.WriteString(strconv.Itoa(e.Offset))
	sb.WriteString(": ")
	sb.WriteString(e.Msg)
	if e.Err != nil {
		sb.WriteString(": ")
		sb.WriteString(e.Err.Error())
	}
	return sb.String()
}

// Unwrap returns the cause, so errors.Is(err, compress.ErrTooLarge) works.
func (e *Error) Unwrap() error { return e.Err }

func errorf(code errcode.Code, off, index int, format string, args ...any) *Error {
	return &Error{Code: code, Offset: off, Index: index, Msg: fmt.Sprintf(format, args...)}
}

func corrupt(off int, format string, args ...any) *Error {
	return errorf(errcode.CorruptMessage, off, -1, format, args...)
}

func invalid(off int, format string, args ...any) *Error {
	return errorf(errcode.InvalidRecord, off, -1, format, args...)
}

// shift moves a position-bearing error by delta bytes (a nested parse
// reports offsets relative to its own slice).
func shift(err error, delta int) error {
	var e *Error
	if delta != 0 && errors.As(err, &e) {
		e.Offset += delta
	}
	return err
}

// TooLarge is the MESSAGE_TOO_LARGE error for a batch of size bytes
// (prefix included) over max.message.bytes max, in Kafka's words
// (RecordTooLargeException); Kafka checks the size again after it rebuilds
// or converts a batch, and so must the caller.
func TooLarge(partition string, size, max int) *Error {
	return errorf(errcode.MessageTooLarge, 0, -1,
		"the record batch size in the append to %s is %d bytes which exceeds the maximum configured value of %d",
		partition, size, max)
}

// ErrorCode returns the Kafka code an error stands for: the Code of a
// *Error or *errcode.Error anywhere in its chain, UNKNOWN_SERVER_ERROR for
// any other error, NONE for nil.
func ErrorCode(err error) errcode.Code {
	if err == nil {
		return errcode.None
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ce *errcode.Error
	if errors.As(err, &ce) {
		return ce.Code
	}
	return errcode.UnknownServerError
}

// RecordError is one per-record failure that Kafka collects into the
// produce response's record_errors (KIP-467) instead of throwing: Index is
// the record's 0-based position in the batch (batch_index).
type RecordError struct {
	Index int
	Code  errcode.Code // INVALID_RECORD or INVALID_TIMESTAMP
	Msg   string
}

// SummarizeErrors returns the partition error code and error_message Kafka
// answers for collected record errors (LogValidator.processRecordErrors):
// INVALID_TIMESTAMP if any error is about a timestamp, else INVALID_RECORD
// with a count and at most the first three errors. errs must not be empty.
func SummarizeErrors(errs []RecordError) (errcode.Code, string) {
	for _, e := range errs {
		if e.Code == errcode.InvalidTimestamp {
			return errcode.InvalidTimestamp, "One or more records have been rejected due to invalid timestamp"
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "One or more records have been rejected due to %d record errors in total, "+
		"and only showing the first three errors at most: [", len(errs))
	for i, e := range errs[:min(len(errs), 3)] {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "RecordError(batchIndex=%d, message='%s')", e.Index, e.Msg)
	}
	sb.WriteString("]")
	return errcode.InvalidRecord, sb.String()
}
