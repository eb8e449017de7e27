// Package segment is the durable append-only log of one topic-partition:
// the place acknowledged Kafka data lives.
//
// A Log is a directory of segments. Each segment is a .log file holding raw
// v2 record batches back to back exactly as Kafka stores them (no header, so
// ranges are served byte-exact), plus three files written when the segment
// is sealed (and, for the active segment, at Close): a sparse offset index
// (.index), a time index (.timeindex) and a bloom filter of record keys
// (.bloom). Every file the package defines has a magic, a version byte and
// a CRC-32C; docs/format.md describes them byte by byte.
//
// # Durability
//
// Append writes into the page cache and returns the batch's offset; the
// bytes then survive the death of the process. HighWatermark is the end of
// the data covered by a completed fsync, and WaitDurable blocks until it
// passes an offset: a single syncer goroutine fsyncs everything written so
// far for all waiters at once (group commit) while appends continue. A
// failed write or fsync is sticky: every later Append and every WaitDurable
// above the high watermark fails with *StorageError (KAFKA_STORAGE_ERROR),
// and the high watermark never moves again until the log is reopened.
//
// # Recovery
//
// Open trusts a segment's index files when their CRCs hold and they
// describe exactly the .log's size; otherwise it scans the data from the
// last point they describe (or from the start), checking each batch's
// framing, CRC-32C and offset continuity, rebuilding indexes and bloom
// filter (decompressing batches for their keys). A torn or corrupt tail is
// truncated, reported as a TailTruncated event carrying a *CorruptionError,
// and appends continue after the last valid batch.
//
// # Goroutines and locks
//
// Each Log owns up to three goroutines, started by Open and ended by Close:
// the syncer (group commit), the housekeeper (writes index files of rolled
// segments, runs retention) and, with an Archiver, the uploader (archives
// sealed segments, retrying with exponential backoff). Log.mu guards the
// segment list, the active segment's state, the offsets and the sticky
// error; it is never held across an fsync, a read of data or an Archiver
// call. Log.sealMu serializes index-file and checkpoint rewrites and is
// taken before Log.mu. Log.remoteMu guards the cached list of archived
// segments and is never held with Log.mu.
//
// # Tiering and retention
//
// With an Archiver, sealed segments are uploaded in offset order; reads,
// time lookups and key lookups below the first local segment go to the
// Archiver; and retention deletes a local segment only after Archive
// confirmed it. Retention deletes whole sealed segments, oldest first,
// never the active one, by size and by age, as Kafka does.
package segment
