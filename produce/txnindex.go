package produce

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"sort"

	"github.com/chronik-go/chronik/internal/vfs"
)

// The aborted-transaction index of a partition (docs/format.md, "Aborted
// transaction index"): the file aborted.txnindex in the partition
// directory, a 5-byte header (magic "CKTX", version 1) followed by
// 28-byte entries, one per ABORT marker, in marker-offset order:
//
//	producerId i64 | firstOffset i64 | markerOffset i64 | crc u32
//
// where crc is the CRC-32C of the entry's first 24 bytes. A torn or corrupt
// tail is dropped on open. Kafka keeps one .txnindex per segment; one file
// per partition serves read_committed fetches the same way and is trimmed
// to the log on open.
const (
	txnIndexName    = "aborted.txnindex"
	txnIndexMagic   = "CKTX"
	txnIndexVersion = 1
	txnIndexHeader  = 5
	txnEntrySize    = 28
)

// AbortedTxn is one aborted transaction of a partition: its producer and
// the offsets of its first batch and of its ABORT marker.
type AbortedTxn struct {
	ProducerID   int64
	FirstOffset  int64
	MarkerOffset int64
}

// abortIndex is the in-memory copy of a partition's aborted-transaction
// index plus its file. The partition lock guards it.
type abortIndex struct {
	fs      vfs.FS
	path    string
	f       vfs.File
	size    int64
	entries []AbortedTxn
}

// openAbortIndex loads the index, dropping a torn tail and every entry whose
// marker is not below logEnd (it was lost with the log's unsynced tail).
// existed reports whether the file was there: when it was not, the caller
// rebuilds the entries from the whole log.
func openAbortIndex(fs vfs.FS, dir string, logEnd int64) (ix *abortIndex, existed bool, err error) {
	path := dir + "/" + txnIndexName
	_, statErr := fs.Stat(path)
	existed = statErr == nil
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, err
	}
	ix = &abortIndex{fs: fs, path: path, f: f}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, false, err
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, false, err
	}
	valid := int64(0)
	headerOK := len(data) >= txnIndexHeader && string(data[:4]) == txnIndexMagic && data[4] == txnIndexVersion
	existed = existed && headerOK
	if headerOK {
		valid = txnIndexHeader
		for p := data[txnIndexHeader:]; len(p) >= txnEntrySize; p = p[txnEntrySize:] {
			if crc32.Checksum(p[:24], castagnoliTable) != binary.BigEndian.Uint32(p[24:]) {
				break
			}
			e := AbortedTxn{
				ProducerID:   int64(binary.BigEndian.Uint64(p)),
				FirstOffset:  int64(binary.BigEndian.Uint64(p[8:])),
				MarkerOffset: int64(binary.BigEndian.Uint64(p[16:])),
			}
			if e.MarkerOffset >= logEnd {
				break
			}
			ix.entries = append(ix.entries, e)
			valid += txnEntrySize
		}
	}
	if valid != int64(len(data)) || valid == 0 {
		if err := ix.rewrite(); err != nil {
			f.Close()
			return nil, false, err
		}
	} else {
		ix.size = valid
	}
	return ix, existed, nil
}

// rewrite writes the header and every entry from scratch and syncs.
func (ix *abortIndex) rewrite() error {
	if err := ix.f.Truncate(0); err != nil {
		return err
	}
	buf := append([]byte(txnIndexMagic), txnIndexVersion)
	for _, e := range ix.entries {
		buf = appendTxnEntry(buf, e)
	}
	if _, err := ix.f.Write(buf); err != nil {
		return err
	}
	ix.size = int64(len(buf))
	return ix.f.Sync()
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

func appendTxnEntry(dst []byte, e AbortedTxn) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.ProducerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.FirstOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.MarkerOffset))
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoliTable))
}

// add records an aborted transaction and makes it durable before
// returning, so that no ABORT marker can be durable while its index entry
// is not. Entries at or below the last marker offset are already there
// (a replay after a restart) and are skipped.
func (ix *abortIndex) add(e AbortedTxn) error {
	if n := len(ix.entries); n > 0 && e.MarkerOffset <= ix.entries[n-1].MarkerOffset {
		return nil
	}
	if _, err := ix.f.Write(appendTxnEntry(nil, e)); err != nil {
		return err
	}
	if err := ix.f.Sync(); err != nil {
		return err
	}
	ix.size += txnEntrySize
	ix.entries = append(ix.entries, e)
	return nil
}

// overlapping returns the aborted transactions a read_committed fetch of
// [from, to) must be told about: those whose marker is at or after from
// and whose first batch is before to (kafka-semantics.md §4.10).
func (ix *abortIndex) overlapping(from, to int64) []AbortedTxn {
	i := sort.Search(len(ix.entries), func(i int) bool { return ix.entries[i].MarkerOffset >= from })
	var out []AbortedTxn
	for _, e := range ix.entries[i:] {
		if e.FirstOffset < to {
			out = append(out, e)
		}
	}
	return out
}

func (ix *abortIndex) close() error { return ix.f.Close() }
