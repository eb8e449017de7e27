package metadata

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/chronik-go/chronik/errcode"
)

func TestErrorCode(t *testing.T) {
	cases := []struct {
		err  error
		want errcode.Code
	}{
		{nil, errcode.None},
		{&TopicError{Op: "create topic", Topic: "t", Partition: -1, Err: ErrTopicExists}, errcode.TopicAlreadyExists},
		{fmt.Errorf("x: %w", ErrInvalidTopic), errcode.InvalidTopicException},
		{ErrUnknownTopic, errcode.UnknownTopicOrPartition},
		{ErrUnknownPartition, errcode.UnknownTopicOrPartition},
		{ErrInvalidPartitions, errcode.InvalidPartitions},
		{ErrInvalidReplicas, errcode.InvalidReplicaAssignment},
		{ErrInvalidLeader, errcode.InvalidReplicaAssignment},
		{&TopicError{Op: "alter config", Topic: "t", Partition: -1, Err: &ConfigError{Key: "k", Reason: unknownConfigReason}}, errcode.InvalidConfig},
		{&KeyError{Op: "put", Namespace: "n", Key: "k", Err: ErrInvalidArgument}, errcode.InvalidRequest},
		{&TopicError{Op: "set leader", Topic: "t", Partition: 0, Err: context.DeadlineExceeded}, errcode.RequestTimedOut},
		{ErrProducerIDsExhausted, errcode.UnknownServerError},
		{ErrClosed, errcode.UnknownServerError},
		{errors.New("disk on fire"), errcode.UnknownServerError},
	}
	for _, c := range cases {
		if got := ErrorCode(c.err); got != c.want {
			t.Errorf("ErrorCode(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestErrorMessagesSayWhere(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&TopicError{Op: "set leader", Topic: "orders", Partition: 3, Err: ErrUnknownPartition},
			`metadata: set leader "orders" partition 3: unknown partition`},
		{&TopicError{Op: "delete topic", Topic: "orders", Partition: -1, Err: ErrUnknownTopic},
			`metadata: delete topic "orders": unknown topic`},
		{&KeyError{Op: "get", Namespace: "txn", Key: "p1", Err: ErrClosed},
			`metadata: get "txn"/"p1": metadata store closed`},
		{&KeyError{Op: "allocate producer ids", Err: ErrClosed},
			`metadata: allocate producer ids: metadata store closed`},
		{&ConfigError{Key: "retention.ms", Value: "x", Reason: "must be a 64-bit integer"},
			`invalid value "x" for topic config retention.ms: must be a 64-bit integer`},
		{&CorruptError{Bucket: "topics", Key: "orders", Err: errors.New("bad")},
			`metadata: corrupt record topics/"orders": bad`},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("message %q, want %q", got, c.want)
		}
	}
	inner := errors.New("bad")
	if !errors.Is(&CorruptError{Err: inner}, inner) || !errors.Is(&KeyError{Err: inner}, inner) {
		t.Error("wrapped causes must stay reachable")
	}
}
