package wire

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFlexibleVersionMatchesKmsg checks the table against kmsg, whose
// message definitions are generated from the same Kafka JSON.
func TestFlexibleVersionMatchesKmsg(t *testing.T) {
	for key := int16(0); int(key) < len(apis); key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			t.Fatalf("kmsg does not know API key %d (%s)", key, APIName(key))
		}
		want := int16(-1)
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if req.IsFlexible() {
				want = v
				break
			}
		}
		if got := FlexibleVersion(key); got != want {
			t.Errorf("FlexibleVersion(%d %s) = %d, kmsg says %d", key, APIName(key), got, want)
		}
	}
	for _, key := range []int16{-1, int16(len(apis)), 1000} {
		if KnownAPIKey(key) || FlexibleVersion(key) != -1 || APIName(key) != fmt.Sprintf("ApiKey(%d)", key) {
			t.Errorf("key %d should be unknown", key)
		}
	}
	if APIName(0) != "Produce" || APIName(1) != "Fetch" || APIName(18) != "ApiVersions" {
		t.Error("API names")
	}
}

// TestParseRequestHeaderKmsg parses frames built by kmsg's RequestFormatter
// for header v1 and v2, with a null and a non-null client id.
func TestParseRequestHeaderKmsg(t *testing.T) {
	reqs := []kmsg.Request{
		&kmsg.ProduceRequest{Version: 8, Acks: 1},
		&kmsg.ProduceRequest{Version: 9, Acks: -1},
		&kmsg.FetchRequest{Version: 11},
		&kmsg.FetchRequest{Version: 12},
		&kmsg.ApiVersionsRequest{Version: 2},
		&kmsg.ApiVersionsRequest{Version: 3, ClientSoftwareName: "x", ClientSoftwareVersion: "1"},
		&kmsg.MetadataRequest{Version: 9},
		&kmsg.SASLHandshakeRequest{Version: 1, Mechanism: "PLAIN"},
	}
	for _, req := range reqs {
		for _, clientID := range []*string{nil, strp(""), strp("my-client")} {
			name := fmt.Sprintf("%s/v%d/client=%s", APIName(req.Key()), req.GetVersion(), showStrp(clientID))
			t.Run(name, func(t *testing.T) {
				f := kmsg.NewRequestFormatter()
				if clientID != nil {
					f = kmsg.NewRequestFormatter(kmsg.FormatterClientID(*clientID))
				}
				wireBytes := f.AppendRequest(nil, req, 987654)
				frame, err := ReadFrame(bytes.NewReader(wireBytes), nil, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				h, body, err := ParseRequestHeader(frame)
				if err != nil {
					t.Fatal(err)
				}
				if h.APIKey != req.Key() || h.APIVersion != req.GetVersion() || h.CorrelationID != 987654 || !eqStrp(h.ClientID, clientID) {
					t.Fatalf("header %+v client %s", h, showStrp(h.ClientID))
				}
				if !bytes.Equal(body, req.AppendTo(nil)) {
					t.Fatalf("body %x, want %x", body, req.AppendTo(nil))
				}
				// Our header encoding is byte-identical to kmsg's.
				if got := AppendRequestHeader(nil, h); !bytes.Equal(got, frame[:len(frame)-len(body)]) {
					t.Fatalf("AppendRequestHeader = %x, kmsg %x", got, frame[:len(frame)-len(body)])
				}
			})
		}
	}
}

func TestParseRequestHeaderTaggedFields(t *testing.T) {
	// Produce v9, header v2: client id null, then two tagged fields (one
	// with a two-byte tag number and a 130-byte value), then the body.
	var frame []byte
	frame = appendInt16(frame, 0)
	frame = appendInt16(frame, 9)
	frame = appendInt32(frame, 5)
	frame = appendInt16(frame, -1)
	frame = appendUvarint(frame, 2)
	frame = appendUvarint(frame, 0)
	frame = appendUvarint(frame, 3)
	frame = append(frame, 1, 2, 3)
	frame = appendUvarint(frame, 200)
	frame = appendUvarint(frame, 130)
	frame = append(frame, pattern(7, 130)...)
	bodyStart := len(frame)
	frame = append(frame, "BODY"...)

	h, body, err := ParseRequestHeader(frame)
	if err != nil {
		t.Fatal(err)
	}
	if h.ClientID != nil || h.CorrelationID != 5 || string(body) != "BODY" || &body[0] != &frame[bodyStart] {
		t.Fatalf("header %+v body %q", h, body)
	}
	checkEveryPrefixFails(t, frame[:bodyStart], func(b []byte) error {
		_, body, err := ParseRequestHeader(b)
		if err == nil && len(body) != 0 {
			return errors.New("body left")
		}
		return err
	})
}

func TestParseRequestHeaderVersions(t *testing.T) {
	cases := []struct {
		h        RequestHeader
		hv       int
		encoding string
	}{
		// ControlledShutdown v0 has no client id (header v0).
		{RequestHeader{APIKey: 7, APIVersion: 0, CorrelationID: 1}, 0, "0007000000000001"},
		{RequestHeader{APIKey: 7, APIVersion: 1, CorrelationID: 1, ClientID: strp("c")}, 1, "00070001000000010001" + "63"},
		{RequestHeader{APIKey: 0, APIVersion: 8, CorrelationID: 2}, 1, "0000000800000002ffff"},
		{RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: 2, ClientID: strp("ab")}, 2, "00000009000000020002616200"},
		// SaslHandshake is never flexible.
		{RequestHeader{APIKey: 17, APIVersion: 1, CorrelationID: 3}, 1, "0011000100000003ffff"},
		// ApiVersions v3+ requests use header v2.
		{RequestHeader{APIKey: 18, APIVersion: 3, CorrelationID: 4}, 2, "0012000300000004ffff00"},
	}
	for _, c := range cases {
		enc := AppendRequestHeader(nil, c.h)
		if got := fmt.Sprintf("%x", enc); got != c.encoding {
			t.Errorf("%+v: encoded %s, want %s", c.h, got, c.encoding)
		}
		h, body, err := ParseRequestHeader(append(enc, 0xAB))
		if err != nil || h.APIKey != c.h.APIKey || h.APIVersion != c.h.APIVersion || h.CorrelationID != c.h.CorrelationID ||
			!eqStrp(h.ClientID, c.h.ClientID) || !bytes.Equal(body, []byte{0xAB}) {
			t.Errorf("%+v: parsed %+v body %x err %v", c.h, h, body, err)
		}
		if requestHeaderVersion(c.h.APIKey, c.h.APIVersion) != c.hv {
			t.Errorf("%+v: header version", c.h)
		}
	}
}

