package produce

import (
	"errors"
	"fmt"
	"time"

	"github.com/chronik-go/chronik/compress"
)

// Config configures a Handler. The zero value is not valid: start from
// DefaultConfig and change what you need; New calls Validate.
type Config struct {
	// NodeID is this broker's node id. The handler appends only to
	// partitions whose leader (from the MetadataStore) is this node and
	// answers NOT_LEADER_OR_FOLLOWER for the others. Default 1.
	NodeID int32

	// DataDir is the directory holding one subdirectory of segment files
	// per topic-partition. Required.
	DataDir string

	// EnableIndexing sends every durable record to the Indexer, for topics
	// whose search.enabled config is unset. Needs an Indexer (WithIndexer).
	EnableIndexing bool

	// EnableIdempotence checks producer ids, epochs and sequence numbers as
	// Kafka does (kafka-semantics.md §3). When false, batches that carry a
	// producer id are appended without those checks, as by a broker with
	// idempotence disabled. Default true.
	EnableIdempotence bool

	// EnableTransactions accepts transactional batches. When false they are
	// refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, as a broker that
	// does not authorize transactional ids would. Default true.
	EnableTransactions bool

	// MaxInFlightRequests is how many requests of one connection a Conn
	// reads ahead while earlier ones are still being answered. Responses
	// are always written in request order. Default 5 (Kafka clients'
	// max.in.flight.requests.per.connection).
	MaxInFlightRequests int

	// BatchSize is the number of unsynced bytes after which a partition log
	// is fsynced even when no acks=all request is waiting. Default 1 MiB.
	BatchSize int

	// Linger is the longest a partition log keeps written data unsynced
	// when no acks=all request is waiting (the seed's linger_ms). acks=all
	// requests never wait for it: they trigger a group commit at once.
	// Default 5 ms.
	Linger time.Duration

	// CompressionType is the codec for topics whose compression.type is
	// "producer": "producer" keeps the client's codec (Kafka's default);
	// any codec name makes the handler recompress batches into it.
	CompressionType string

	// RequestTimeout bounds how long a request waits for buffer memory and,
	// with acks=all, for durability when the request's own timeout_ms is
	// larger. Default 30 s (Kafka's request.timeout.ms).
	RequestTimeout time.Duration

	// BufferMemory is the most bytes that requests in flight may hold at
	// once. Through HandleProduce or Begin a request's record bytes are
	// charged: one that would exceed the budget waits (up to its timeout)
	// and then fails with a retriable error, appending nothing. Under
	// ServeConn with Handler.ConnConfig every request frame is charged
	// from its size prefix on, before its body is read, and the connection
	// stops reading while the budget is exhausted (back-pressure through
	// TCP, as Kafka's queued.max.request.bytes). Default 64 MiB.
	BufferMemory int64

	// ProducerIDExpiration is how long a producer id's state is kept after
	// its last batch when it has no open transaction (Kafka
	// producer.id.expiration.ms, default 1 day). An expired producer is
	// unknown again: its next batch is accepted at any sequence.
	ProducerIDExpiration time.Duration

	// MaxDecompressedBatchBytes caps the decompressed size of one batch; a
	// batch that inflates beyond it is refused with MESSAGE_TOO_LARGE.
	// Default 64 MiB.
	MaxDecompressedBatchBytes int
}

// DefaultConfig returns the documented defaults; only DataDir is left empty.
func DefaultConfig() Config {
	return Config{
		NodeID:                    1,
		EnableIdempotence:         true,
		EnableTransactions:        true,
		MaxInFlightRequests:       5,
		BatchSize:                 1 << 20,
		Linger:                    5 * time.Millisecond,
		CompressionType:           "producer",
		RequestTimeout:            30 * time.Second,
		BufferMemory:              64 << 20,
		MaxDecompressedBatchBytes: 64 << 20,
		ProducerIDExpiration:      24 * time.Hour,
	}
}

// Validate reports the first setting that is missing, out of range or
// contradictory.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("NodeID %d is negative", c.NodeID))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.MaxInFlightRequests < 1 {
		errs = append(errs, fmt.Errorf("MaxInFlightRequests %d must be at least 1", c.MaxInFlightRequests))
	}
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("BatchSize %d must be at least 1", c.BatchSize))
	}
	if c.Linger < 0 {
		errs = append(errs, fmt.Errorf("negative Linger %v", c.Linger))
	}
	if c.CompressionType != "producer" {
		if _, err := compress.ParseCodec(c.CompressionType); err != nil {
			errs = append(errs, fmt.Errorf("CompressionType %q: want producer, none, gzip, snappy, lz4 or zstd", c.CompressionType))
		}
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("RequestTimeout %v must be positive", c.RequestTimeout))
	}
	if c.BufferMemory < 1<<20 {
		errs = append(errs, fmt.Errorf("BufferMemory %d must be at least 1 MiB", c.BufferMemory))
	}
	if c.EnableTransactions && !c.EnableIdempotence {
		errs = append(errs, errors.New("EnableTransactions needs EnableIdempotence, as in Kafka"))
	}
	if c.ProducerIDExpiration <= 0 {
		errs = append(errs, fmt.Errorf("ProducerIDExpiration %v must be positive", c.ProducerIDExpiration))
	}
	if c.MaxDecompressedBatchBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("MaxDecompressedBatchBytes %d must be at least 1 KiB", c.MaxDecompressedBatchBytes))
	}
	if len(errs) > 0 {
		return fmt.Errorf("produce: invalid config: %w", errors.Join(errs...))
	}
	return nil
}
