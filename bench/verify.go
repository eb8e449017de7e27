package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ack is one record a producer was told is written: where, and which.
type ack struct {
	offset int64
	n      uint64 // record number (see data.go)
}

// ledger is what producers were told: per partition, every acknowledged
// record. A client's promises run one at a time, so each client fills its
// own ledger without locks; the run merges them.
type ledger struct {
	acks [][]ack // by partition
}

// newLedger returns an empty ledger for a topic of that many partitions.
func newLedger(partitions int32) *ledger {
	return &ledger{acks: make([][]ack, partitions)}
}

// add records that record n was acknowledged at partition p, offset off.
func (l *ledger) add(p int32, off int64, n uint64) {
	l.acks[p] = append(l.acks[p], ack{offset: off, n: n})
}

// merge appends o's acknowledgements to l.
func (l *ledger) merge(o *ledger) {
	for p, a := range o.acks {
		l.acks[p] = append(l.acks[p], a...)
	}
}

// count returns the number of acknowledged records.
func (l *ledger) count() int64 {
	var n int64
	for _, a := range l.acks {
		n += int64(len(a))
	}
	return n
}

// recordGen regenerates the records of a run from their numbers.
type recordGen struct {
	pool      payloadPool
	valueSize int
	docs      *logDocPool // JSON documents instead of pool windows when set
	unique    bool        // with docs: each value carries the record number as its id
}

// record returns record n's key (appended to buf) and value.
func (g recordGen) record(buf []byte, n uint64) (key, value []byte) {
	switch {
	case g.docs != nil && g.unique:
		return appendKey(buf, n), g.docs.uniqueValue(n)
	case g.docs != nil:
		return appendKey(buf, n), g.docs.value(n)
	}
	return appendKey(buf, n), g.pool.value(n, g.valueSize)
}

// hash returns the hash record n must have when read back.
func (g recordGen) hash(n uint64) uint64 {
	var buf [keySize]byte
	k, v := g.record(buf[:0], n)
	return recordHash(k, v)
}

// partitionCheck is the reconciliation of one partition.
type partitionCheck struct {
	Partition int32
	Acked     int64  // records acknowledged to producers
	EndOffset int64  // the log end offset (high watermark) after the run
	Read      int64  // records read back
	WantSum   uint64 // checksum of the acknowledged records in offset order
	GotSum    uint64 // checksum of the records read back, in the order read
}

// ReconcileError says what a read-back found different from what producers
// were told: every problem up to a limit, and how many more there were.
type ReconcileError struct {
	Topic    string
	Problems []string
	More     int
}

func (e *ReconcileError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconciliation of topic %q failed: ", e.Topic)
	b.WriteString(strings.Join(e.Problems, "; "))
	if e.More > 0 {
		fmt.Fprintf(&b, "; and %d more", e.More)
	}
	return b.String()
}

// maxProblems bounds how many problems a ReconcileError lists.
const maxProblems = 8

// problems collects reconciliation problems.
type problems struct {
	list []string
	more int
}

func (p *problems) addf(format string, args ...any) {
	if len(p.list) < maxProblems {
		p.list = append(p.list, fmt.Sprintf(format, args...))
		return
	}
	p.more++
}

// endOffsetWait is how long a read-back waits for the log end offsets to
// reach the acknowledged records before it reads what there is (a
// variable so that tests of missing records need not wait as long).
var endOffsetWait = 10 * time.Second

// readBackStall is how long a read-back may go without a new record before
// it is declared stuck.
const readBackStall = 30 * time.Second

