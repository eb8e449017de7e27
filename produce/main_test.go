package produce

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (a log's syncer, a
// connection's writer, a memory waiter) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
