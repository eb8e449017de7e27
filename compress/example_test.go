package compress_test

import (
	"errors"
	"fmt"

	"github.com/chronik-go/chronik/compress"
)

// Decode a batch's records with a size limit, reusing one buffer.
func ExampleAppendDecoded() {
	records := []byte(`{"level":"INFO","msg":"order placed"}`)
	payload, _ := compress.AppendEncoded(nil, compress.Zstd, records, 0)

	var buf []byte
	out, err := compress.AppendDecoded(buf[:0], compress.Zstd, payload, 1<<20)
	fmt.Println(string(out), err)

	_, err = compress.AppendDecoded(buf[:0], compress.Zstd, payload, 10)
	fmt.Println(errors.Is(err, compress.ErrTooLarge))

	_, err = compress.AppendDecoded(buf[:0], compress.Zstd, payload[:5], 1<<20)
	var ce *compress.CorruptError
	fmt.Println(errors.As(err, &ce), errors.Is(err, compress.ErrCorrupt), ce.Offset)
	// Output:
	// {"level":"INFO","msg":"order placed"} <nil>
	// true
	// true true 0
}

// Recompress for a topic whose compression.type and level differ.
func ExampleAppendEncoded() {
	records := []byte("records of the batch")
	if err := compress.ValidLevel(compress.Gzip, 9); err != nil {
		fmt.Println(err)
		return
	}
	payload, err := compress.AppendEncoded(nil, compress.Gzip, records, 9)
	fmt.Println(payload[0] == 0x1f && payload[1] == 0x8b, err)
	// Output: true <nil>
}

// Decode the lz4 payload of a magic 0 wrapper message, whose frame header
// checksum old Java clients computed over the wrong bytes.
func ExampleAppendDecodedLZ4Legacy() {
	payload, _ := compress.AppendEncodedLZ4Legacy(nil, []byte("legacy message set"), true)
	out, err := compress.AppendDecodedLZ4Legacy(nil, payload, 1<<10, true)
	fmt.Println(string(out), err)
	// Output: legacy message set <nil>
}
