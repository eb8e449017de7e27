package errcode

import (
	"errors"
	"fmt"
	"testing"
)

func TestNamesAndRetriable(t *testing.T) {
	cases := []struct {
		c         Code
		name      string
		retriable bool
	}{
		{None, "NONE", false},
		{CorruptMessage, "CORRUPT_MESSAGE", true},
		{NotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true},
		{RequestTimedOut, "REQUEST_TIMED_OUT", true},
		{InvalidRecord, "INVALID_RECORD", false},
		{OutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false},
		{Code(9999), "ERROR_CODE_9999", false},
	}
	for _, tc := range cases {
		if got := tc.c.String(); got != tc.name {
			t.Errorf("%d: String() = %q, want %q", tc.c, got, tc.name)
		}
		if got := tc.c.Retriable(); got != tc.retriable {
			t.Errorf("%s: Retriable() = %v, want %v", tc.name, got, tc.retriable)
		}
	}
}

func TestErrorWraps(t *testing.T) {
	err := fmt.Errorf("append: %w", Errorf(KafkaStorageError, "disk %s", "gone"))
	var e *Error
	if !errors.As(err, &e) || e.Code != KafkaStorageError {
		t.Fatalf("errors.As = %v, %+v", err, e)
	}
	if got := e.Error(); got != "KAFKA_STORAGE_ERROR: disk gone" {
		t.Fatalf("Error() = %q", got)
	}
}
