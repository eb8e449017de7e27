package txn

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

// MaxOffsetMetadataBytes is the longest metadata string an offset commit
// may carry (Kafka offset.metadata.max.bytes, default 4096); a longer one
// gets OFFSET_METADATA_TOO_LARGE.
const MaxOffsetMetadataBytes = 4096

// OffsetAndMetadata is one committed offset of a consumer group partition.
type OffsetAndMetadata struct {
	Offset      int64
	LeaderEpoch int32 // the leader epoch of the consumed record, -1 when unknown
	Metadata    string
}

// PartitionOffset is one partition of an OffsetFetch answer: the committed
// offset (Offset -1, LeaderEpoch -1 and empty Metadata when none), or
// UNSTABLE_OFFSET_COMMIT in Code.
type PartitionOffset struct {
	OffsetAndMetadata
	Code errcode.Code
}

// groupKey is the store key of group's offsets: the group id prefixed with
// "g", so that the empty group id, which OffsetCommit allows, is a valid
// key.
func groupKey(group string) string { return "g" + group }

// CommitOffsets stores offsets as group's committed offsets, as Kafka's
// OffsetCommit does for a group whose membership the caller has checked
// (generation and member id are the group coordinator's business). It
// returns one code per partition: UNKNOWN_TOPIC_OR_PARTITION for a
// partition that does not exist, OFFSET_METADATA_TOO_LARGE for metadata
// over MaxOffsetMetadataBytes, and for the others NONE once stored, or the
// store failure (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, or
// INVALID_COMMIT_OFFSET_SIZE when the group's record would exceed the
// store's value limit). A commit made after a transaction's TxnOffsetCommit
// stays in place when that transaction commits, as in Kafka.
func (c *Coordinator) CommitOffsets(ctx context.Context, group string, offsets map[string]map[int32]OffsetAndMetadata) map[string]map[int32]errcode.Code {
	out, valid := c.checkOffsets(offsets)
	if len(valid) == 0 {
		return out
	}
	if c.isClosed() {
		return setCodes(out, valid, errcode.NotCoordinator)
	}
	err := c.updateGroup(ctx, group, func(g *groupRecord) bool {
		g.seq++
		mergeOffsets(&g.committed, valid, g.seq)
		return true
	})
	if err != nil {
		c.logGroupError(group, err)
	}
	return setCodes(out, valid, offsetStoreCode(err))
}

// FetchOffsets answers OffsetFetch for group: the committed offsets of the
// requested partitions (topics nil: every committed partition). With
// requireStable (OffsetFetch v7+), a partition with offsets pending in an
// open transaction gets UNSTABLE_OFFSET_COMMIT instead of its offset
// (kafka-semantics.md §4.4). The second result is a group-level error
// (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR, UNKNOWN_SERVER_ERROR for a
// corrupt record).
func (c *Coordinator) FetchOffsets(ctx context.Context, group string, topics map[string][]int32, requireStable bool) (map[string]map[int32]PartitionOffset, errcode.Code) {
	if c.isClosed() {
		return nil, errcode.NotCoordinator
	}
	g, _, err := c.readGroup(ctx, group)
	if err != nil {
		c.logGroupError(group, err)
		return nil, storeCode(err)
	}
	pending := func(t string, p int32) bool {
		for _, m := range g.pending {
			if _, ok := m[t][p]; ok {
				return true
			}
		}
		return false
	}
	answer := func(t string, p int32) PartitionOffset {
		if requireStable && pending(t, p) {
			return PartitionOffset{OffsetAndMetadata{Offset: -1, LeaderEpoch: -1}, errcode.UnstableOffsetCommit}
		}
		if o, ok := g.committed[t][p]; ok {
			return PartitionOffset{OffsetAndMetadata{Offset: o.offset, LeaderEpoch: o.leaderEpoch, Metadata: o.metadata}, errcode.None}
		}
		return PartitionOffset{OffsetAndMetadata{Offset: -1, LeaderEpoch: -1}, errcode.None}
	}
	out := make(map[string]map[int32]PartitionOffset)
	if topics == nil {
		for t, ps := range g.committed {
			out[t] = make(map[int32]PartitionOffset, len(ps))
			for p := range ps {
				out[t][p] = answer(t, p)
			}
		}
		return out, errcode.None
	}
	for t, ps := range topics {
		out[t] = make(map[int32]PartitionOffset, len(ps))
		for _, p := range ps {
			out[t][p] = answer(t, p)
		}
	}
	return out, errcode.None
}

// checkOffsets answers the partitions that do not exist or carry metadata
// that is too long, and returns the others in valid.
func (c *Coordinator) checkOffsets(offsets map[string]map[int32]OffsetAndMetadata) (out map[string]map[int32]errcode.Code, valid map[string]map[int32]OffsetAndMetadata) {
	out = make(map[string]map[int32]errcode.Code, len(offsets))
	valid = make(map[string]map[int32]OffsetAndMetadata, len(offsets))
	for t, ps := range offsets {
		out[t] = make(map[int32]errcode.Code, len(ps))
		for p, o := range ps {
			switch {
			case t == "" || p < 0 || !c.opts.PartitionExists(t, p):
				out[t][p] = errcode.UnknownTopicOrPartition
			case len(o.Metadata) > MaxOffsetMetadataBytes:
				out[t][p] = errcode.OffsetMetadataTooLarge
			default:
				if valid[t] == nil {
					valid[t] = make(map[int32]OffsetAndMetadata, len(ps))
				}
				valid[t][p] = o
			}
		}
	}
	return out, valid
}

