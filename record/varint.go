package record

// Kafka's record fields use zigzag varints (ByteUtils.readVarint and
// readVarlong): at most 5 bytes for an int32 and 10 for an int64, 7 bits
// per byte, least significant group first. Like Kafka, a longer encoding is
// an error and the bits of the last byte that do not fit are dropped.

// readVarint decodes the zigzag varint at b[i:]. ok is false when the bytes
// end first or the varint runs past 5 bytes.
func readVarint(b []byte, i int) (v int32, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 { // one byte: the common case
		u := uint32(b[i])
		return int32(u>>1) ^ -int32(u&1), i + 1, true
	}
	return readVarintSlow(b, i)
}

func readVarintSlow(b []byte, i int) (v int32, next int, ok bool) {
	if i+1 < len(b) && b[i+1] < 0x80 { // two bytes: lengths up to 8 KiB
		u := uint32(b[i]&0x7f) | uint32(b[i+1])<<7
		return int32(u>>1) ^ -int32(u&1), i + 2, true
	}
	var u uint32
	for shift := uint(0); ; shift += 7 {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		if c < 0x80 {
			u |= uint32(c) << shift
			break
		}
		if shift == 28 {
			return 0, i, false
		}
		u |= uint32(c&0x7f) << shift
	}
	return int32(u>>1) ^ -int32(u&1), i, true
}

// readVarlong decodes the zigzag varlong at b[i:]. ok is false when the
// bytes end first or the varlong runs past 10 bytes.
func readVarlong(b []byte, i int) (v int64, next int, ok bool) {
	if i < len(b) && b[i] < 0x80 {
		u := uint64(b[i])
		return int64(u>>1) ^ -int64(u&1), i + 1, true
	}
	return readVarlongSlow(b, i)
}

func readVarlongSlow(b []byte, i int) (v int64, next int, ok bool) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if i >= len(b) {
			return 0, i, false
		}
		c := b[i]
		i++
		if c < 0x80 {
			u |= uint64(c) << shift
			break
		}
		if shift == 63 {
			return 0, i, false
		}
		u |= uint64(c&0x7f) << shift
	}
	return int64(u>>1) ^ -int64(u&1), i, true
}

// appendVarint appends the zigzag encoding of v.
func appendVarint(dst []byte, v int32) []byte {
	return appendUvarint(dst, uint64(uint32(v<<1)^uint32(v>>31)))
}

// appendVarlong appends the zigzag encoding of v.
func appendVarlong(dst []byte, v int64) []byte {
	return appendUvarint(dst, uint64(v<<1)^uint64(v>>63))
}

func appendUvarint(dst []byte, u uint64) []byte {
	for u >= 0x80 {
		dst = append(dst, byte(u)|0x80)
		u >>= 7
	}
	return append(dst, byte(u))
}

// varintSize is the encoded size of v as a zigzag varint.
func varintSize(v int32) int { return uvarintSize(uint64(uint32(v<<1) ^ uint32(v>>31))) }

// varlongSize is the encoded size of v as a zigzag varlong.
func varlongSize(v int64) int { return uvarintSize(uint64(v<<1) ^ uint64(v>>63)) }

func uvarintSize(u uint64) int {
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
