package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func frameOf(payload []byte) []byte {
	out, start := BeginFrame(nil)
	out = append(out, payload...)
	EndFrame(out, start)
	return out
}

func TestReadFrameSequence(t *testing.T) {
	payloads := [][]byte{[]byte("first"), {}, pattern(1, 3000), []byte("last")}
	var stream []byte
	for _, p := range payloads {
		stream = append(stream, frameOf(p)...)
	}
	for name, r := range map[string]io.Reader{
		"whole":    bytes.NewReader(stream),
		"one byte": iotest.OneByteReader(bytes.NewReader(stream)),
	} {
		t.Run(name, func(t *testing.T) {
			buf := make([]byte, 0, 4096)
			for i, p := range payloads {
				frame, err := ReadFrame(r, buf, 1<<20)
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if !bytes.Equal(frame, p) {
					t.Fatalf("frame %d: %q, want %q", i, frame, p)
				}
				if cap(frame) > 0 && &frame[:1][0] != &buf[:1][0] {
					t.Fatalf("frame %d did not reuse the buffer", i)
				}
			}
			if _, err := ReadFrame(r, buf, 1<<20); err != io.EOF {
				t.Fatalf("after the last frame: %v, want io.EOF", err)
			}
		})
	}
}

func TestReadFrameErrors(t *testing.T) {
	full := frameOf(pattern(2, 100))
	for n := 1; n < len(full); n++ {
		_, err := ReadFrame(bytes.NewReader(full[:n]), nil, 1<<20)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("cut after %d bytes: %v", n, err)
		}
	}
	for _, c := range []struct {
		prefix []byte
		size   int64
	}{
		{[]byte{0, 0, 0, 101}, 101},
		{[]byte{0x7f, 0xff, 0xff, 0xff}, 1<<31 - 1},
		{[]byte{0xff, 0xff, 0xff, 0xff}, -1},
	} {
		_, err := ReadFrame(bytes.NewReader(append(c.prefix, make([]byte, 200)...)), nil, 100)
		var fe *FrameSizeError
		if !errors.As(err, &fe) || fe.Size != c.size || fe.Max != 100 {
			t.Fatalf("prefix %x: %v", c.prefix, err)
		}
	}
	if _, err := ReadFrame(iotest.ErrReader(errors.New("boom")), nil, 10); err == nil || err.Error() != "wire: read frame size: boom" {
		t.Fatalf("reader error: %v", err)
	}
	if (&FrameSizeError{Size: -1}).Error() != "wire: negative frame size -1" ||
		(&FrameSizeError{Size: 9, Max: 8}).Error() != "wire: frame size 9 exceeds limit 8" {
		t.Fatal("FrameSizeError messages")
	}
}

// TestReadFrameGrowsWithData reads frames larger than the growth step and
// checks that a peer announcing a large frame without sending it makes
// ReadFrame allocate about one step, not the announced size.
func TestReadFrameGrowsWithData(t *testing.T) {
	big := pattern(3, 3*frameGrowStep+12345)
	frame, err := ReadFrame(iotest.HalfReader(bytes.NewReader(frameOf(big))), make([]byte, 0, 64), 64<<20)
	if err != nil || !bytes.Equal(frame, big) {
		t.Fatalf("big frame: %d bytes, %v", len(frame), err)
	}

	liar := []byte{0x03, 0x00, 0x00, 0x00, 1, 2, 3} // announces 48 MiB, sends 3 bytes
	n := allocBytes(func() {
		if _, err := ReadFrame(bytes.NewReader(liar), nil, 64<<20); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("liar: %v", err)
		}
	})
	if n > 2*frameGrowStep {
		t.Fatalf("announcing 48 MiB made ReadFrame allocate %d bytes", n)
	}
}
