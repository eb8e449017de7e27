package metadata_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every watcher goroutine must end with Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
