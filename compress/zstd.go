package compress

import (
	"encoding/binary"
	"errors"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The zstd frame format (RFC 8878), as far as bounding a frame's output
// needs it.
const (
	zstdMagic          = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // low four bits are free
	zstdMaxBlock       = 128 << 10  // Block_Maximum_Size's ceiling
	// zstdMaxWindow is libzstd's default window limit for streaming decodes
	// (ZSTD_WINDOWLOG_LIMIT_DEFAULT = 27), so zstd-jni in Kafka refuses
	// frames with larger windows; so do we.
	zstdMaxWindow = 1 << 27
	// zstdJavaWindow is the window zstd-jni uses at Kafka's default level 3
	// when it does not know the input size, as in Kafka's streaming writer.
	// Frames over 2 MiB declare it, which bounds a streaming reader's memory.
	zstdJavaWindow = 2 << 20
)

// zstdFrame is what scanZstdFrame learns about one frame without decoding it.
type zstdFrame struct {
	end       int    // offset just past the frame
	skippable bool   // a skippable frame: no output
	sized     bool   // size is the frame's declared Frame_Content_Size
	size      uint64 // exact output size if sized, else an upper bound
	window    uint64 // Window_Size
}

// scanZstdFrame reads the frame header at src[off:] and walks its block
// headers. An unsized frame's bound counts raw and RLE blocks exactly and
// each compressed block as Block_Maximum_Size = min(window, 128 KiB).
func scanZstdFrame(src []byte, off int) (zstdFrame, error) {
	b := src[off:]
	if len(b) < 4 {
		return zstdFrame{}, corrupt(Zstd, off, nil, "%d trailing bytes are not a frame", len(b))
	}
	magic := binary.LittleEndian.Uint32(b)
	if magic&^0xF == zstdSkippableMagic {
		if len(b) < 8 {
			return zstdFrame{}, corrupt(Zstd, off, nil, "truncated skippable frame header")
		}
		n := binary.LittleEndian.Uint32(b[4:])
		if uint64(n) > uint64(len(b)-8) {
			return zstdFrame{}, corrupt(Zstd, off, nil, "skippable frame of %d bytes overruns the %d bytes left", n, len(b)-8)
		}
		return zstdFrame{end: off + 8 + int(n), skippable: true}, nil
	}
	if magic != zstdMagic {
		return zstdFrame{}, corrupt(Zstd, off, nil, "magic %#08x is not a zstd frame's", magic)
	}
	if len(b) < 5 {
		return zstdFrame{}, corrupt(Zstd, off, nil, "truncated frame header")
	}
	fhd := b[4]
	if fhd&0x08 != 0 {
		return zstdFrame{}, corrupt(Zstd, off, nil, "reserved frame header bit set")
	}
	single := fhd&0x20 != 0
	dictLen := [4]int{0, 1, 2, 4}[fhd&3]
	fcsLen := [4]int{0, 2, 4, 8}[fhd>>6]
	if fcsLen == 0 && single {
		fcsLen = 1
	}
	p := 5
	if !single {
		p++
	}
	if len(b) < p+dictLen+fcsLen {
		return zstdFrame{}, corrupt(Zstd, off, nil, "truncated frame header")
	}
	f := zstdFrame{sized: fcsLen > 0}
	if !single {
		wd := b[5]
		base := uint64(1) << (10 + wd>>3)
		f.window = base + base/8*uint64(wd&7)
	}
	var dict uint32
	for i := range dictLen {
		dict |= uint32(b[p+i]) << (8 * i)
	}
	if dict != 0 {
		return zstdFrame{}, corrupt(Zstd, off, nil, "frame needs dictionary %d", dict)
	}
	p += dictLen
	switch fcsLen {
	case 1:
		f.size = uint64(b[p])
	case 2:
		f.size = uint64(binary.LittleEndian.Uint16(b[p:])) + 256
	case 4:
		f.size = uint64(binary.LittleEndian.Uint32(b[p:]))
	case 8:
		f.size = binary.LittleEndian.Uint64(b[p:])
	}
	p += fcsLen
	if single {
		f.window = f.size
	}
	var bound uint64
	blockMax := min(f.window, zstdMaxBlock)
	for {
		if len(b)-p < 3 {
			return zstdFrame{}, corrupt(Zstd, off+p, nil, "truncated block header")
		}
		h := uint32(b[p]) | uint32(b[p+1])<<8 | uint32(b[p+2])<<16
		size := int(h >> 3)
		if size > zstdMaxBlock {
			return zstdFrame{}, corrupt(Zstd, off+p, nil, "block of %d bytes exceeds 128 KiB", size)
		}
		content := size
		switch (h >> 1) & 3 {
		case 0: // raw
			bound += uint64(size)
		case 1: // RLE: one byte repeated size times
			bound += uint64(size)
			content = 1
		case 2: // compressed
			bound += blockMax
		default:
			return zstdFrame{}, corrupt(Zstd, off+p, nil, "reserved block type")
		}
		if len(b)-p-3 < content {
			return zstdFrame{}, corrupt(Zstd, off+p, nil, "block of %d bytes overruns the %d bytes left", content, len(b)-p-3)
		}
		p += 3 + content
		if h&1 != 0 {
			break
		}
	}
	if fhd&0x04 != 0 {
		if len(b)-p < 4 {
			return zstdFrame{}, corrupt(Zstd, off+p, nil, "content checksum missing")
		}
		p += 4
	}
	if !f.sized {
		f.size = bound
	}
	f.end = off + p
	return f, nil
}

// zstdDecoders are DecodeAll-only decoders (no goroutines) that stop at
// the capacity of the destination slice.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecodeAllCapLimit(true),
		zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		panic("compress: zstd decoder options: " + err.Error())
	}
	return d
}}

