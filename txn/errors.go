package txn

import (
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// CorruptError is a stored coordinator record that cannot be decoded: which
// namespace and key, and what is wrong. New fails with it when a
// transaction record is corrupt; operations on a group whose offsets record
// is corrupt answer UNKNOWN_SERVER_ERROR and log it.
type CorruptError struct {
	Namespace string
	Key       string
	Err       error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("txn: corrupt record %s/%q: %v", e.Namespace, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// errConflict reports that a compare-and-swap found another value than the
// one the coordinator last saw: another coordinator sharing the store wrote
// the record. The caller reloads and decides again.
var errConflict = errors.New("txn: record changed by another writer")

// errClosed is returned by internal waits once Close has begun.
var errClosed = errors.New("txn: coordinator closed")

// storeCode maps an error of a transaction-state write to the code the
// client gets, as Kafka translates transaction log append errors
// (TransactionStateManager.appendTransactionToLog): a timeout or an
// unavailable store becomes COORDINATOR_NOT_AVAILABLE, a closed store (the
// coordinator is going away, like a lost leadership) NOT_COORDINATOR, and a
// value too large UNKNOWN_SERVER_ERROR.
func storeCode(err error) errcode.Code {
	switch {
	case err == nil:
		return errcode.None
	case errors.Is(err, metadata.ErrClosed), errors.Is(err, errClosed):
		return errcode.NotCoordinator
	case errors.Is(err, metadata.ErrInvalidArgument), errors.Is(err, errCorrupt):
		return errcode.UnknownServerError
	default:
		// I/O failures, timeouts and cancelled requests (context errors):
		// retriable, and the client need not look for another coordinator.
		return errcode.CoordinatorNotAvailable
	}
}

// offsetStoreCode maps an error of an offsets write as Kafka's group
// coordinator does (GroupMetadataManager.storeOffsets): a record too large
// becomes INVALID_COMMIT_OFFSET_SIZE, the rest as storeCode.
func offsetStoreCode(err error) errcode.Code {
	if errors.Is(err, metadata.ErrInvalidArgument) {
		return errcode.InvalidCommitOffsetSize
	}
	return storeCode(err)
}

// fencedForVersion maps PRODUCER_FENCED to INVALID_PRODUCER_EPOCH for
// request versions that predate it (InitProducerId < 4, AddPartitionsToTxn,
// AddOffsetsToTxn and EndTxn < 2), as KafkaApis does.
func fencedForVersion(code errcode.Code, version, first int16) errcode.Code {
	if code == errcode.ProducerFenced && version < first {
		return errcode.InvalidProducerEpoch
	}
	return code
}
