package metadata

import (
	"context"
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/errcode"
)

// Sentinel errors. Store methods wrap them (in a *TopicError, *KeyError or
// *ConfigError that says where), so test with errors.Is.
var (
	ErrTopicExists          = errors.New("topic already exists")
	ErrInvalidTopic         = errors.New("invalid topic name")
	ErrUnknownTopic         = errors.New("unknown topic")
	ErrUnknownPartition     = errors.New("unknown partition")
	ErrInvalidPartitions    = errors.New("invalid partition count")
	ErrInvalidReplicas      = errors.New("invalid replica assignment")
	ErrInvalidLeader        = errors.New("leader is not a replica of the partition")
	ErrInvalidConfig        = errors.New("invalid topic config")
	ErrInvalidArgument      = errors.New("invalid argument")
	ErrProducerIDsExhausted = errors.New("producer ids exhausted")
	ErrClosed               = errors.New("metadata store closed")
)

// TopicError is a failed topic operation: which operation, on which topic
// and partition, and why (Err wraps a sentinel error).
type TopicError struct {
	Op        string // "create topic", "delete topic", "alter config", "create partitions", "set leader"
	Topic     string
	Partition int32 // -1 when the operation is not about one partition
	Err       error
}

func (e *TopicError) Error() string {
	if e.Partition >= 0 {
		return fmt.Sprintf("metadata: %s %q partition %d: %v", e.Op, e.Topic, e.Partition, e.Err)
	}
	return fmt.Sprintf("metadata: %s %q: %v", e.Op, e.Topic, e.Err)
}

// Unwrap returns the cause.
func (e *TopicError) Unwrap() error { return e.Err }

// KeyError is a failed key-value or producer-id operation: which operation,
// on which namespace and key, and why.
type KeyError struct {
	Op        string // "get", "put", "delete", "compare-and-swap", "list", "allocate producer ids"
	Namespace string
	Key       string // the key, or the prefix for "list"
	Err       error
}

func (e *KeyError) Error() string {
	if e.Namespace == "" && e.Key == "" {
		return fmt.Sprintf("metadata: %s: %v", e.Op, e.Err)
	}
	return fmt.Sprintf("metadata: %s %q/%q: %v", e.Op, e.Namespace, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *KeyError) Unwrap() error { return e.Err }

// ConfigError is an invalid topic config entry: an unknown key or a value of
// the wrong type or out of range. It unwraps to ErrInvalidConfig.
type ConfigError struct {
	Key    string
	Value  string
	Reason string
}

func (e *ConfigError) Error() string {
	if e.Reason == unknownConfigReason {
		// Kafka's wording (LogConfig.validateNames).
		return fmt.Sprintf("unknown topic config name: %s", e.Key)
	}
	return fmt.Sprintf("invalid value %q for topic config %s: %s", e.Value, e.Key, e.Reason)
}

// Unwrap returns ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

const unknownConfigReason = "unknown key"

// CorruptError is a stored record that cannot be decoded: where it is and
// what is wrong with it. Opening a store that holds one fails with it.
type CorruptError struct {
	Bucket string
	Key    string
	Err    error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("metadata: corrupt record %s/%q: %v", e.Bucket, e.Key, e.Err)
}

// Unwrap returns the cause.
func (e *CorruptError) Unwrap() error { return e.Err }

// ErrorCode returns the Kafka error code a response should carry for err, an
// error returned by a Store: None for nil, UnknownServerError for errors it
// does not recognise.
func ErrorCode(err error) errcode.Code {
	switch {
	case err == nil:
		return errcode.None
	case errors.Is(err, ErrTopicExists):
		return errcode.TopicAlreadyExists
	case errors.Is(err, ErrInvalidTopic):
		return errcode.InvalidTopicException
	case errors.Is(err, ErrUnknownTopic), errors.Is(err, ErrUnknownPartition):
		return errcode.UnknownTopicOrPartition
	case errors.Is(err, ErrInvalidPartitions):
		return errcode.InvalidPartitions
	case errors.Is(err, ErrInvalidReplicas), errors.Is(err, ErrInvalidLeader):
		return errcode.InvalidReplicaAssignment
	case errors.Is(err, ErrInvalidConfig):
		return errcode.InvalidConfig
	case errors.Is(err, ErrInvalidArgument):
		return errcode.InvalidRequest
	case errors.Is(err, context.DeadlineExceeded):
		return errcode.RequestTimedOut
	default:
		// Kafka answers an exhausted producer-id space with
		// UnknownServerException (ProducerIdManager).
		return errcode.UnknownServerError
	}
}
