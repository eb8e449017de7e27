package txn

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Defaults of Options, Kafka's defaults where Kafka has the setting.
const (
	DefaultMaxTransactionTimeout     = 15 * time.Minute       // transaction.max.timeout.ms
	DefaultAbortTimedOutInterval     = 10 * time.Second       // transaction.abort.timed.out.transaction.cleanup.interval.ms
	DefaultTransactionalIDExpiration = 7 * 24 * time.Hour     // transactional.id.expiration.ms
	DefaultExpirationCheckInterval   = time.Hour              // transaction.remove.expired.transaction.cleanup.interval.ms
	DefaultMarkerConcurrency         = 16                     // WriteMarker calls in flight per coordinator
	DefaultMarkerRetryBackoff        = 100 * time.Millisecond // retry.backoff.ms
	DefaultMarkerRetryBackoffMax     = time.Second            // retry.backoff.max.ms
	DefaultCompletionWait            = 5 * time.Second
)

// Options configures a Coordinator. The zero value of each field selects
// its default; New calls Validate.
type Options struct {
	// MaxTransactionTimeout is the largest transaction timeout
	// InitProducerId accepts (Kafka transaction.max.timeout.ms, 15 min);
	// a larger one gets INVALID_TRANSACTION_TIMEOUT. At most MaxInt32 ms.
	MaxTransactionTimeout time.Duration

	// AbortTimedOutInterval is how often Ongoing transactions older than
	// their timeout are fenced and aborted (Kafka
	// transaction.abort.timed.out.transaction.cleanup.interval.ms, 10 s).
	AbortTimedOutInterval time.Duration

	// TransactionalIDExpiration is how long a transactional id with no
	// transaction in progress is kept after its last transition (Kafka
	// transactional.id.expiration.ms, 7 days). An expired id is removed;
	// its next InitProducerId starts afresh with a new producer id.
	TransactionalIDExpiration time.Duration

	// ExpirationCheckInterval is how often expired transactional ids are
	// removed (Kafka
	// transaction.remove.expired.transaction.cleanup.interval.ms, 1 h).
	ExpirationCheckInterval time.Duration

	// MarkerConcurrency bounds the WriteMarker calls in flight across all
	// transactions being completed (default 16).
	MarkerConcurrency int

	// MarkerRetryBackoff and MarkerRetryBackoffMax bound the exponential
	// backoff between attempts of a failed marker or offsets write
	// (defaults 100 ms and 1 s, Kafka's retry.backoff.ms and
	// retry.backoff.max.ms).
	MarkerRetryBackoff, MarkerRetryBackoffMax time.Duration

	// CompletionWait bounds how long EndTxn waits for every marker to be
	// durable when the request context allows longer (default 5 s). When
	// it runs out the client gets CONCURRENT_TRANSACTIONS, retries, and the
	// markers keep being written in the background.
	CompletionWait time.Duration

	// PartitionExists reports whether topic/partition exists. AddPartitions
	// and the offset commits answer UNKNOWN_TOPIC_OR_PARTITION for the
	// others, and markers are not written to partitions deleted since they
	// joined a transaction (Kafka skips partitions that have no leader any
	// more). nil means every partition exists.
	PartitionExists func(topic string, partition int32) bool

	// Now is the clock for transaction start, timeout and expiry times
	// (default time.Now). The cleanup intervals tick in real time.
	Now func() time.Time

	// Logger receives marker failures, fencing and expiry (default:
	// discarded).
	Logger *slog.Logger
}

// Validate reports the first field outside its allowed range.
func (o Options) Validate() error {
	switch {
	case o.MaxTransactionTimeout < 0 || o.MaxTransactionTimeout > math.MaxInt32*time.Millisecond:
		return fmt.Errorf("txn: MaxTransactionTimeout %v outside [0, %v]", o.MaxTransactionTimeout, math.MaxInt32*time.Millisecond)
	case o.MaxTransactionTimeout > 0 && o.MaxTransactionTimeout < time.Millisecond:
		return fmt.Errorf("txn: MaxTransactionTimeout %v below 1 ms", o.MaxTransactionTimeout)
	case o.AbortTimedOutInterval < 0:
		return fmt.Errorf("txn: negative AbortTimedOutInterval %v", o.AbortTimedOutInterval)
	case o.TransactionalIDExpiration < 0:
		return fmt.Errorf("txn: negative TransactionalIDExpiration %v", o.TransactionalIDExpiration)
	case o.ExpirationCheckInterval < 0:
		return fmt.Errorf("txn: negative ExpirationCheckInterval %v", o.ExpirationCheckInterval)
	case o.MarkerConcurrency < 0:
		return fmt.Errorf("txn: negative MarkerConcurrency %d", o.MarkerConcurrency)
	case o.MarkerRetryBackoff < 0 || o.MarkerRetryBackoffMax < 0:
		return fmt.Errorf("txn: negative MarkerRetryBackoff (%v) or MarkerRetryBackoffMax (%v)", o.MarkerRetryBackoff, o.MarkerRetryBackoffMax)
	case o.MarkerRetryBackoff > 0 && o.MarkerRetryBackoffMax > 0 && o.MarkerRetryBackoff > o.MarkerRetryBackoffMax:
		return fmt.Errorf("txn: MarkerRetryBackoff %v above MarkerRetryBackoffMax %v", o.MarkerRetryBackoff, o.MarkerRetryBackoffMax)
	case o.CompletionWait < 0:
		return fmt.Errorf("txn: negative CompletionWait %v", o.CompletionWait)
	}
	return nil
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.MaxTransactionTimeout == 0 {
		o.MaxTransactionTimeout = DefaultMaxTransactionTimeout
	}
	if o.AbortTimedOutInterval == 0 {
		o.AbortTimedOutInterval = DefaultAbortTimedOutInterval
	}
	if o.TransactionalIDExpiration == 0 {
		o.TransactionalIDExpiration = DefaultTransactionalIDExpiration
	}
	if o.ExpirationCheckInterval == 0 {
		o.ExpirationCheckInterval = DefaultExpirationCheckInterval
	}
	if o.MarkerConcurrency == 0 {
		o.MarkerConcurrency = DefaultMarkerConcurrency
	}
	if o.MarkerRetryBackoff == 0 {
		o.MarkerRetryBackoff = DefaultMarkerRetryBackoff
	}
	if o.MarkerRetryBackoffMax == 0 {
		o.MarkerRetryBackoffMax = max(DefaultMarkerRetryBackoffMax, o.MarkerRetryBackoff)
	}
	if o.CompletionWait == 0 {
		o.CompletionWait = DefaultCompletionWait
	}
	if o.PartitionExists == nil {
		o.PartitionExists = func(string, int32) bool { return true }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
