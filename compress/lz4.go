package compress

import (
	"encoding/binary"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// The LZ4 frame format as Kafka's Lz4BlockOutputStream writes it and
// Lz4BlockInputStream reads it (LZ4 frame format v1.5.1).
const (
	lz4Magic = 0x184D2204

	// FLG byte: version in bits 7-6 (must be 01), then block independence,
	// block checksum, content size, content checksum; bits 1-0 are reserved
	// to Kafka (the LZ4 spec's dictionary-id flag is not supported).
	lz4FlagVersion         = 0x40
	lz4FlagIndependent     = 0x20
	lz4FlagBlockChecksum   = 0x10
	lz4FlagContentSize     = 0x08
	lz4FlagContentChecksum = 0x04

	// BD byte: block maximum size id in bits 6-4, 4 (64 KiB) to 7 (4 MiB).
	lz4BlockSize64K = 4

	// A block's size word has this bit set when the block is stored raw.
	lz4Uncompressed = 0x80000000

	// lz4MaxRatio bounds how much one LZ4 block can expand: each byte of a
	// match-length extension adds at most 255 output bytes.
	lz4MaxRatio = 255

	// lz4JavaFLG and lz4JavaBD are what the Java producer writes: version 1,
	// independent blocks, no checksums, no content size, 64 KiB blocks.
	lz4JavaFLG = lz4FlagVersion | lz4FlagIndependent
	lz4JavaBD  = lz4BlockSize64K << 4
)

// AppendDecodedLZ4Legacy decodes the lz4 payload of a message format v0 or v1
// wrapper message. Kafka's Java client 0.8-0.9 computed the frame header
// checksum over the magic number as well as the descriptor (KAFKA-3160), so
// for magic 0 Kafka skips that checksum byte (Lz4BlockInputStream's
// ignoreFlagDescriptorChecksum): pass brokenChecksum = true for magic 0 and
// false for magic 1, which is then the same as AppendDecoded with LZ4.
func AppendDecodedLZ4Legacy(dst, src []byte, limit int, brokenChecksum bool) ([]byte, error) {
	out, err := appendDecodedLZ4(dst, src, max(limit, 0), brokenChecksum)
	countDecoded(LZ4, len(out)-len(dst))
	return out, err
}

// AppendEncodedLZ4Legacy writes an lz4 frame for a message format v0 or v1
// wrapper message at the default level. With brokenChecksum the header
// checksum is computed over the magic number and descriptor, as Kafka
// writes it for magic 0 (Lz4BlockOutputStream's
// useBrokenFlagDescriptorChecksum); use false for magic 1.
func AppendEncodedLZ4Legacy(dst, src []byte, brokenChecksum bool) ([]byte, error) {
	return appendEncodedLZ4(dst, src, 0, brokenChecksum), nil
}

// appendDecodedLZ4 decodes the first LZ4 frame of src as Kafka's
// Lz4BlockInputStream does; ignoreHC skips the header checksum check.
func appendDecodedLZ4(dst, src []byte, limit int, ignoreHC bool) ([]byte, error) {
	if len(src) < 7 {
		return dst, corrupt(LZ4, 0, nil, "input of %d bytes is shorter than a frame header", len(src))
	}
	if m := binary.LittleEndian.Uint32(src); m != lz4Magic {
		return dst, corrupt(LZ4, 0, nil, "magic %#08x is not an LZ4 frame's", m)
	}
	flg, bd := src[4], src[5]
	switch {
	case flg>>6 != 1:
		return dst, corrupt(LZ4, 4, nil, "frame version %d is not supported", flg>>6)
	case flg&0x03 != 0:
		return dst, corrupt(LZ4, 4, nil, "reserved FLG bits set (FLG %#02x)", flg)
	case flg&lz4FlagIndependent == 0:
		return dst, corrupt(LZ4, 4, nil, "dependent blocks are not supported, as in Kafka")
	case bd&0x8f != 0:
		return dst, corrupt(LZ4, 5, nil, "reserved BD bits set (BD %#02x)", bd)
	case bd>>4 < lz4BlockSize64K:
		return dst, corrupt(LZ4, 5, nil, "block size id %d is not 4-7", bd>>4)
	}
	blockMax := 1 << (2*int(bd>>4) + 8)
	pos := 6
	if flg&lz4FlagContentSize != 0 {
		// Kafka skips the declared content size; so do we.
		pos += 8
	}
	if len(src) <= pos {
		return dst, corrupt(LZ4, 0, nil, "truncated frame header")
	}
	if !ignoreHC {
		if hc := byte(xxh32(src[4:pos], 0) >> 8); src[pos] != hc {
			return dst, corrupt(LZ4, pos, nil, "frame descriptor checksum %#02x, want %#02x", src[pos], hc)
		}
	}
	pos++

	start := len(dst)
	for {
		if len(src)-pos < 4 {
			return dst, corrupt(LZ4, pos, nil, "frame ends before its end mark")
		}
		at := pos
		word := binary.LittleEndian.Uint32(src[pos:])
		pos += 4
		size := int(word &^ lz4Uncompressed)
		if size == 0 {
			if flg&lz4FlagContentChecksum != 0 {
				if len(src)-pos < 4 {
					return dst, corrupt(LZ4, pos, nil, "content checksum missing")
				}
				// Kafka 3.x and 4.x read the content checksum without
				// checking it; the batch CRC already covers these bytes.
			}
			// Like Kafka, ignore whatever follows the frame.
			return dst, nil
		}
		if size > blockMax {
			return dst, corrupt(LZ4, at, nil, "block of %d bytes exceeds the frame's %d-byte maximum", size, blockMax)
		}
		if len(src)-pos < size {
			return dst, corrupt(LZ4, at, nil, "block of %d bytes overruns the %d bytes left", size, len(src)-pos)
		}
		block := src[pos : pos+size]
		pos += size
		if flg&lz4FlagBlockChecksum != 0 {
			if len(src)-pos < 4 {
				return dst, corrupt(LZ4, at, nil, "block checksum missing")
			}
			if got, want := binary.LittleEndian.Uint32(src[pos:]), xxh32(block, 0); got != want {
				return dst, corrupt(LZ4, at, nil, "block checksum %#08x, want %#08x", got, want)
			}
			pos += 4
		}
		left := limit - (len(dst) - start)
		if word&lz4Uncompressed != 0 {
			if size > left {
				return dst, tooLarge(LZ4, limit)
			}
			dst = append(reserve(dst, size, left), block...)
			continue
		}
		var fits bool
		var err error
		dst, fits, err = appendLZ4Block(dst, block, min(blockMax, lz4MaxRatio*size), left)
		if err != nil {
			return dst, corrupt(LZ4, at, err, "invalid compressed block")
		}
		if !fits {
			return dst, tooLarge(LZ4, limit)
		}
	}
}

// lz4Scratch holds a block that may not fit under the limit, to learn its size.
var lz4Scratch = sync.Pool{New: func() any { return new([]byte) }}

// appendLZ4Block decodes a compressed block of at most bound output bytes,
// reporting fits = false for a valid block of more than left bytes. When
// bound fits in left the block decodes in place; otherwise it decodes into
// a pooled scratch buffer (at most 4 MiB, the largest block) first.
func appendLZ4Block(dst, block []byte, bound, left int) (out []byte, fits bool, err error) {
	if bound <= left {
		dst = reserve(dst, bound, left)
		n, err := lz4.UncompressBlock(block, dst[len(dst):len(dst)+bound])
		if err != nil {
			return dst, true, err
		}
		return dst[:len(dst)+n], true, nil
	}
	s := lz4Scratch.Get().(*[]byte)
	defer lz4Scratch.Put(s)
	if cap(*s) < bound {
		*s = make([]byte, bound)
	}
	n, err := lz4.UncompressBlock(block, (*s)[:bound])
	if err != nil {
		return dst, true, err
	}
	if n > left {
		return dst, false, nil
	}
	return append(reserve(dst, n, left), (*s)[:n]...), true, nil
}

// lz4FastPool holds the compressors for the default level: the reference
// LZ4_compress_fast algorithm, the one lz4-java's fast compressor runs.
var lz4FastPool = sync.Pool{New: func() any { return new(lz4.CompressorCCompat) }}

// lz4HCPool holds the compressors for the other levels.
var lz4HCPool = sync.Pool{New: func() any { return new(lz4.CompressorHC) }}

// appendEncodedLZ4 writes the frame Kafka's Lz4BlockOutputStream writes: the
// header, 64 KiB independent blocks (stored raw when compression does not
// shrink them), the end mark, no checksums. As in Kafka, the default level
// (0 or 9) uses the fast compressor and other levels the high-compression
// one; level L searches up to 2^(L-1) match candidates, as the reference
// LZ4 HC does for levels 3-9.
func appendEncodedLZ4(dst, src []byte, level int, brokenHC bool) []byte {
	if level == 0 {
		level = lz4DefaultLevel
	}
	at := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, lz4Magic)
	dst = append(dst, lz4JavaFLG, lz4JavaBD)
	desc := dst[at+4:]
	if brokenHC {
		desc = dst[at:]
	}
	dst = append(dst, byte(xxh32(desc, 0)>>8))

	var compressBlock func(src, dst []byte) (int, error)
	if level == lz4DefaultLevel {
		c := lz4FastPool.Get().(*lz4.CompressorCCompat)
		defer lz4FastPool.Put(c)
		compressBlock = c.CompressBlock
	} else {
		c := lz4HCPool.Get().(*lz4.CompressorHC)
		defer lz4HCPool.Put(c)
		c.Level = lz4.CompressionLevel(1) << (level - 1)
		compressBlock = c.CompressBlock
	}
	const blockSize = 1 << (2*lz4BlockSize64K + 8)
	for len(src) > 0 {
		block := src[:min(len(src), blockSize)]
		src = src[len(block):]
		bound := lz4.CompressBlockBound(len(block))
		dst = reserve(dst, 4+bound, 4+bound+len(src)+4)
		at := len(dst)
		n, err := compressBlock(block, dst[at+4:at+4+bound])
		if err != nil || n == 0 || n >= len(block) {
			binary.LittleEndian.PutUint32(dst[at:at+4], uint32(len(block))|lz4Uncompressed)
			dst = append(dst[:at+4], block...)
			continue
		}
		binary.LittleEndian.PutUint32(dst[at:at+4], uint32(n))
		dst = dst[:at+4+n]
	}
	return binary.LittleEndian.AppendUint32(dst, 0)
}
