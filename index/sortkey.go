package index

import (
	"bytes"
	"encoding/binary"
)

// Sort keys are byte strings whose order is the sort order, the same in
// every Indexer:
//
//	numbers, dates, offsets   tag (0x02 number, 0x03 date) + 8 bytes big-endian,
//	                          sign bit flipped (sortable integer)
//	keywords                  0x01 + the term bytes
//	scores, partitions        8 bytes as above, no tag
//
// A document without a value sorts last in either direction; bluge marks
// it with a key of 0xFF bytes (ascending) or a lone 0x00 (descending),
// which no value key equals.

const (
	tagKeyword = 0x01
	tagNumber  = 0x02 // tagNumber+1 is tagDate
	tagDate    = 0x03
)

type sortKind uint8

const (
	sortNumeric sortKind = iota
	sortKeyword
)

// sortFields returns the internal fields a sort field reads, in order of
// preference (a general field sorts by its numbers, else its dates); the
// i-th numeric field's keys carry tag tagNumber+i.
func sortFields(field string) (sortKind, []string) {
	switch field {
	case "_offset":
		return sortNumeric, []string{fieldOffset}
	case "_timestamp":
		return sortNumeric, []string{"", fieldTimestamp} // the second slot: a date
	}
	f := resolveField(field)
	switch f.kind {
	case fkKeyword:
		return sortKeyword, []string{f.keyword}
	case fkGeneral:
		return sortNumeric, []string{f.number, f.date}
	}
	return sortNumeric, nil
}

func intKey(v int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v)^(1<<63))
}

func scoreKey(s float64) []byte { return intKey(floatKey(s)) }

func typedKey(tag byte, v int64) []byte {
	b := make([]byte, 1, 9)
	b[0] = tag
	return binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
}

func keywordKey(term []byte) []byte {
	b := make([]byte, 1, 1+len(term))
	b[0] = tagKeyword
	return append(b, term...)
}

// compareSortKeys orders two keys for one sort field; missing keys last.
func compareSortKeys(a, b []byte, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	c := bytes.Compare(a, b)
	if desc {
		c = -c
	}
	return c
}

// decodeSortKey turns a key back into the value a hit reports.
func decodeSortKey(field string, key []byte) any {
	if len(key) == 0 || key[0] == 0x00 || key[0] == 0xFF {
		return nil
	}
	switch field {
	case "_score":
		if len(key) == 8 {
			return keyFloat(int64(binary.BigEndian.Uint64(key) ^ (1 << 63)))
		}
		return nil
	case "_partition":
		if len(key) == 8 {
			return int64(binary.BigEndian.Uint64(key) ^ (1 << 63))
		}
		return nil
	}
	if key[0] == tagKeyword {
		return string(key[1:])
	}
	if len(key) != 9 {
		return nil
	}
	v := int64(binary.BigEndian.Uint64(key[1:]) ^ (1 << 63))
	if field == "_offset" || key[0] == tagDate {
		return v
	}
	return keyFloat(v)
}
