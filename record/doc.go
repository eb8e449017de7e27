// Package record reads, checks, rewrites and builds Kafka record batches
// (message format v2) and legacy message sets (magic 0 and 1).
//
// Parsing works in place: a batch is checked and walked as the caller's
// bytes, and records are sub-slices of them (or of one reusable buffer the
// compressed records are decoded into), so the produce path neither copies
// nor allocates per record.
//
// The checks follow the Kafka broker exactly, in its order, and give its
// error codes (ProduceRequest.validateRecords,
// UnifiedLog.analyzeAndValidateRecords, LogValidator). For one client batch
// on Produce v3+:
//
//	CheckProduceRecords  exactly one complete magic-2 batch   INVALID_RECORD, UNSUPPORTED_COMPRESSION_TYPE, CORRUPT_MESSAGE
//	CheckFraming         length, magic, base offset 0         CORRUPT_MESSAGE, INVALID_RECORD
//	(caller)             size against max.message.bytes       MESSAGE_TOO_LARGE
//	CheckContents        header size, CRC, codec, counts,     CORRUPT_MESSAGE, INVALID_RECORD
//	                     control bit, sequence
//	WalkBatch            decompression (capped), every        CORRUPT_MESSAGE, MESSAGE_TOO_LARGE,
//	                     record, exact count and bytes        INVALID_RECORD
//
// Validator runs that whole sequence plus the per-record checks Kafka
// collects into record_errors (null keys on compacted topics, timestamps),
// and converts legacy message sets to one v2 batch. Builder writes v2
// batches (client batches, rebuilt batches, transaction markers).
//
// Failures are *Error values carrying the Kafka code and the byte offset
// (and record index) of the problem; per-record failures that Kafka
// collects rather than throws are RecordError values.
package record
