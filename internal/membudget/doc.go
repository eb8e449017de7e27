// Package membudget is a byte budget shared by the goroutines of one
// component: produce requests being read and appended (produce's
// BufferMemory) and Fetch responses being assembled (the example broker's
// -fetch-memory).
//
// A Budget has a limit. Acquire waits for room and serves waiters strictly
// in arrival order, so a stream of small requests cannot starve a large one
// that arrived first. Take charges bytes that are already in memory and
// must be kept (the rest of a frame being read, a record batch that cannot
// be split), past the limit if need be; waiters then wait until enough is
// released to bring usage back under it. Release gives bytes back and
// grants the waiters at the head of the line that now fit.
//
// Acquire never grants more than the limit: a request for more fails at
// once with a *TooLargeError. A caller whose need is only a bound (a fetch
// reads at most max_bytes, but fewer is fine) asks for min(n, Limit())
// itself.
//
// Only a caller that holds no reservation should wait in Acquire: waiting
// while holding one can deadlock with a waiter that needs those bytes.
package membudget