func setCodes(out map[string]map[int32]errcode.Code, valid map[string]map[int32]OffsetAndMetadata, code errcode.Code) map[string]map[int32]errcode.Code {
	for t, ps := range valid {
		for p := range ps {
			out[t][p] = code
		}
	}
	return out
}

// mergeOffsets sets offsets into *m, all with sequence seq.
func mergeOffsets(m *offsetMap, offsets map[string]map[int32]OffsetAndMetadata, seq int64) {
	if *m == nil {
		*m = make(offsetMap, len(offsets))
	}
	for t, ps := range offsets {
		if (*m)[t] == nil {
			(*m)[t] = make(map[int32]offsetEntry, len(ps))
		}
		for p, o := range ps {
			(*m)[t][p] = offsetEntry{offset: o.Offset, leaderEpoch: o.LeaderEpoch, metadata: o.Metadata, seq: seq}
		}
	}
}

// readGroup returns group's offsets record (empty when none) and its
// stored bytes (nil when none).
func (c *Coordinator) readGroup(ctx context.Context, group string) (*groupRecord, []byte, error) {
	key := groupKey(group)
	raw, found, err := c.store.Get(ctx, offsetsNamespace, key)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return &groupRecord{}, nil, nil
	}
	g, err := decodeGroup(raw)
	if err != nil {
		return nil, nil, &CorruptError{Namespace: offsetsNamespace, Key: key, Err: err}
	}
	return g, raw, nil
}

// Bounds the compare-and-swap attempts of one offsets update lost to
// another coordinator sharing the store.
const maxGroupConflicts = 8

// updateGroup applies fn to group's offsets record and stores the result
// with compare-and-swap, deleting the record once it holds nothing. fn
// reports whether it changed anything. Updates of one group within this
// coordinator are serialised; a conflict with another writer rereads and
// applies fn again.
func (c *Coordinator) updateGroup(ctx context.Context, group string, fn func(*groupRecord) bool) error {
	h := fnv.New32a()
	h.Write([]byte(group))
	lock := c.groupLocks[h.Sum32()%uint32(len(c.groupLocks))]
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-lock }()
	key := groupKey(group)
	for range maxGroupConflicts {
		g, old, err := c.readGroup(ctx, group)
		if err != nil {
			return err
		}
		if !fn(g) {
			return nil
		}
		var enc []byte
		if !g.empty() {
			if enc, err = encodeGroup(g); err != nil {
				return fmt.Errorf("txn: encoding the offsets of group %q: %w", group, err)
			}
			if len(enc) > metadata.MaxValueLen {
				return fmt.Errorf("txn: offsets of group %q need %d bytes, above the store's %d: %w",
					group, len(enc), metadata.MaxValueLen, metadata.ErrInvalidArgument)
			}
		}
		ok, err := c.store.CompareAndSwap(ctx, offsetsNamespace, key, old, enc)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return fmt.Errorf("txn: offsets of group %q: %w", group, errConflict)
}

func (c *Coordinator) logGroupError(group string, err error) {
	var ce *CorruptError
	if errors.As(err, &ce) {
		c.opts.Logger.Error("txn: unreadable group offsets", "group", group, "err", err)
		return
	}
	c.opts.Logger.Warn("txn: group offsets", "group", group, "err", err)
}

// finishGroups makes the offsets that rec's producer committed inside the
// transaction visible (commit) or drops them (abort) in every group the
// transaction added: Kafka's group coordinator does this when the marker
// lands on the group's __consumer_offsets partition
// (GroupMetadata.completePendingTxnOffsetCommit). A pending offset replaces
// the committed one only if it was written after it. Store failures are
// retried with backoff until Close (NOT_COORDINATOR); a corrupt group
// record is logged and skipped.
func (c *Coordinator) finishGroups(id string, rec *record) errcode.Code {
	commit := rec.state == PrepareCommit
	for _, group := range rec.groups {
		b := c.newBackoff()
		for {
			err := c.updateGroup(c.ctx, group, func(g *groupRecord) bool {
				p, ok := g.pending[rec.producerID]
				if !ok {
					return false
				}
				if commit {
					for t, ps := range p {
						for part, o := range ps {
							if cur, ok := g.committed[t][part]; !ok || cur.seq < o.seq {
								if g.committed == nil {
									g.committed = make(offsetMap)
								}
								if g.committed[t] == nil {
									g.committed[t] = make(map[int32]offsetEntry)
								}
								g.committed[t][part] = o
							}
						}
					}
				}
				delete(g.pending, rec.producerID)
				return true
			})
			if err == nil {
				break
			}
			var ce *CorruptError
			if errors.As(err, &ce) {
				c.opts.Logger.Error("txn: cannot finish the offsets of a transaction", "transactional_id", id,
					"group", group, "err", err)
				break
			}
			c.opts.Logger.Warn("txn: finishing the offsets of a transaction, retrying", "transactional_id", id,
				"group", group, "err", err)
			if !b.wait(c.ctx) {
				return errcode.NotCoordinator
			}
		}
	}
	return errcode.None
}
