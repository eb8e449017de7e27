package txn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/idempotence"
	"github.com/chronik-go/chronik/metadata"
)

// Namespaces of the records the coordinator keeps in the metadata.Store.
const (
	namespaceTxn         = "txn"             // key: transactional id; value: transaction record
	offsetsNamespace     = "offsets"         // key: "g" + group id; value: group offsets record
	namespaceCoordinator = "txn-coordinator" // key "epoch": the last coordinator epoch handed out
	coordinatorEpochKey  = "epoch"
)

// Highest request versions the coordinator serves. Higher versions belong
// to transaction protocol v2 (KIP-890 part 2: EndTxn v5 and TxnOffsetCommit
// v5 bump the epoch on every transaction, produce v12 adds partitions
// implicitly) or to two-phase commit (InitProducerId v6, KIP-939); a host
// advertises at most these and the methods answer UNSUPPORTED_VERSION
// above them. AddPartitionsToTxn v4+ is the broker-to-broker form, which
// Verify replaces in process.
const (
	MaxInitProducerIDVersion  int16 = 5
	MaxAddPartitionsVersion   int16 = 3
	MaxAddOffsetsVersion      int16 = 4
	MaxEndTxnVersion          int16 = 4
	MaxTxnOffsetCommitVersion int16 = 4
)

// MarkerWriter appends COMMIT/ABORT control batches (record.AppendControlBatch) through the same append path as data and returns once the marker is durable.
//
// The coordinator calls WriteMarker for every partition of a transaction
// after its PrepareCommit or PrepareAbort record is stored, from several
// goroutines at once (at most Options.MarkerConcurrency calls), and again
// after a restart for transactions found in a Prepare state: a marker may
// be written more than once, and a duplicate must be harmless (a second
// marker of an already closed transaction changes nothing a consumer sees).
//
// A nil error means the marker is durable. Failures that carry a Kafka
// code are returned as, or wrap, an *errcode.Error: INVALID_PRODUCER_EPOCH
// (the partition has seen a newer epoch) and TRANSACTION_COORDINATOR_FENCED
// (it has seen a newer coordinatorEpoch) mean this coordinator is stale and
// stop the completion, as in Kafka's
// TransactionMarkerRequestCompletionHandler; UNSUPPORTED_FOR_MESSAGE_FORMAT
// and UNSUPPORTED_VERSION drop the partition from the transaction. Every
// other error, with or without a code, is retried with backoff until the
// marker is durable or the coordinator is closed. ctx is cancelled by
// Close; WriteMarker should then return promptly.
type MarkerWriter interface {
	WriteMarker(ctx context.Context, topic string, partition int32, producerID int64, epoch int16, coordinatorEpoch int32, commit bool) error
}

// Coordinator is Kafka's transaction coordinator for every transactional
// id, backed by a metadata.Store, plus the offsets store of consumer groups
// (which Kafka's group coordinator keeps) so that offsets committed inside
// a transaction become visible exactly when it commits.
//
// Methods take decoded request fields and return Kafka error codes, mapped
// for the request version. Every state change is stored with
// compare-and-swap before the method returns, so two coordinators sharing
// a store cannot both make conflicting transitions; one transactional id is
// still meant to be served by one coordinator at a time, as in Kafka (the
// other would answer Verify from a stale view). It is safe for concurrent
// use.
type Coordinator struct {
	store            metadata.Store
	ids              *idempotence.IDAllocator
	markers          MarkerWriter
	opts             Options
	coordinatorEpoch int32 // bumped by every New on the store; sent with every marker

	ctx    context.Context // cancelled by Close; bounds the background work
	cancel context.CancelFunc
	wg     sync.WaitGroup // the cleanup goroutine and every completion

	markerSlots chan struct{}     // one token per WriteMarker call in flight
	groupLocks  [64]chan struct{} // serialise read-modify-write of a group's offsets record, by hash
	mu          sync.RWMutex      // guards txns, every entry's fields and closed
	txns        map[string]*entry // transactional id -> state
	closed      bool              // set by Close; no completion starts afterwards
}

