// Package wire encodes and decodes the parts of the Kafka wire protocol that
// chronik reads and writes itself: size-prefixed frames, request and
// response headers, the Produce API (v0-v9, requests and responses) and the
// Fetch API (v4-v12) with raw record batches.
//
// Decoding works in place. A decoded ProduceRequest's Records and a
// decoded FetchResponse's Records are sub-slices of the caller's body, never
// copies, so a 1 MiB Produce request costs a few allocations for the topic
// and partition slices and nothing per record batch. Record batches
// themselves are parsed by package record.
//
// Every decoder is strict in the way Apache Kafka's generated message
// readers are: lengths must fit the input, non-nullable fields must not be
// null, strings are at most 32767 bytes, and unknown tagged fields of
// flexible versions are skipped. Where Kafka refuses an array count larger
// than the remaining bytes, these decoders refuse one larger than the
// remaining bytes divided by the element's smallest encoding, before
// allocating anything; and a body with bytes left after its last field is
// rejected. Failures are *DecodeError values that name the message, the
// field and the byte offset.
//
// Encoders append to a caller-supplied slice (AppendTo) and write every
// field the version defines; flexible versions get empty tagged-field
// sections.
//
// The package has no goroutines, no locks and no global mutable state; its
// values are safe for concurrent reads.
package wire
