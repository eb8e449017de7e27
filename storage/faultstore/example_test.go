package faultstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/faultstore"
)

// Wrap a store so that every upload breaks half way, and check that the
// inner store shows no partial object.
func Example() {
	ctx := context.Background()
	inner := storage.NewMemory()
	s := faultstore.New(inner, faultstore.Options{Seed: 1, PartialPutRate: 1})

	err := s.Put(ctx, "k", strings.NewReader("0123456789"), 10)
	fmt.Println(errors.Is(err, faultstore.ErrInjected))
	_, err = inner.Get(ctx, "k", 0, -1)
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	fmt.Println(s.Counters().PartialPuts)
	// Output:
	// true
	// true
	// 1
}