// reconcile reads every partition of topic back from offset 0 to its log
// end offset and checks it against the ledger: the end offset equals the
// number of acknowledged records, every acknowledged record is at the
// offset its producer was told with the key and value it was sent with,
// nothing else is in the log, and per partition the count and an
// order-dependent checksum agree. It returns a *ReconcileError on any
// difference.
func reconcile(ctx context.Context, addr, topic string, l *ledger, gen recordGen) ([]partitionCheck, error) {
	var probs problems
	checks := make([]partitionCheck, len(l.acks))
	sorted := make([][]ack, len(l.acks))
	for p, acks := range l.acks {
		s := slices.Clone(acks)
		slices.SortFunc(s, func(a, b ack) int { return cmp.Compare(a.offset, b.offset) })
		sorted[p] = s
		c := &checks[p]
		c.Partition, c.Acked = int32(p), int64(len(s))
		for i, a := range s {
			if i > 0 && s[i-1].offset == a.offset {
				probs.addf("partition %d offset %d: acknowledged twice (records %d and %d)", p, a.offset, s[i-1].n, a.n)
			}
			c.WantSum = foldChecksum(c.WantSum, gen.hash(a.n))
		}
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(32<<20), kgo.FetchMaxWait(250*time.Millisecond))
	if err != nil {
		return checks, fmt.Errorf("reconcile %s: consumer: %w", topic, err)
	}
	defer cl.Close()
	// acks=1 answers may come before the high watermark passes the data
	// (Kafka: replication; our broker: the fsync that follows), so wait a
	// bounded time for every partition's end to reach what was acked.
	var ends []int64
	waitUntil := time.Now().Add(endOffsetWait)
	for {
		ends, err = endOffsets(ctx, cl, topic, int32(len(l.acks)))
		if err != nil {
			return checks, fmt.Errorf("reconcile %s: %w", topic, err)
		}
		caughtUp := true
		for p := range checks {
			caughtUp = caughtUp && ends[p] >= checks[p].Acked
		}
		if caughtUp || time.Now().After(waitUntil) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	starts := make(map[int32]kgo.Offset)
	for p := range checks {
		checks[p].EndOffset = ends[p]
		if ends[p] != checks[p].Acked {
			probs.addf("partition %d: log end offset %d but %d records acknowledged", p, ends[p], checks[p].Acked)
		}
		if ends[p] > 0 {
			starts[int32(p)] = kgo.NewOffset().At(0)
		}
	}
	if len(starts) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts})
	}

	next := make([]int, len(l.acks)) // index into sorted of the next expected ack
	remaining := 0
	for p := range checks {
		if ends[p] > 0 {
			remaining++
		}
	}
	lastProgress := time.Now()
	for remaining > 0 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return checks, fmt.Errorf("reconcile %s: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return checks, fmt.Errorf("reconcile %s: fetch partition %d: %w", topic, fe.Partition, fe.Err)
		}
		progressed := false
		fetches.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if p < 0 || int(p) >= len(checks) {
				probs.addf("record from unexpected partition %d", p)
				return
			}
			c := &checks[p]
			if r.Offset >= c.EndOffset { // appended after the end offset was read
				probs.addf("partition %d offset %d: record beyond the log end offset %d", p, r.Offset, c.EndOffset)
				return
			}
			progressed = true
			h := recordHash(r.Key, r.Value)
			c.Read++
			c.GotSum = foldChecksum(c.GotSum, h)
			s, i := sorted[p], next[p]
			for i < len(s) && s[i].offset < r.Offset {
				probs.addf("partition %d offset %d: acknowledged (record %d) but not in the log", p, s[i].offset, s[i].n)
				i++
			}
			switch {
			case i < len(s) && s[i].offset == r.Offset:
				if want := gen.hash(s[i].n); h != want {
					got, ok := keyNumber(r.Key)
					probs.addf("partition %d offset %d: content differs from record %d sent there (key holds %d, valid %v, %d value bytes)",
						p, r.Offset, s[i].n, got, ok, len(r.Value))
				}
				i++
			default:
				got, _ := keyNumber(r.Key)
				probs.addf("partition %d offset %d: record (key %d) never acknowledged to a producer", p, r.Offset, got)
			}
			next[p] = i
			if r.Offset == c.EndOffset-1 {
				remaining--
			}
		})
		if progressed {
			lastProgress = time.Now()
		} else if time.Since(lastProgress) > readBackStall {
			for p := range checks {
				if checks[p].Read < checks[p].EndOffset {
					probs.addf("partition %d: read back stalled after %d of %d records", p, checks[p].Read, checks[p].EndOffset)
				}
			}
			break
		}
	}
	for p, s := range sorted {
		for _, a := range s[next[p]:] {
			probs.addf("partition %d offset %d: acknowledged (record %d) but not in the log", p, a.offset, a.n)
		}
		c := checks[p]
		if c.Read != c.Acked || c.GotSum != c.WantSum {
			probs.addf("partition %d: acknowledged %d records (checksum %016x), read back %d (checksum %016x)",
				p, c.Acked, c.WantSum, c.Read, c.GotSum)
		}
	}
	if len(probs.list) > 0 {
		return checks, &ReconcileError{Topic: topic, Problems: probs.list, More: probs.more}
	}
	return checks, nil
}

// endOffsets asks for the log end offset of every partition of topic.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string, partitions int32) ([]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1 // latest
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	ends := make([]int64, partitions)
	seen := make([]bool, partitions)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets: partition %d: %w", p.Partition, err)
			}
			if p.Partition < 0 || p.Partition >= partitions {
				return nil, fmt.Errorf("list offsets: unexpected partition %d", p.Partition)
			}
			ends[p.Partition], seen[p.Partition] = p.Offset, true
		}
	}
	for p, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("list offsets: partition %d missing from the response", p)
		}
	}
	return ends, nil
}