// entry is the coordinator's view of one transactional id. Its fields are
// guarded by Coordinator.mu.
type entry struct {
	rec   *record // last record seen in the store; nil for a new id not stored yet
	raw   []byte  // rec's stored bytes: the expected value of the next compare-and-swap
	stale bool    // a write failed or conflicted: reload rec before deciding again

	// pending is the transition in flight (Kafka's pendingState), noState
	// when none. While it is set, requests get CONCURRENT_TRANSACTIONS and
	// background work waits on released.
	pending  State
	released chan struct{} // closed when pending returns to noState

	comp *completion // the last completion started for this id, running or finished; nil when none
}

// completion is the background work that writes the markers of one
// Prepare record and stores its Complete state.
type completion struct {
	rec      *record       // the Prepare record being completed
	done     chan struct{} // closed when the completion ends
	code     errcode.Code  // NONE once the Complete state is stored, else why it stopped; set before done is closed
	finished bool          // guarded by Coordinator.mu; set when done is closed
}

// New returns a coordinator over store. It bumps the coordinator epoch kept
// in the store (sent with every marker, so partitions refuse markers from a
// coordinator that an earlier New on the same store replaced), loads every
// transaction record, resumes the completion of those found in
// PrepareCommit or PrepareAbort (writing their markers again), and starts
// the goroutine that aborts timed-out transactions and expires idle
// transactional ids; Ongoing transactions found at start are aborted by it
// once their timeout has passed. A record that does not decode fails New
// with a *CorruptError.
func New(store metadata.Store, ids *idempotence.IDAllocator, markers MarkerWriter, opts Options) (*Coordinator, error) {
	switch {
	case store == nil:
		return nil, errors.New("txn: nil metadata store")
	case ids == nil:
		return nil, errors.New("txn: nil producer id allocator")
	case markers == nil:
		return nil, errors.New("txn: nil marker writer")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	epoch, err := nextCoordinatorEpoch(ctx, store)
	if err != nil {
		return nil, err
	}
	raws, err := store.List(ctx, namespaceTxn, "")
	if err != nil {
		return nil, fmt.Errorf("txn: loading transactions: %w", err)
	}
	c := &Coordinator{
		store:            store,
		ids:              ids,
		markers:          markers,
		opts:             opts.withDefaults(),
		coordinatorEpoch: epoch,
		txns:             make(map[string]*entry, len(raws)),
	}
	for id, raw := range raws {
		rec, err := decodeRecord(raw)
		if err != nil {
			return nil, &CorruptError{Namespace: namespaceTxn, Key: id, Err: err}
		}
		c.txns[id] = &entry{rec: rec, raw: raw, pending: noState}
	}
	c.markerSlots = make(chan struct{}, c.opts.MarkerConcurrency)
	for i := range c.groupLocks {
		c.groupLocks[i] = make(chan struct{}, 1)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.mu.Lock()
	for id, e := range c.txns {
		if e.rec.state.preparing() {
			c.opts.Logger.Info("txn: resuming completion", "transactional_id", id, "state", e.rec.state,
				"producer_id", e.rec.producerID, "epoch", e.rec.epoch)
			c.startCompletion(id, e)
		}
	}
	c.mu.Unlock()
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// nextCoordinatorEpoch increments the coordinator epoch stored in store
// and returns the new value (0 for the first coordinator).
func nextCoordinatorEpoch(ctx context.Context, store metadata.Store) (int32, error) {
	for range 16 {
		raw, found, err := store.Get(ctx, namespaceCoordinator, coordinatorEpochKey)
		if err != nil {
			return 0, fmt.Errorf("txn: reading the coordinator epoch: %w", err)
		}
		next := int32(0)
		if found {
			cur, err := decodeEpoch(raw)
			if err != nil {
				return 0, &CorruptError{Namespace: namespaceCoordinator, Key: coordinatorEpochKey, Err: err}
			}
			if cur == math.MaxInt32 {
				return 0, errors.New("txn: coordinator epoch exhausted")
			}
			next = cur + 1
		} else {
			raw = nil
		}
		ok, err := store.CompareAndSwap(ctx, namespaceCoordinator, coordinatorEpochKey, raw, encodeEpoch(next))
		if err != nil {
			return 0, fmt.Errorf("txn: storing the coordinator epoch: %w", err)
		}
		if ok {
			return next, nil
		}
	}
	return 0, errors.New("txn: coordinator epoch kept changing under concurrent starts")
}

// CoordinatorEpoch returns the epoch this coordinator sends with its
// markers: one more than the previous coordinator's on the same store.
func (c *Coordinator) CoordinatorEpoch() int32 { return c.coordinatorEpoch }

// Close stops the cleanup goroutine and every completion in progress and
// waits for them; it does not close the store. Transactions left in a
// Prepare state are completed by the next New on the store. Afterwards
// every method answers NOT_COORDINATOR (Verify: NOT_ENOUGH_REPLICAS).
// Closing again does nothing.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

func (c *Coordinator) nowMs() int64 { return c.opts.Now().UnixMilli() }

// decision is what an operation decided from a transactional id's current
// record: an answer, a record to store, a removal, or an action to run
// while the id is held.
type decision struct {
	code    errcode.Code                       // the answer, also after a successful write
	next    *record                            // the record to store
	remove  bool                               // delete the record (expiry: Kafka's tombstone)
	pending State                              // the transition announced while writing or acting
	newPID  bool                               // allocate next.producerID once the id is held
	action  func(context.Context) errcode.Code // run while the id is held, instead of a write
}

// decideFunc decides from the current record (nil when the id has none)
// and the transition in flight (noState when none). It runs under
// Coordinator.mu and must not block.
type decideFunc func(cur *record, pending State) decision

// Bounds the reloads of one transition caused by other writers.
const maxConflicts = 8

// transition runs one step of the state machine on id, two-phase as in
// Kafka: decide picks the next record, the id is marked pending (requests
// arriving meanwhile get CONCURRENT_TRANSACTIONS from their own decide),
// the record is stored with compare-and-swap against the bytes last seen,
// and only then does the in-memory state change. A compare-and-swap that
// finds other bytes reloads the record and decides again. create keeps an
// entry for an id without a record (InitProducerId); wait makes background
// work wait for a transition in flight instead of deciding beside it.
func (c *Coordinator) transition(ctx context.Context, id string, create, wait bool, decide decideFunc) (*record, errcode.Code) {
	for attempt := 0; attempt < maxConflicts; {
		e, code := c.load(ctx, id, create)
		if code != errcode.None {
			return nil, code
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errcode.NotCoordinator
		}
		if e == nil {
			d := decide(nil, noState)
			c.mu.Unlock()
			return nil, d.code
		}
		if c.txns[id] != e {
			c.mu.Unlock()
			attempt++
			continue
		}
		if wait && e.pending != noState {
			released := e.released
			c.mu.Unlock()
			select {
			case <-released:
				continue
			case <-ctx.Done():
				return nil, errcode.CoordinatorNotAvailable
			}
		}
		if e.stale && e.pending == noState {
			c.mu.Unlock()
			attempt++
			continue
		}
		if e.rec == nil && e.pending != noState {
			// A new id being created by a concurrent request.
			c.mu.Unlock()
			return nil, errcode.ConcurrentTransactions
		}
		d := decide(e.rec, e.pending)
		if e.pending != noState && (d.next != nil || d.remove || d.action != nil) {
			// Never start a second transition beside the one in flight.
			d = decision{code: errcode.ConcurrentTransactions}
		}
		if d.next == nil && !d.remove && d.action == nil {
			rec := e.rec
			c.dropIfUnused(id, e)
			c.mu.Unlock()
			return rec, d.code
		}
		e.pending, e.released = d.pending, make(chan struct{})
		old := e.raw
		c.mu.Unlock()

		if d.action != nil {
			code := d.action(ctx)
			c.mu.Lock()
			c.release(e)
			rec := e.rec
			c.mu.Unlock()
			return rec, code
		}
		rec, code, retry := c.write(ctx, id, e, old, d)
		if retry {
			attempt++
			continue
		}
		return rec, code
	}
	return nil, errcode.ConcurrentTransactions
}

// write stores d (a record or a removal) over old for an entry held by
// transition, then updates the entry and releases it. retry reports a
// conflict with another writer.
func (c *Coordinator) write(ctx context.Context, id string, e *entry, old []byte, d decision) (rec *record, code errcode.Code, retry bool) {
	fail := func(code errcode.Code) (*record, errcode.Code, bool) {
		c.mu.Lock()
		c.release(e)
		c.dropIfUnused(id, e)
		c.mu.Unlock()
		return nil, code, false
	}
	if d.newPID {
		pid, err := c.ids.Next(ctx)
		if err != nil {
			c.opts.Logger.Warn("txn: allocating a producer id", "transactional_id", id, "err", err)
			return fail(pidCode(err))
		}
		d.next.producerID = pid
	}
	var enc []byte
	if !d.remove {
		var err error
		if enc, err = encodeRecord(d.next); err != nil {
			c.opts.Logger.Error("txn: encoding a transaction record", "transactional_id", id, "err", err)
			return fail(errcode.UnknownServerError)
		}
		if len(enc) > metadata.MaxValueLen {
			// Kafka: a transaction log record too large to append is
			// MESSAGE_TOO_LARGE, answered as UNKNOWN_SERVER_ERROR.
			return fail(errcode.UnknownServerError)
		}
	}
	ok, err := c.store.CompareAndSwap(ctx, namespaceTxn, id, old, enc)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.release(e)
	switch {
	case err != nil:
		e.stale = true
		c.dropIfUnused(id, e)
		c.opts.Logger.Warn("txn: storing a transaction record", "transactional_id", id, "err", err)
		return nil, storeCode(err), false
	case !ok:
		e.stale = true
		return nil, errcode.None, true
	case d.remove:
		delete(c.txns, id)
		return nil, d.code, false
	}
	e.rec, e.raw, e.stale = d.next, enc, false
	if d.next.state.preparing() {
		c.startCompletion(id, e)
	}
	return d.next, d.code, false
}

// release ends e's transition in flight. c.mu must be held.
func (c *Coordinator) release(e *entry) {
	e.pending = noState
	if e.released != nil {
		close(e.released)
		e.released = nil
	}
}

// dropIfUnused removes the entry of an id that has no record and nothing in
// flight. c.mu must be held.
func (c *Coordinator) dropIfUnused(id string, e *entry) {
	if e.rec == nil && e.pending == noState && c.txns[id] == e {
		delete(c.txns, id)
	}
}

// load returns id's entry, reading the store when the coordinator has none
// or its copy is stale. It returns nil for an id without a record unless
// create is set, in which case it adds an empty entry.
func (c *Coordinator) load(ctx context.Context, id string, create bool) (*entry, errcode.Code) {
	if id == "" || len(id) > metadata.MaxKeyLen {
		return nil, errcode.None
	}
	c.mu.RLock()
	e, closed := c.txns[id], c.closed
	fresh := e != nil && (!e.stale || e.pending != noState)
	c.mu.RUnlock()
	if closed {
		return nil, errcode.NotCoordinator
	}
	if fresh {
		return e, errcode.None
	}
	raw, found, err := c.store.Get(ctx, namespaceTxn, id)
	if err != nil {
		return nil, storeCode(err)
	}
	var rec *record
	if found {
		if rec, err = decodeRecord(raw); err != nil {
			c.opts.Logger.Error("txn: unreadable transaction record", "err",
				&CorruptError{Namespace: namespaceTxn, Key: id, Err: err})
			return nil, errcode.UnknownServerError
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.txns[id]
	if cur != nil && (cur != e || cur.pending != noState) {
		return cur, errcode.None // someone else loaded or is writing it meanwhile
	}
	if !found {
		if cur != nil {
			delete(c.txns, id)
		}
		if !create {
			return nil, errcode.None
		}
		cur = &entry{pending: noState}
		c.txns[id] = cur
		return cur, errcode.None
	}
	if cur == nil {
		cur = &entry{pending: noState}
		c.txns[id] = cur
	}
	cur.rec, cur.raw, cur.stale = rec, raw, false
	if rec.state.preparing() {
		c.startCompletion(id, cur)
	}
	return cur, errcode.None
}

// pidCode maps a producer id allocation failure: the exhausted id space is
// UNKNOWN_SERVER_ERROR (Kafka's ProducerIdManager), anything else
// COORDINATOR_LOAD_IN_PROGRESS, Kafka's answer while the next block of ids
// has not arrived.
func pidCode(err error) errcode.Code {
	if errors.Is(err, metadata.ErrProducerIDsExhausted) {
		return errcode.UnknownServerError
	}
	return errcode.CoordinatorLoadInProgress
}

// effectiveEpoch is the epoch requests are checked against: while an
// epoch fence is being stored, the bumped one, so the fenced producer's
// requests already get PRODUCER_FENCED (Kafka bumps the in-memory epoch in
// prepareFenceProducerEpoch before the write).
func effectiveEpoch(cur *record, pending State) int16 {
	if pending == PrepareEpochFence && cur.epoch < math.MaxInt16 {
		return cur.epoch + 1
	}
	return cur.epoch
}

// fence returns cur, an Ongoing transaction, fenced: epoch+1 and
// PrepareAbort, as Kafka's prepareFenceProducerEpoch followed by
// endTransaction(abort) with the bumped epoch. An epoch already at 32767
// (never handed to a client) is kept.
func fence(cur *record, nowMs int64) *record {
	next := cur.clone()
	next.epoch = effectiveEpoch(cur, PrepareEpochFence)
	next.lastPID = cur.producerID
	next.lastEpoch = noEpoch
	next.state = PrepareAbort
	next.updateMs = nowMs
	return next
}

// Transaction is a snapshot of one transactional id's coordinator state.
type Transaction struct {
	ID            string
	State         State
	ProducerID    int64
	ProducerEpoch int16
	Timeout       time.Duration
	StartTime     time.Time          // when the transaction went Ongoing; zero before the first one
	LastUpdate    time.Time          // the last stored transition
	Partitions    map[string][]int32 // partitions in the transaction, sorted; a private copy
	Groups        []string           // consumer groups added with AddOffsets, sorted
}

// Describe returns the state of txnID as this coordinator last stored or
// loaded it, or false when it has none (as DescribeTransactions needs).
func (c *Coordinator) Describe(txnID string) (Transaction, bool) {
	c.mu.RLock()
	e := c.txns[txnID]
	var rec *record
	if e != nil {
		rec = e.rec
	}
	c.mu.RUnlock()
	if rec == nil {
		return Transaction{}, false
	}
	t := Transaction{
		ID: txnID, State: rec.state, ProducerID: rec.producerID, ProducerEpoch: rec.epoch,
		Timeout:    time.Duration(rec.timeoutMs) * time.Millisecond,
		LastUpdate: time.UnixMilli(rec.updateMs),
		Groups:     append([]string(nil), rec.groups...),
	}
	if rec.startMs >= 0 {
		t.StartTime = time.UnixMilli(rec.startMs)
	}
	if rec.partitions != nil {
		t.Partitions = make(map[string][]int32, len(rec.partitions))
		for topic, ps := range rec.partitions {
			t.Partitions[topic] = append([]int32(nil), ps...)
		}
	}
	return t, true
}
