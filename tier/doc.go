// Package tier keeps a partition's sealed log segments in an object store:
// it implements segment.Archiver over storage.ObjectStore.
//
// Each sealed segment becomes one immutable, self-describing object,
// "<prefix><20-digit base offset>.seg", holding a header, the segment's raw
// batches, its offset index, time index and key bloom filter, and a footer
// that locates and checksums every section (docs/format.md, "Archived
// segment object"). Archive streams the segment into one Put, checking
// every batch's framing and CRC on the way so nothing corrupt is ever
// archived, and confirms the upload by reading the footer back.
//
// Reads are ranged: the footer (the last 128 bytes), then only the index
// section needed, then only the data bytes the index points to; a read never
// downloads the whole object. Footers, indexes and bloom filters are kept
// in a small LRU cache bounded by bytes. Failed reads are retried with
// exponential backoff, and every batch returned has its CRC checked.
package tier
