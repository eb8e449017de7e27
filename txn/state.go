package txn

import (
	"math"
	"slices"
	"sort"
	"strconv"
)

// State is the coordinator state of one transactional id, numbered as in
// Kafka's TransactionState (the ids of the transaction log record).
type State int8

// The states of Kafka's transaction coordinator state machine
// (kafka-semantics.md §4.6). PrepareEpochFence and Dead are never stored:
// they only name a transition in flight (Kafka's pendingState).
const (
	Empty             State = 0 // no transaction; entered by InitProducerId
	Ongoing           State = 1 // partitions or groups added, not yet ended
	PrepareCommit     State = 2 // EndTxn(commit) persisted; markers being written
	PrepareAbort      State = 3 // EndTxn(abort), a timeout or a fence persisted; markers being written
	CompleteCommit    State = 4 // every COMMIT marker durable
	CompleteAbort     State = 5 // every ABORT marker durable
	Dead              State = 6 // transactional id expired; its record is being removed
	PrepareEpochFence State = 7 // an Ongoing transaction is being fenced (epoch+1, then PrepareAbort)
)

// noState marks an entry with no transition in flight.
const noState State = -1

var stateNames = [...]string{
	Empty:             "Empty",
	Ongoing:           "Ongoing",
	PrepareCommit:     "PrepareCommit",
	PrepareAbort:      "PrepareAbort",
	CompleteCommit:    "CompleteCommit",
	CompleteAbort:     "CompleteAbort",
	Dead:              "Dead",
	PrepareEpochFence: "PrepareEpochFence",
}

// String returns Kafka's name for the state, such as "PrepareCommit".
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// stored reports whether records may carry s.
func (s State) stored() bool { return s >= Empty && s <= CompleteAbort }

// preparing reports whether s is PrepareCommit or PrepareAbort.
func (s State) preparing() bool { return s == PrepareCommit || s == PrepareAbort }

// completed reports whether s is Empty, CompleteCommit or CompleteAbort: the
// states with no transaction in progress.
func (s State) completed() bool { return s == Empty || s == CompleteCommit || s == CompleteAbort }

// Epoch limits. Kafka never hands out epoch 32767 to a client: an epoch of
// 32766 or more counts as exhausted, and InitProducerId then allocates a new
// producer id (TransactionMetadata.isEpochExhausted).
const (
	noEpoch        int16 = -1
	exhaustedEpoch int16 = math.MaxInt16 - 1
	noProducerID   int64 = -1
	noTimestamp    int64 = -1
)

func epochExhausted(e int16) bool { return e >= exhaustedEpoch }

// record is the persisted state of one transactional id: the value of its
// key in the "txn" namespace (format in codec.go). Records are immutable
// once built: a transition builds a new one, so readers may keep a pointer
// without a lock.
type record struct {
	state      State
	producerID int64
	epoch      int16
	lastPID    int64 // producer id before the last transition (Kafka's lastProducerId)
	lastEpoch  int16 // epoch before the last bump, -1 when none (KIP-360 retries)
	timeoutMs  int32
	startMs    int64              // when the current (or last) transaction went Ongoing; -1 before the first
	updateMs   int64              // last transition, for transactional.id.expiration.ms
	partitions map[string][]int32 // topic -> sorted distinct partitions; nil when none
	groups     []string           // sorted distinct consumer groups (AddOffsetsToTxn)
}

// clone returns a copy of r that shares the partition slices and groups
// (never modified in place).
func (r *record) clone() *record {
	c := *r
	return &c
}

// hasPartition reports whether topic/partition is in the transaction.
func (r *record) hasPartition(topic string, partition int32) bool {
	_, found := slices.BinarySearch(r.partitions[topic], partition)
	return found
}

// hasGroup reports whether group was added with AddOffsetsToTxn.
func (r *record) hasGroup(group string) bool {
	_, found := slices.BinarySearch(r.groups, group)
	return found
}

// containsAll reports whether every partition of add is in the transaction.
func (r *record) containsAll(add map[string][]int32) bool {
	for t, ps := range add {
		for _, p := range ps {
			if !r.hasPartition(t, p) {
				return false
			}
		}
	}
	return true
}

// withPartitions returns r's partition set extended by add, as fresh slices.
func (r *record) withPartitions(add map[string][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(r.partitions)+len(add))
	for t, ps := range r.partitions {
		out[t] = ps
	}
	for t, ps := range add {
		merged := append(slices.Clone(out[t]), ps...)
		slices.Sort(merged)
		out[t] = slices.Compact(merged)
	}
	return out
}

// withGroup returns r's groups plus group, as a fresh slice.
func (r *record) withGroup(group string) []string {
	out := append(slices.Clone(r.groups), group)
	sort.Strings(out)
	return slices.Compact(out)
}

// equalIdentity reports whether a and b are the same step of the same
// transaction: state, producer id and epoch.
func equalIdentity(a, b *record) bool {
	return a != nil && b != nil && a.state == b.state && a.producerID == b.producerID && a.epoch == b.epoch
}