// appendDecodedZstd decodes one or more zstd frames. A first pass over the
// frame and block headers refuses declared sizes over the limit before any
// allocation and bounds the output of frames without a declared size; each
// frame then decodes in place into dst's spare capacity, which the decoder
// may not exceed.
func appendDecodedZstd(dst, src []byte, limit int) ([]byte, error) {
	if len(src) == 0 {
		return dst, corrupt(Zstd, 0, nil, "empty input")
	}
	var declared, bound uint64
	for off := 0; off < len(src); {
		f, err := scanZstdFrame(src, off)
		if err != nil {
			return dst, err
		}
		if f.sized {
			declared += f.size
			if declared > uint64(limit) {
				return dst, tooLarge(Zstd, limit)
			}
		}
		bound += f.size
		off = f.end
	}
	start := len(dst)
	dst = reserve(dst, int(min(bound, uint64(limit))), limit)
	dec := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(dec)
	for off := 0; off < len(src); {
		f, _ := scanZstdFrame(src, off) // the first pass checked every frame
		if f.skippable {
			off = f.end
			continue
		}
		if f.window > zstdMaxWindow {
			return dst, corrupt(Zstd, off, nil, "window of %d bytes exceeds the 128 MiB limit", f.window)
		}
		left := limit - (len(dst) - start)
		want := int(min(f.size, uint64(left)))
		dst = reserve(dst, want, left)
		at := len(dst)
		out, err := dec.DecodeAll(src[off:f.end], dst[at:at:at+want])
		if err != nil && !errors.Is(err, zstd.ErrDecoderSizeExceeded) && f.size > uint64(left) && len(out)+zstdMaxBlock > left {
			// A block that starts within 128 KiB of the limit and fails may
			// be valid and merely stopped by the capacity (klauspost then
			// reports an oversized block, not the limit). Decode again with
			// one block of slack: a valid block now fits, so a failure at
			// or below the limit is real corruption, and output past the
			// limit is too large.
			dst = reserve(dst, want+zstdMaxBlock, left+zstdMaxBlock)
			out, err = dec.DecodeAll(src[off:f.end], dst[at:at:at+want+zstdMaxBlock])
			if len(out) > left || errors.Is(err, zstd.ErrDecoderSizeExceeded) {
				return dst, tooLarge(Zstd, limit)
			}
		}
		if err != nil {
			if errors.Is(err, zstd.ErrDecoderSizeExceeded) && f.size > uint64(left) {
				return dst, tooLarge(Zstd, limit)
			}
			return dst, corrupt(Zstd, off, err, "invalid frame")
		}
		if len(out) > 0 && &out[0] != &dst[at : at+1][0] {
			// The decoder wrote elsewhere; keep the limit anyway.
			if len(out) > left {
				return dst, tooLarge(Zstd, limit)
			}
			dst = append(reserve(dst, len(out), left), out...)
		} else {
			dst = dst[:at+len(out)]
		}
		off = f.end
	}
	return dst, nil
}

// zstdEncoders pools EncodeAll-only encoders, one pool per klauspost speed
// level (SpeedFastest to SpeedBestCompression).
var zstdEncoders [zstd.SpeedBestCompression + 1]sync.Pool

// appendEncodedZstd writes one zstd frame without checksum and with a
// window of at most 2 MiB, as zstd-jni's ZstdOutputStream writes at level 3
// in Kafka (smaller inputs get a single-segment frame with their content
// size, which any reader accepts), at the speed matching the zstd level
// (klauspost's mapping: below 3 fastest, 3-5 default, 6-9 better, 10+ best).
// Empty input gives a frame with an empty block.
func appendEncodedZstd(dst, src []byte, level int) []byte {
	if level == 0 {
		level = zstdDefaultLevel
	}
	lv := zstd.EncoderLevelFromZstd(level)
	e, _ := zstdEncoders[lv].Get().(*zstd.Encoder)
	if e == nil {
		var err error
		e, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(lv),
			zstd.WithWindowSize(zstdJavaWindow),
			zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true))
		if err != nil {
			panic("compress: zstd encoder options: " + err.Error())
		}
	}
	dst = e.EncodeAll(src, dst)
	zstdEncoders[lv].Put(e)
	return dst
}