func TestParseRequestHeaderErrors(t *testing.T) {
	full := AppendRequestHeader(nil, RequestHeader{APIKey: 0, APIVersion: 3, CorrelationID: 9, ClientID: strp("client")})
	for n := 0; n < len(full); n++ {
		_, _, err := ParseRequestHeader(full[:n])
		de := requireDecodeError(t, err, ErrTruncated)
		if de.Message != "request header" {
			t.Fatalf("message %q", de.Message)
		}
	}
	// Unknown key: the header comes back with the error, so the caller
	// knows which correlation id it was.
	frame := AppendRequestHeader(nil, RequestHeader{APIKey: 999, APIVersion: 0, CorrelationID: 77, ClientID: strp("z")})
	frame = append(frame, 1, 2)
	h, body, err := ParseRequestHeader(frame)
	var uk *UnknownAPIKeyError
	if !errors.As(err, &uk) || uk.APIKey != 999 || h.CorrelationID != 77 || !eqStrp(h.ClientID, strp("z")) || !bytes.Equal(body, []byte{1, 2}) {
		t.Fatalf("unknown key: %+v %x %v", h, body, err)
	}
	if err.Error() != "wire: unknown API key 999" {
		t.Fatalf("message %q", err)
	}
}

func TestResponseHeader(t *testing.T) {
	if got := fmt.Sprintf("%x", AppendResponseHeader(nil, 0x01020304, false)); got != "01020304" {
		t.Fatalf("v0 header %s", got)
	}
	if got := fmt.Sprintf("%x", AppendResponseHeader([]byte{0xEE}, -1, true)); got != "eeffffffff00" {
		t.Fatalf("v1 header %s", got)
	}
	for _, flexible := range []bool{false, true} {
		frame := append(AppendResponseHeader(nil, 42, flexible), "body"...)
		corr, body, err := ParseResponseHeader(frame, flexible)
		if err != nil || corr != 42 || string(body) != "body" {
			t.Fatalf("flexible=%v: %d %q %v", flexible, corr, body, err)
		}
	}
	// A v1 header with a tag.
	corr, body, err := ParseResponseHeader([]byte{0, 0, 0, 7, 1, 4, 2, 9, 9, 'b'}, true)
	if err != nil || corr != 7 || string(body) != "b" {
		t.Fatalf("tagged v1 header: %d %q %v", corr, body, err)
	}
	if _, _, err := ParseResponseHeader([]byte{0, 0, 0, 7}, true); !errors.Is(err, ErrTruncated) {
		t.Fatalf("missing tag section: %v", err)
	}

	cases := []struct {
		key, version int16
		want         bool
	}{
		{APIKeyProduce, 8, false}, {APIKeyProduce, 9, true},
		{APIKeyFetch, 11, false}, {APIKeyFetch, 12, true},
		{APIKeyAPIVersions, 3, false}, {APIKeyAPIVersions, 4, false}, // KIP-511
		{17, 1, false}, {999, 5, false},
	}
	for _, c := range cases {
		if got := ResponseHeaderFlexible(c.key, c.version); got != c.want {
			t.Errorf("ResponseHeaderFlexible(%d, %d) = %v", c.key, c.version, got)
		}
	}
	// kmsg's own view of flexibility agrees for ApiVersions' request but
	// the response header stays v0.
	req := &kmsg.ApiVersionsRequest{Version: 3}
	if !req.IsFlexible() || ResponseHeaderFlexible(18, 3) {
		t.Fatal("ApiVersions v3")
	}
}

