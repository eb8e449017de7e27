package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/chronik-go/chronik/storage"
)

// Store an object, read a range of it, list and delete it.
func Example() {
	ctx := context.Background()
	s := storage.NewMemory() // or storage.OpenBlob(ctx, "s3://bucket?region=eu-west-1")
	defer s.Close()

	data := "hello, object store"
	if err := s.Put(ctx, "greetings/1.txt", strings.NewReader(data), int64(len(data))); err != nil {
		panic(err)
	}
	rc, err := s.Get(ctx, "greetings/1.txt", 7, 6) // bytes 7..12
	if err != nil {
		panic(err)
	}
	part, _ := io.ReadAll(rc)
	rc.Close()
	fmt.Printf("%s\n", part)

	_ = s.List(ctx, "greetings/", func(o storage.ObjectInfo) error {
		fmt.Println(o.Key, o.Size)
		return nil
	})
	_ = s.Delete(ctx, "greetings/1.txt")
	_, err = s.Get(ctx, "greetings/1.txt", 0, -1)
	fmt.Println(errors.Is(err, storage.ErrNotFound))
	// Output:
	// object
	// greetings/1.txt 19
	// true
}
