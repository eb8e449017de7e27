package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
)

// verifier is the produce handler's TxnVerifier. The handler takes its
// verifier when it is created, and the transaction coordinator, which
// answers verifications, is created after the handler because it writes
// its markers through it; so the handler gets this forwarder, whose target
// is set once both exist.
type verifier struct {
	c atomic.Pointer[txn.Coordinator]
}

// Verify forwards to the coordinator. Before it is set (no client can
// produce then: the listener is not open yet) the answer is
// NOT_ENOUGH_REPLICAS, what a Kafka partition leader answers when it
// cannot reach the coordinator: retriable.
func (v *verifier) Verify(txnID string, producerID int64, epoch int16, topic string, partition int32) errcode.Code {
	c := v.c.Load()
	if c == nil {
		return errcode.NotEnoughReplicas
	}
	return c.Verify(txnID, producerID, epoch, topic, partition)
}

// markerWriter is the coordinator's txn.MarkerWriter: the handler's
// WriteMarker (Kafka's WriteTxnMarkers on the partition leader), plus the
// CrashAfterCommitMarkers test hook.
type markerWriter struct {
	h          *produce.Handler
	crashAfter int // config.CrashAfterCommitMarkers; 0 = no hook
	logger     *slog.Logger

	mu      sync.Mutex // serialises markers while the hook is armed
	commits int        // COMMIT markers written; guarded by mu
}

// WriteMarker appends the marker and returns once it is durable. With the
// test hook armed, markers are written one at a time and the process kills
// itself with SIGKILL right after the configured COMMIT marker, leaving the
// transaction's other partitions without theirs.
func (m *markerWriter) WriteMarker(ctx context.Context, topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error {
	if m.crashAfter <= 0 {
		return m.h.WriteMarker(ctx, topic, partition, producerID, epoch, coordinatorEpoch, commit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.h.WriteMarker(ctx, topic, partition, producerID, epoch, coordinatorEpoch, commit); err != nil {
		return err
	}
	if commit {
		m.commits++
		if m.commits == m.crashAfter {
			m.logger.Warn("test hook: killing the broker after a COMMIT marker", "env", crashHookEnv,
				"topic", topic, "partition", partition, "producer", producerID)
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal ends the process; nothing else may be written
		}
	}
	return nil
}

// partitionExists is the coordinator's PartitionExists: the topic and
// partition are in the metadata store.
func (b *broker) partitionExists(topic string, partition int32) bool {
	t, ok := b.meta.Topic(topic)
	if !ok {
		return false
	}
	_, ok = t.Partition(partition)
	return ok
}
