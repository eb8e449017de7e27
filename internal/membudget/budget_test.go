package membudget

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// queued returns the sizes of the waiting Acquire calls, in line order.
func queued(b *Budget) []int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	sizes := []int64{}
	for _, w := range b.waiters {
		sizes = append(sizes, w.n)
	}
	return sizes
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// acquireAsync starts Acquire(ctx, n) and waits until it is in line,
// behind the sizes already queued.
func acquireAsync(t *testing.T, ctx context.Context, b *Budget, n int64) <-chan error {
	t.Helper()
	want := append(queued(b), n)
	done := make(chan error, 1)
	go func() { done <- b.Acquire(ctx, n) }()
	waitUntil(t, fmt.Sprintf("the line is %v", want), func() bool { return slices.Equal(queued(b), want) })
	return done
}

// result waits for the outcome of an Acquire started by acquireAsync.
func result(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Acquire did not return")
		return nil
	}
}

// granted waits for Acquires started by acquireAsync and fails unless
// each reserved its bytes.
func granted(t *testing.T, done ...<-chan error) {
	t.Helper()
	for _, d := range done {
		if err := result(t, d); err != nil {
			t.Fatal(err)
		}
	}
}

// wantLineEmpty fails unless nobody waits in b's line.
func wantLineEmpty(t *testing.T, b *Budget) {
	t.Helper()
	if got := queued(b); len(got) != 0 {
		t.Fatalf("the line is %v, want empty", got)
	}
}

func mustAcquire(t *testing.T, b *Budget, n int64) {
	t.Helper()
	if err := b.Acquire(context.Background(), n); err != nil {
		t.Fatalf("Acquire(%d): %v", n, err)
	}
}

func checkUse(t *testing.T, b *Budget, inUse, peak int64) {
	t.Helper()
	if got := b.InUse(); got != inUse {
		t.Errorf("InUse = %d, want %d", got, inUse)
	}
	if got := b.Peak(); got != peak {
		t.Errorf("Peak = %d, want %d", got, peak)
	}
}

func TestAcquireWithinLimitDoesNotWait(t *testing.T) {
	b := New(100)
	if b.Limit() != 100 {
		t.Fatalf("Limit = %d, want 100", b.Limit())
	}
	mustAcquire(t, b, 60)
	mustAcquire(t, b, 40)
	checkUse(t, b, 100, 100)
	b.Release(100)
	checkUse(t, b, 0, 100)
}

func TestWaitersAreGrantedInArrivalOrder(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	mustAcquire(t, b, 100)
	first := acquireAsync(t, ctx, b, 30)
	second := acquireAsync(t, ctx, b, 30)
	third := acquireAsync(t, ctx, b, 30)

	b.Release(30)
	granted(t, first)
	if got := queued(b); !slices.Equal(got, []int64{30, 30}) {
		t.Fatalf("after room for one waiter, the line is %v; want the second and third", got)
	}
	b.Release(30)
	granted(t, second)
	if got := queued(b); !slices.Equal(got, []int64{30}) {
		t.Fatalf("after room for two waiters, the line is %v; want the third", got)
	}
	b.Release(40) // room for the third
	granted(t, third)
	checkUse(t, b, 90, 100)
}

func TestOneReleaseGrantsEveryWaiterThatFits(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	mustAcquire(t, b, 100)
	var done []<-chan error
	for _, n := range []int64{10, 20, 30, 40, 1} {
		done = append(done, acquireAsync(t, ctx, b, n))
	}
	b.Release(100)
	granted(t, done[:4]...)
	if got := queued(b); !slices.Equal(got, []int64{1}) {
		t.Fatalf("the line is %v; want only the waiter that does not fit", got)
	}
	checkUse(t, b, 100, 100)
	b.Release(10)
	if err := result(t, done[4]); err != nil {
		t.Fatal(err)
	}
	checkUse(t, b, 91, 100)
}