func TestBeginEndFrame(t *testing.T) {
	dst := []byte("prefix")
	dst, start := BeginFrame(dst)
	dst = AppendResponseHeader(dst, 3, false)
	dst = append(dst, "xyz"...)
	EndFrame(dst, start)
	if got := fmt.Sprintf("%x", dst[start:]); got != "0000000700000003"+"78797a" {
		t.Fatalf("frame %s", got)
	}
	frame, err := ReadFrame(bytes.NewReader(dst[start:]), nil, 100)
	if err != nil || string(frame[4:]) != "xyz" {
		t.Fatalf("%q %v", frame, err)
	}
}

// TestRequestHeaderParseReuse checks that parsing a connection's requests
// into one RequestHeader allocates nothing once the client id is known, and
// that a different client id is not confused with the kept one.
func TestRequestHeaderParseReuse(t *testing.T) {
	frame := append(AppendRequestHeader(nil, RequestHeader{APIKey: 0, APIVersion: 9, CorrelationID: 1, ClientID: strp("conn-client")}), "b"...)
	var h RequestHeader
	if _, err := h.Parse(frame); err != nil {
		t.Fatal(err)
	}
	kept := h.ClientID
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := h.Parse(frame); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 || h.ClientID != kept {
		t.Fatalf("%v allocations per parse", allocs)
	}
	other := append(AppendRequestHeader(nil, RequestHeader{APIKey: 7, APIVersion: 1, CorrelationID: 2, ClientID: strp("other")}), "b"...)
	if _, err := h.Parse(other); err != nil || *h.ClientID != "other" || *kept != "conn-client" {
		t.Fatalf("client id %s, kept %s, %v", showStrp(h.ClientID), showStrp(kept), err)
	}
	// Header v0 has no client id: a kept one must not survive.
	if _, err := h.Parse(AppendRequestHeader(nil, RequestHeader{APIKey: 7, APIVersion: 0, CorrelationID: 3})); err != nil || h.ClientID != nil {
		t.Fatalf("header v0 kept client id %s (%v)", showStrp(h.ClientID), err)
	}
}
