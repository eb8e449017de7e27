package txn

import (
	"testing"

	"go.uber.org/goleak"
)

// No cleanup goroutine, completion or marker worker may outlive Close.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
