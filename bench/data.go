package main

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
)

// Records are generated, not stored: record number n (counted across every
// producer of a run, from 0) has an 8-byte big-endian key holding n and a
// value that is a window of the shared payload pool chosen by n. A consumer
// that reads back a record recomputes what it must hold from its key, so a
// run keeps only 16 bytes per acknowledged record (its offset and n).

// keySize is the key length of every generated record.
const keySize = 8

// payloadPool is log-like JSON text with random fields, so that zstd and
// the other codecs find a realistic amount of redundancy (about 4:1).
type payloadPool []byte

// newPayloadPool returns a pool of at least size bytes, the same for the
// same seed.
func newPayloadPool(size int, seed uint64) payloadPool {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	levels := []string{"info", "info", "info", "warn", "debug", "error"}
	services := []string{"checkout", "payments", "search", "inventory", "auth", "shipping", "catalog"}
	msgs := []string{
		"order accepted and queued for fulfilment",
		"payment authorised by upstream provider",
		"cache miss, reading from primary store",
		"request completed",
		"retrying after transient upstream error",
		"user session refreshed",
		"inventory reservation released",
	}
	p := make([]byte, 0, size+256)
	for len(p) < size {
		p = fmt.Appendf(p, `{"ts":%d,"level":%q,"service":"%s-%d","latency_ms":%d,"user":{"id":%d,"region":"eu-%d"},"trace":"%016x","msg":%q}`+"\n",
			1_700_000_000_000+r.Int64N(1_000_000_000), levels[r.IntN(len(levels))],
			services[r.IntN(len(services))], r.IntN(16), r.IntN(2000), r.IntN(1_000_000), r.IntN(4),
			r.Uint64(), msgs[r.IntN(len(msgs))])
	}
	return payloadPool(p[:size])
}

// value returns record n's value of the given size: a window of the pool
// (shared, never written to).
func (p payloadPool) value(n uint64, size int) []byte {
	span := uint64(len(p) - size)
	off := (n * 2654435761) % (span + 1)
	return p[off : off+uint64(size) : off+uint64(size)]
}

// appendKey appends record n's key to b.
func appendKey(b []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(b, n)
}

// keyNumber returns the record number held in a generated key.
func keyNumber(key []byte) (uint64, bool) {
	if len(key) != keySize {
		return 0, false
	}
	return binary.BigEndian.Uint64(key), true
}

// hashSeed is the seed of every record hash of this process: producers and
// consumers of a run live in the same process.
var hashSeed = maphash.MakeSeed()

// recordHash hashes a record's key and value. The key's length is mixed in
// so that bytes moved between key and value change the hash.
func recordHash(key, value []byte) uint64 {
	hk := maphash.Bytes(hashSeed, key)
	hv := maphash.Bytes(hashSeed, value)
	return (hk^uint64(len(key)))*0x9e3779b97f4a7c15 ^ hv
}

// foldChecksum extends a per-partition checksum with the next record's
// hash; the result depends on the order of the records.
func foldChecksum(sum, h uint64) uint64 {
	return (sum ^ h) * 0x100000001b3
}
