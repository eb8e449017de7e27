// Package compress implements Kafka's record-batch compression codecs,
// selected by the codec bits (0-2) of a batch's attributes: gzip, snappy,
// lz4 and zstd, each framed exactly as Kafka's Java client frames it.
//
// The produce path decompresses every compressed batch once to validate its
// records, and recompresses only when the topic's codec differs from the
// batch's. Both directions append to a caller-owned buffer so a caller can
// reuse one buffer per goroutine and decode without allocating:
//
//	out, err := compress.AppendDecoded(buf[:0], codec, payload, maxBytes)
//	batch, err := compress.AppendEncoded(batch, compress.Zstd, records, 0)
//
// Decoding is bounded: the output never exceeds the caller's limit, and a
// decompression bomb is refused with ErrTooLarge after allocating at most
// about twice the limit (usually far less; declared sizes are checked before
// any allocation). Input that is not a valid stream gives an error wrapping
// ErrCorrupt, carrying a *CorruptError with the codec, the byte offset and
// the reason. Decoders never panic on any input (fuzzed).
//
// What each codec accepts, following Kafka's readers:
//
//   - gzip: one or more gzip members (RFC 1952). As java.util.zip's
//     GZIPInputStream, bytes after a complete member that do not start a
//     valid member header are ignored.
//   - snappy: the xerial framing of snappy-java's SnappyOutputStream (magic
//     header, then length-prefixed raw snappy blocks, concatenated streams
//     allowed), or, when the input does not start with that header, one raw
//     snappy block, as SnappyInputStream does. franz-go writes raw blocks.
//   - lz4: one LZ4 frame with independent blocks, as Kafka's
//     Lz4BlockInputStream: the header checksum and any block checksums are
//     verified, the content checksum is skipped, bytes after the end mark are
//     ignored. Message format v0 wrote a wrong header checksum, see
//     AppendDecodedLZ4Legacy.
//   - zstd: one or more zstd frames, skippable frames allowed, windows up to
//     zstd-jni's default limit of 128 MiB, no dictionaries.
//
// Encoding follows the Java producer: gzip members at level 6 by default,
// xerial snappy in 32 KiB chunks, lz4 frames of 64 KiB independent blocks
// without checksums compressed with the reference LZ4_compress_fast
// algorithm, and single zstd frames without checksum at level 3 by default.
//
// Encoders and decoders are pooled and safe for concurrent use. No call
// starts a goroutine.
package compress
