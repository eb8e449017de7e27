package compress

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// deflateMaxRatio bounds how much deflate can expand: a 258-byte match
// costs at least two bits, so no stream decodes to more than ~1032 times its
// size. It caps the size hint taken from a gzip trailer.
const deflateMaxRatio = 1032

// gzipDecoder is the pooled state of one gzip decode.
type gzipDecoder struct {
	zr    *gzip.Reader // nil until the first input with a valid header
	br    bytes.Reader // the input, positioned exactly after each member
	probe [64]byte     // reads past the limit to tell "ends here" from "too large"
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

// appendDecodedGzip decodes one or more gzip members as
// java.util.zip.GZIPInputStream does: after each member's trailer, further
// bytes are read as the next member, and bytes that do not form a member
// header end the stream silently (GZIPInputStream.readTrailer ignores them).
func appendDecodedGzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.br.Reset(nil)
		gzipDecoders.Put(d)
	}()
	d.br.Reset(src)
	if err := d.reset(); err != nil {
		return dst, corrupt(Gzip, 0, err, "invalid gzip header")
	}
	start := len(dst)
	// The trailer's ISIZE is the last member's size mod 2^32; for the single
	// member a Java producer writes it sizes the output exactly.
	if len(src) >= 18 {
		hint := int(binary.LittleEndian.Uint32(src[len(src)-4:]))
		dst = reserve(dst, min(hint, limit, deflateMaxRatio*len(src)), limit)
	}
	member := 0
	for {
		left := limit - (len(dst) - start)
		if left == 0 {
			n, err := d.zr.Read(d.probe[:])
			if n > 0 {
				return dst, tooLarge(Gzip, limit)
			}
			if err == nil {
				continue
			}
			if err != io.EOF {
				return dst, corrupt(Gzip, member, err, "invalid gzip member")
			}
		} else {
			if len(dst) == cap(dst) {
				dst = reserve(dst, min(left, max(len(dst)-start, 4096)), left)
			}
			room := min(cap(dst)-len(dst), left)
			n, err := d.zr.Read(dst[len(dst) : len(dst)+room])
			dst = dst[:len(dst)+n]
			if err == nil {
				continue
			}
			if err != io.EOF {
				return dst, corrupt(Gzip, member, err, "invalid gzip member")
			}
		}
		// The member ended and its CRC-32 and ISIZE matched.
		if d.br.Len() == 0 {
			return dst, nil
		}
		member = len(src) - d.br.Len()
		if d.reset() != nil {
			return dst, nil
		}
	}
}

// reset starts reading the member at the input's position.
func (d *gzipDecoder) reset() error {
	var err error
	if d.zr == nil {
		d.zr, err = gzip.NewReader(&d.br)
		if err != nil {
			d.zr = nil
			return err
		}
	} else if err = d.zr.Reset(&d.br); err != nil {
		return err
	}
	d.zr.Multistream(false)
	return nil
}

// appendWriter is an io.Writer appending to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// gzipEncoder is a pooled gzip writer for one level.
type gzipEncoder struct {
	zw  *gzip.Writer
	out appendWriter
}

var gzipEncoders [gzipMaxLevel + 1]sync.Pool

// appendEncodedGzip writes one gzip member, as Kafka's GzipCompression does
// through java.util.zip's deflater; level 0 or -1 is zlib's default, 6.
func appendEncodedGzip(dst, src []byte, level int) []byte {
	if level == 0 || level == gzipJavaDefault {
		level = gzipDefaultLevel
	}
	e, _ := gzipEncoders[level].Get().(*gzipEncoder)
	if e == nil {
		e = new(gzipEncoder)
		// The level was validated; NewWriterLevel fails only on bad levels.
		e.zw, _ = gzip.NewWriterLevel(&e.out, level)
	} else {
		e.zw.Reset(&e.out)
	}
	e.out.b = dst
	// Writes to an appendWriter cannot fail.
	_, _ = e.zw.Write(src)
	_ = e.zw.Close()
	dst = e.out.b
	e.out.b = nil
	gzipEncoders[level].Put(e)
	return dst
}