func TestLargeWaiterIsNotStarvedBySmallOnes(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	mustAcquire(t, b, 90)
	big := acquireAsync(t, ctx, b, 80)

	// Small requests keep arriving; each would fit in the 10 bytes free,
	// but must wait behind the large one.
	var small []<-chan error
	for range 5 {
		small = append(small, acquireAsync(t, ctx, b, 5))
	}
	checkUse(t, b, 90, 90)
	// A stream of short-lived small reservations from other goroutines
	// cannot get past the large waiter either.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for cctx.Err() == nil {
				if err := b.Acquire(cctx, 1); err == nil {
					t.Error("a small request overtook a waiting large one")
					b.Release(1)
				}
			}
		})
	}
	wg.Wait()
	if got := queued(b); !slices.Equal(got, []int64{80, 5, 5, 5, 5, 5}) {
		t.Fatalf("the line is %v after the stream gave up", got)
	}

	b.Release(90)
	granted(t, big)
	granted(t, small[:4]...) // 80 + 4×5 = the limit
	if got := queued(b); !slices.Equal(got, []int64{5}) {
		t.Fatalf("the line is %v; want the last small request", got)
	}
	b.Release(80)
	if err := result(t, small[4]); err != nil {
		t.Fatal(err)
	}
	checkUse(t, b, 25, 100)
}

func TestCancelledHeadWaiterLetsSmallerOnesBehindIn(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 90)
	ctx, cancel := context.WithCancel(context.Background())
	big := acquireAsync(t, ctx, b, 80)
	small := acquireAsync(t, context.Background(), b, 5)
	smaller := acquireAsync(t, context.Background(), b, 3)

	// Nothing is released: removing the head of the line alone lets the
	// smaller waiters behind it in.
	cancel()
	if err := result(t, big); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire returned %v, want context.Canceled", err)
	}
	granted(t, small, smaller)
	wantLineEmpty(t, b)
	checkUse(t, b, 98, 98)
}

func TestCancelledWaiterInTheMiddleLeavesTheLine(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100)
	ctx, cancel := context.WithCancel(context.Background())
	first := acquireAsync(t, context.Background(), b, 50)
	middle := acquireAsync(t, ctx, b, 40)
	last := acquireAsync(t, context.Background(), b, 10)

	cancel()
	if err := result(t, middle); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire returned %v, want context.Canceled", err)
	}
	if got := queued(b); !slices.Equal(got, []int64{50, 10}) {
		t.Fatalf("the line is %v after the middle waiter left", got)
	}
	checkUse(t, b, 100, 100)
	b.Release(60)
	granted(t, first, last)
	checkUse(t, b, 100, 100)
}

func TestDeadlineWhileWaitingReservesNothing(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := b.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full budget with a deadline: %v", err)
	}
	if got := queued(b); len(got) != 0 {
		t.Fatalf("the line is %v after the deadline, want empty", got)
	}
	b.Release(100)
	checkUse(t, b, 0, 100)
}

// blockedRelocking reports whether a goroutine is blocked taking b.mu back
// inside Acquire, after it saw its context done.
func blockedRelocking() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "(*Mutex).Lock") && strings.Contains(g, "membudget.(*Budget).Acquire") {
			return true
		}
	}
	return false
}

func TestGrantedWhileCancellingIsHandedBack(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100)
	ctx, cancel := context.WithCancel(context.Background())
	giving := acquireAsync(t, ctx, b, 60)
	behind := acquireAsync(t, context.Background(), b, 50)

	// Cancel while holding the lock, so that the waiter sees its context
	// done before its grant and blocks taking the lock back; then grant it
	// as Release would.
	b.mu.Lock()
	cancel()
	waitUntil(t, "the cancelled waiter blocks on the budget's lock", blockedRelocking)
	b.used -= 100
	b.grantLocked() // grants the 60; the 50 behind does not fit
	b.mu.Unlock()

	if err := result(t, giving); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire granted while cancelling returned %v, want context.Canceled", err)
	}
	// The 60 bytes came back, and with them room for the waiter behind.
	granted(t, behind)
	wantLineEmpty(t, b)
	checkUse(t, b, 50, 100)
}

