package storage

import "fmt"

// OpError is the error every ObjectStore in this package returns: it names
// the operation and the key, and wraps the cause (ErrNotFound, ErrClosed, a
// context error or the backend's own error) for errors.Is and errors.As.
type OpError struct {
	Op  string // "put", "get", "list", "delete" or "close"
	Key string // the object key, or the prefix for "list"
	Err error
}

// Error formats the failure as "storage: <op> <key>: <cause>".
func (e *OpError) Error() string {
	return fmt.Sprintf("storage: %s %q: %v", e.Op, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, key string, err error) error {
	return &OpError{Op: op, Key: key, Err: err}
}
