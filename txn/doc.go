// Package txn is chronik's transaction coordinator: the exactly-once half
// of Kafka's produce guarantees. It answers InitProducerId,
// AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and TxnOffsetCommit as
// Apache Kafka's TransactionCoordinator does (transaction protocol v1), keeps
// each transactional id's state in a metadata.Store, writes the COMMIT and
// ABORT markers through a MarkerWriter the produce path provides, aborts
// transactions that outlive their timeout, and expires idle transactional
// ids. It also stores consumer-group offsets, so that offsets committed
// inside a transaction become visible exactly when it commits.
//
// The state machine is Kafka's (Empty, Ongoing, PrepareCommit,
// PrepareAbort, CompleteCommit, CompleteAbort, with PrepareEpochFence and
// Dead as transitions in flight). Every transition is stored with
// compare-and-swap before the request is answered; while one is in flight
// the id answers CONCURRENT_TRANSACTIONS. EndTxn is stricter than Kafka: it
// answers NONE only once every marker is durable and the Complete state is
// stored, so a successful commit is never undone by a failed marker write.
// After a restart, New resumes the transactions left in a Prepare state
// (writing their markers again) and the cleanup goroutine aborts Ongoing
// ones when their timeout passes.
//
// A host wires it as: one Coordinator per broker over the broker's
// metadata.Store and idempotence.IDAllocator; the produce path implements
// MarkerWriter and calls Verify before the first transactional batch of a
// producer on a partition; the request handlers decode requests, call the
// method of the same name and encode the codes it returns.
package txn