func TestCancelledContextWithWaitersReturnsAtOnce(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100)
	waiting := acquireAsync(t, context.Background(), b, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a done context behind a waiter: %v", err)
	}
	if got := queued(b); !slices.Equal(got, []int64{10}) {
		t.Fatalf("the line is %v, want the earlier waiter only", got)
	}
	b.Release(100)
	granted(t, waiting)
	// With room and nobody waiting, a done context still gets its bytes.
	if err := b.Acquire(ctx, 20); err != nil {
		t.Fatalf("Acquire with room and a done context: %v", err)
	}
	checkUse(t, b, 30, 100)
}

func TestTakePastTheLimitHoldsWaitersUntilBelow(t *testing.T) {
	b := New(100)
	ctx := context.Background()
	mustAcquire(t, b, 40)
	b.Take(110) // past the limit
	checkUse(t, b, 150, 150)

	w := acquireAsync(t, ctx, b, 10)
	b.Release(40) // 110: still over the limit
	if got := queued(b); !slices.Equal(got, []int64{10}) {
		t.Fatalf("the line is %v at 110 of 100 in use", got)
	}
	b.Release(10) // 100: back at the limit, but 10 more do not fit
	if got := queued(b); !slices.Equal(got, []int64{10}) {
		t.Fatalf("the line is %v at 100 of 100 in use", got)
	}
	b.Release(10) // 90: now they fit
	granted(t, w)
	checkUse(t, b, 100, 150)

	// Take does not wait, not even behind waiters.
	last := acquireAsync(t, ctx, b, 50)
	b.Take(25)
	checkUse(t, b, 125, 150)
	if got := queued(b); !slices.Equal(got, []int64{50}) {
		t.Fatalf("the line is %v after Take", got)
	}
	b.Release(75) // 50 in use: room for the waiter
	granted(t, last)
	checkUse(t, b, 100, 150)
	b.Release(100)
	checkUse(t, b, 0, 150)
}

// mustPanic runs f and returns what it panicked with, failing the test if
// it did not.
func mustPanic(t *testing.T, what string, f func()) (v any) {
	t.Helper()
	defer func() {
		if v = recover(); v == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
	return nil
}

func TestReleasingMoreThanReservedPanics(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 10)
	v := mustPanic(t, "Release(11) with 10 reserved", func() { b.Release(11) })
	if msg := fmt.Sprint(v); !strings.Contains(msg, "release 11 bytes with 10 reserved") {
		t.Fatalf("panic %q does not say what was released and reserved", msg)
	}
	// The budget is unchanged and still usable.
	checkUse(t, b, 10, 10)
	b.Release(10)
	mustPanic(t, "Release(1) with nothing reserved", func() { b.Release(1) })
	mustAcquire(t, b, 100)
	checkUse(t, b, 100, 100)
}

func TestNegativeSizesPanic(t *testing.T) {
	b := New(100)
	mustPanic(t, "Acquire(-1)", func() { _ = b.Acquire(context.Background(), -1) })
	mustPanic(t, "Take(-1)", func() { b.Take(-1) })
	mustPanic(t, "Release(-1)", func() { b.Release(-1) })
	mustPanic(t, "New(0)", func() { New(0) })
	mustPanic(t, "New(-1)", func() { New(-1) })
	checkUse(t, b, 0, 0)
}

func TestAcquireMoreThanTheLimitFailsAtOnce(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100) // full: a request that waited would wait forever
	err := b.Acquire(context.Background(), 101)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.N != 101 || tl.Limit != 100 {
		t.Fatalf("Acquire(101) of a 100-byte budget: %v, want a TooLargeError", err)
	}
	if want := "membudget: acquire 101 bytes: more than the limit of 100"; err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	wantLineEmpty(t, b)
	checkUse(t, b, 100, 100)
}

