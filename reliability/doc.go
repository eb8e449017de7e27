// Package reliability is the broker's reliability harness: Go tests that
// run the example broker (examples/broker) as a separate process and check
// what it survives.
//
//   - TestCrashLoop kills the broker with SIGKILL at random moments while
//     idempotent acks=all producers and plain acks=1 producers write to
//     several partitions, restarts it on the same data directory, and
//     finally checks that every acknowledged record is stored (exactly once
//     for the idempotent ones), in order, at the offset its acknowledgement
//     named, in batches whose CRCs hold.
//   - TestNetworkFuzz sends malformed frames over many connections while a
//     healthy producer keeps writing, and checks that each bad connection is
//     answered or closed, the process never panics and its memory stays
//     bounded.
//   - TestOverload offers about twice what the broker sustains with a small
//     buffer memory, samples the broker's resident memory every 100 ms, and
//     reconciles every acknowledged record afterwards.
//
// Each test has a short default run that fits in the package's test suite
// and a long run selected by flags (-long, -iterations, -duration, -inputs,
// -seed); RELIABILITY.md at the repository root lists them with the figures
// of a long run and the defects found, each now checked by default. The non-test files hold the pieces the tests
// share: the broker process (start, kill, stop, resident memory) and the
// scan of a stopped broker's segment files.
package reliability
