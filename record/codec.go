package record

import "github.com/chronik-go/chronik/compress"

// The compression calls, in one place.

func decode(dst []byte, c compress.Codec, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		limit = maxDecoded
	}
	return compress.AppendDecoded(dst, c, src, limit)
}

func decodeLZ4Legacy(dst, src []byte, limit int, brokenChecksum bool) ([]byte, error) {
	if limit <= 0 {
		limit = maxDecoded
	}
	return compress.AppendDecodedLZ4Legacy(dst, src, limit, brokenChecksum)
}

func encode(dst []byte, c compress.Codec, src []byte, level int) ([]byte, error) {
	return compress.AppendEncoded(dst, c, src, level)
}

// maxDecoded is the cap used when the caller gives none: the largest
// records section a batch length can describe.
const maxDecoded = 1<<31 - 1