func TestZeroBytes(t *testing.T) {
	b := New(100)
	mustAcquire(t, b, 100)
	w := acquireAsync(t, context.Background(), b, 1)
	// Nothing to reserve: no wait, even on a full budget with a line.
	if err := b.Acquire(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	b.Take(0)
	b.Release(0)
	if got := queued(b); !slices.Equal(got, []int64{1}) {
		t.Fatalf("the line is %v", got)
	}
	checkUse(t, b, 100, 100)
	b.Release(100)
	granted(t, w)
	checkUse(t, b, 1, 100)
}

func TestPeakIsTheMostEverReservedAtOnce(t *testing.T) {
	b := New(100)
	checkUse(t, b, 0, 0)
	mustAcquire(t, b, 30)
	mustAcquire(t, b, 20)
	checkUse(t, b, 50, 50)
	b.Release(50)
	mustAcquire(t, b, 40)
	checkUse(t, b, 40, 50) // lower than before: the peak stays
	mustAcquire(t, b, 35)
	checkUse(t, b, 75, 75)
	b.Take(45)
	checkUse(t, b, 120, 120)
	b.Release(120)
	checkUse(t, b, 0, 120)
	// A waiter's grant counts too.
	mustAcquire(t, b, 90)
	w := acquireAsync(t, context.Background(), b, 100)
	b.Release(90)
	granted(t, w)
	checkUse(t, b, 100, 120)
}

// TestConcurrentUseKeepsTheBooks has goroutines acquire, take, release and
// give up at random: Acquire never lets usage pass the limit beyond what
// Take added, and everything comes back.
func TestConcurrentUseKeepsTheBooks(t *testing.T) {
	const limit = 1000
	b := New(limit)
	var (
		mu    sync.Mutex // guards taken
		taken int64      // bytes currently held through Take
	)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				n := 1 + rng.Int64N(400)
				switch rng.IntN(4) {
				case 0: // gives up soon, often while waiting
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(200))*time.Microsecond)
					err := b.Acquire(ctx, n)
					cancel()
					if err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							t.Errorf("Acquire(%d): %v", n, err)
						}
						continue
					}
				case 1: // takes a little past the limit
					n = 1 + rng.Int64N(20)
					mu.Lock()
					taken += n
					mu.Unlock()
					b.Take(n)
					runtime.Gosched()
					mu.Lock()
					taken -= n
					mu.Unlock()
					b.Release(n)
					continue
				default:
					if err := b.Acquire(context.Background(), n); err != nil {
						t.Errorf("Acquire(%d): %v", n, err)
						return
					}
				}
				mu.Lock()
				over := taken
				mu.Unlock()
				// Take adds at most 8×20 bytes past the limit.
				if u := b.InUse(); u > limit+over+8*20 {
					t.Errorf("%d in use with a limit of %d", u, limit)
				}
				runtime.Gosched()
				b.Release(n)
			}
		})
	}
	wg.Wait()
	if got := queued(b); len(got) != 0 {
		t.Fatalf("the line is %v after every goroutine finished", got)
	}
	if u, p := b.InUse(), b.Peak(); u != 0 || p > limit+8*20 {
		t.Fatalf("InUse %d, Peak %d after every goroutine finished", u, p)
	}
}

func TestTryAcquireNeverWaitsNorJumpsTheLine(t *testing.T) {
	b := New(100)
	if !b.TryAcquire(0) || !b.TryAcquire(70) {
		t.Fatal("TryAcquire refused bytes that fit")
	}
	if b.TryAcquire(31) {
		t.Fatal("TryAcquire reserved past the limit")
	}
	checkUse(t, b, 70, 70)
	done := acquireAsync(t, context.Background(), b, 50)
	// 10 bytes fit, but a waiter is in line: TryAcquire must not pass it.
	if b.TryAcquire(10) {
		t.Fatal("TryAcquire jumped the line")
	}
	b.Release(70)
	granted(t, done)
	if !b.TryAcquire(50) {
		t.Fatal("TryAcquire refused bytes that fit with nobody waiting")
	}
	checkUse(t, b, 100, 100)
	b.Release(100)
	defer func() {
		if recover() == nil {
			t.Error("TryAcquire(-1) did not panic")
		}
	}()
	b.TryAcquire(-1)
}
