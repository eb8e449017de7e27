package membudget_test

import (
	"context"
	"fmt"

	"github.com/chronik-go/chronik/internal/membudget"
)

// A request reserves its bytes before reading them, and a reader already
// part-way through a frame charges the rest past the limit.
func ExampleBudget() {
	b := membudget.New(1 << 20)
	ctx := context.Background()

	if err := b.Acquire(ctx, 64<<10); err != nil {
		fmt.Println(err)
		return
	}
	b.Take(2 << 20) // bytes that are arriving and must be read
	fmt.Println(b.InUse(), b.InUse() > b.Limit())
	b.Release(64<<10 + 2<<20)

	// A bound rather than a need: ask for at most the limit.
	want := int64(8 << 20)
	if err := b.Acquire(ctx, min(want, b.Limit())); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.InUse(), b.Peak())
	b.Release(min(want, b.Limit()))
	// Output:
	// 2162688 true
	// 1048576 2162688
}
