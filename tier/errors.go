package tier

import "fmt"

// CorruptObjectError reports an archived object whose bytes fail a check
// even after fresh fetches: a bad footer, a section whose CRC-32C differs
// from the footer's, an index that does not decode, or batches with bad
// framing or CRC.
type CorruptObjectError struct {
	Key     string // the object's key
	Section string // "footer", "data", "offset index", "time index" or "bloom"
	Reason  string // what was wrong
	Err     error  // the decoder's error, when one said why
}

func (e *CorruptObjectError) Error() string {
	return fmt.Sprintf("tier: corrupt %s in %s: %s", e.Section, e.Key, e.Reason)
}

func (e *CorruptObjectError) Unwrap() error { return e.Err }

// MismatchError reports a RemoteSegment that does not describe the object
// stored for its base offset: the caller's view of the tier is stale.
type MismatchError struct {
	Key                  string
	WantBase, WantNext   int64 // what the caller passed
	StoredBase, StoredNx int64 // what the object's footer says
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("tier: %s holds offsets [%d, %d), the caller expected [%d, %d)",
		e.Key, e.StoredBase, e.StoredNx, e.WantBase, e.WantNext)
}
