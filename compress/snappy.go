package compress

import (
	"bytes"
	"encoding/binary"

	"github.com/golang/snappy"
)

// The xerial framing of snappy-java's SnappyOutputStream (SnappyCodec):
// a 16-byte header, the magic then two big-endian int32 versions, followed
// by chunks of [int32 big-endian length][raw snappy block].
const (
	xerialHeaderLen = 16
	xerialVersion   = 1 // SnappyCodec.DEFAULT_VERSION and MINIMUM_COMPATIBLE_VERSION
	// xerialChunkSize is SnappyOutputStream.DEFAULT_BLOCK_SIZE, the
	// uncompressed size of each chunk the Java producer writes.
	xerialChunkSize = 32 << 10
	// xerialMagicHead is the first four magic bytes read as a chunk length:
	// SnappyInputStream takes it as the start of a concatenated stream.
	xerialMagicHead = 0x82534E41
	// snappyMaxRatio bounds a snappy block's expansion: the best op, a
	// 3-byte copy, yields 64 bytes. A block whose header claims more is
	// corrupt, so a lying length cannot make us allocate.
	snappyMaxRatio = 22
)

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// appendDecodedSnappy decodes as snappy-java's SnappyInputStream: input
// starting with the xerial magic is a chunk stream, anything else is one
// raw snappy block (what franz-go and librdkafka's unframed mode write).
func appendDecodedSnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return dst, corrupt(Snappy, 0, nil, "empty input")
	}
	start := len(dst)
	if len(src) < xerialHeaderLen || !bytes.Equal(src[:len(xerialMagic)], xerialMagic) {
		return appendSnappyBlock(dst, src, 0, limit, start)
	}
	pos := xerialHeaderLen
	for {
		// SnappyInputStream.hasNextChunk ends the stream when fewer than
		// four bytes are left.
		if len(src)-pos < 4 {
			return dst, nil
		}
		n := binary.BigEndian.Uint32(src[pos:])
		if n == xerialMagicHead {
			if len(src)-pos < xerialHeaderLen {
				return dst, corrupt(Snappy, pos, nil, "truncated header of a concatenated xerial stream")
			}
			if !bytes.Equal(src[pos:pos+len(xerialMagic)], xerialMagic) {
				// SnappyInputStream stops reading at a header with a bad magic.
				return dst, nil
			}
			if v := int32(binary.BigEndian.Uint32(src[pos+8:])); v < xerialVersion {
				return dst, corrupt(Snappy, pos, nil, "concatenated xerial stream has incompatible version %d", v)
			}
			pos += xerialHeaderLen
			continue
		}
		if int32(n) < 0 {
			return dst, corrupt(Snappy, pos, nil, "negative xerial chunk length %d", int32(n))
		}
		if int(n) > len(src)-pos-4 {
			return dst, corrupt(Snappy, pos, nil, "xerial chunk of %d bytes overruns the %d bytes left", n, len(src)-pos-4)
		}
		var err error
		dst, err = appendSnappyBlock(dst, src[pos+4:pos+4+int(n)], pos, limit, start)
		if err != nil {
			return dst, err
		}
		pos += 4 + int(n)
	}
}

// appendSnappyBlock decodes one raw snappy block found at byte off of the
// input; start is where this call's output began in dst.
func appendSnappyBlock(dst, block []byte, off, limit, start int) ([]byte, error) {
	n, err := snappy.DecodedLen(block)
	if err != nil {
		return dst, corrupt(Snappy, off, err, "invalid snappy block header")
	}
	if n > snappyMaxRatio*len(block) {
		return dst, corrupt(Snappy, off, nil, "snappy block of %d bytes claims %d decoded bytes", len(block), n)
	}
	left := limit - (len(dst) - start)
	if n > left {
		return dst, tooLarge(Snappy, limit)
	}
	dst = reserve(dst, n, left)
	out, err := snappy.Decode(dst[len(dst):len(dst)+n], block)
	if err != nil {
		return dst, corrupt(Snappy, off, err, "invalid snappy block")
	}
	if len(out) != n {
		return dst, corrupt(Snappy, off, nil, "snappy block decoded to %d bytes, header says %d", len(out), n)
	}
	return dst[:len(dst)+n], nil
}

// appendEncodedSnappy writes the xerial stream SnappyOutputStream writes:
// the header, then one chunk per 32 KiB of input. Empty input gives the
// header alone, which SnappyInputStream reads as an empty stream.
func appendEncodedSnappy(dst, src []byte) []byte {
	dst = append(dst, xerialMagic...)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	dst = binary.BigEndian.AppendUint32(dst, xerialVersion)
	for len(src) > 0 {
		chunk := src[:min(len(src), xerialChunkSize)]
		src = src[len(chunk):]
		bound := snappy.MaxEncodedLen(len(chunk))
		dst = reserve(dst, 4+bound, 4+bound+len(src))
		at := len(dst)
		out := snappy.Encode(dst[at+4:at+4+bound], chunk)
		binary.BigEndian.PutUint32(dst[at:at+4], uint32(len(out)))
		dst = dst[:at+4+len(out)]
	}
	return dst
}
