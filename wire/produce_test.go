package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/produce"
	"github.com/segmentio/kafka-go/protocol/rawproduce"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/errcode"
)

// kmsgProduceRequest builds a request covering null, empty and large
// records, several topics, an empty topic name and an empty partition list.
// With tags (v9+) it also carries unknown tagged fields at every level,
// including a tag number and a size that need multi-byte varints.
func kmsgProduceRequest(v int16, txn *string, tags bool) *kmsg.ProduceRequest {
	r := kmsg.NewPtrProduceRequest()
	r.Version = v
	r.TransactionID = txn
	r.Acks = -1
	r.TimeoutMillis = 30000
	part := func(p int32, rec []byte) kmsg.ProduceRequestTopicPartition {
		x := kmsg.NewProduceRequestTopicPartition()
		x.Partition = p
		x.Records = rec
		if tags {
			x.UnknownTags.Set(300, pattern(int(p), 200))
		}
		return x
	}
	topic := func(name string, parts ...kmsg.ProduceRequestTopicPartition) kmsg.ProduceRequestTopic {
		t := kmsg.NewProduceRequestTopic()
		t.Topic = name
		t.Partitions = parts
		if tags {
			t.UnknownTags.Set(1, nil)
		}
		return t
	}
	r.Topics = []kmsg.ProduceRequestTopic{
		topic("orders", part(0, pattern(1, 100)), part(3, nil), part(7, []byte{})),
		topic("metrics-é", part(1, pattern(2, 3000))),
		topic(""),
	}
	if tags {
		r.UnknownTags.Set(7, []byte{1, 2, 3})
	}
	return r
}

func compareProduceRequest(t *testing.T, got *ProduceRequest, want *kmsg.ProduceRequest) {
	t.Helper()
	wantTxn := want.TransactionID
	if want.Version < 3 {
		wantTxn = nil
	}
	if got.Version != want.Version || got.Acks != want.Acks || got.TimeoutMs != want.TimeoutMillis || !eqStrp(got.TransactionalID, wantTxn) {
		t.Fatalf("header fields: got v%d acks=%d timeout=%d txn=%s, want v%d acks=%d timeout=%d txn=%s",
			got.Version, got.Acks, got.TimeoutMs, showStrp(got.TransactionalID),
			want.Version, want.Acks, want.TimeoutMillis, showStrp(wantTxn))
	}
	if len(got.Topics) != len(want.Topics) {
		t.Fatalf("got %d topics, want %d", len(got.Topics), len(want.Topics))
	}
	for i, wt := range want.Topics {
		gt := got.Topics[i]
		if gt.Name != wt.Topic || len(gt.Partitions) != len(wt.Partitions) {
			t.Fatalf("topic %d: got %q with %d partitions, want %q with %d", i, gt.Name, len(gt.Partitions), wt.Topic, len(wt.Partitions))
		}
		for j, wp := range wt.Partitions {
			gp := gt.Partitions[j]
			if gp.Partition != wp.Partition || !eqBytes(gp.Records, wp.Records) {
				t.Fatalf("topic %q partition %d: got %d/%d bytes (nil=%v), want %d/%d bytes (nil=%v)",
					wt.Topic, j, gp.Partition, len(gp.Records), gp.Records == nil, wp.Partition, len(wp.Records), wp.Records == nil)
			}
		}
	}
}

// TestProduceRequestKmsg checks every version both ways against franz-go's
// kmsg: kmsg encodes, we decode; we encode, kmsg decodes; and without
// unknown tags the two encodings are byte-identical.
func TestProduceRequestKmsg(t *testing.T) {
	for v := ProduceMinVersion; v <= ProduceMaxVersion; v++ {
		for _, txn := range []*string{nil, strp("txn-1"), strp("")} {
			for _, tags := range []bool{false, true} {
				if tags && v < 9 {
					continue
				}
				t.Run(fmt.Sprintf("v%d/txn=%s/tags=%v", v, showStrp(txn), tags), func(t *testing.T) {
					kreq := kmsgProduceRequest(v, txn, tags)
					body := kreq.AppendTo(nil)
					got, err := DecodeProduceRequest(v, body)
					if err != nil {
						t.Fatal(err)
					}
					compareProduceRequest(t, got, kreq)

					out := got.AppendTo(nil)
					if !tags && !bytes.Equal(out, body) {
						t.Fatalf("AppendTo differs from kmsg's encoding:\n got %x\nwant %x", out, body)
					}
					back := kmsg.NewPtrProduceRequest()
					back.Version = v
					if err := back.ReadFrom(out); err != nil {
						t.Fatalf("kmsg cannot read our encoding: %v", err)
					}
					compareProduceRequest(t, got, back)
				})
			}
		}
	}
}

// TestProduceRequestKafkaGo uses segmentio/kafka-go's protocol package as
// the second oracle, v0-v8 (its highest): frames it writes must decode to
// the same content, with records byte-identical, and frames we write must be
// read back by its ReadRequest.
func TestProduceRequestKafkaGo(t *testing.T) {
	for v := int16(0); v <= 8; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			magic := int8(2)
			if v < 3 {
				magic = 1
			}
			recA := kgoRecordSet(t, magic, 0, "a0", "a1", "a2")
			recB := kgoRecordSet(t, magic, protocol.Gzip, "b0", string(pattern(3, 5000)))
			recC := kgoRecordSet(t, magic, 0, "c0")
			txn := ""
			if v >= 3 {
				txn = "tx-kafka-go"
			}

			// kafka-go's raw produce request carries our exact bytes.
			raw := &rawproduce.Request{
				TransactionalID: txn,
				Acks:            1,
				Timeout:         500,
				Topics: []rawproduce.RequestTopic{
					{Topic: "topic-1", Partitions: []rawproduce.RequestPartition{
						{Partition: 0, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(withSize(recA))}},
						{Partition: 5, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(withSize(recB))}},
					}},
					{Topic: "topic-2", Partitions: []rawproduce.RequestPartition{
						{Partition: 2, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(withSize(recC))}},
					}},
				},
			}
			var wbuf bytes.Buffer
			if err := protocol.WriteRequest(&wbuf, v, 42, "client-a", raw); err != nil {
				t.Fatalf("kafka-go WriteRequest: %v", err)
			}
			frame, err := ReadFrame(iotest.HalfReader(&wbuf), nil, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			h, body, err := ParseRequestHeader(frame)
			if err != nil {
				t.Fatal(err)
			}
			if h.APIKey != APIKeyProduce || h.APIVersion != v || h.CorrelationID != 42 || !eqStrp(h.ClientID, strp("client-a")) {
				t.Fatalf("header %+v (client %s)", h, showStrp(h.ClientID))
			}
			got, err := DecodeProduceRequest(v, body)
			if err != nil {
				t.Fatal(err)
			}
			var wantTxn *string
			if v >= 3 {
				wantTxn = &txn
			}
			want := &ProduceRequest{Version: v, TransactionalID: wantTxn, Acks: 1, TimeoutMs: 500, Topics: []ProduceTopic{
				{Name: "topic-1", Partitions: []ProducePartition{{Partition: 0, Records: recA}, {Partition: 5, Records: recB}}},
				{Name: "topic-2", Partitions: []ProducePartition{{Partition: 2, Records: recC}}},
			}}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded %+v, want %+v", got, want)
			}

			// kafka-go's own produce request, as its clients send it: the
			// records we slice out must be the record sets it encoded.
			kreq := &produce.Request{
				TransactionalID: txn, Acks: -1, Timeout: 1000,
				Topics: []produce.RequestTopic{{Topic: "t", Partitions: []produce.RequestPartition{{
					Partition: 9,
					RecordSet: protocol.RecordSet{Version: magic, Records: protocol.NewRecordReader(
						protocol.Record{Value: protocol.NewBytes([]byte("v0"))},
						protocol.Record{Key: protocol.NewBytes([]byte("k")), Value: protocol.NewBytes([]byte("v1"))},
					)},
				}}}},
			}
			wbuf.Reset()
			if err := protocol.WriteRequest(&wbuf, v, 43, "client-b", kreq); err != nil {
				t.Fatalf("kafka-go WriteRequest: %v", err)
			}
			frame, err = ReadFrame(&wbuf, frame, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if _, body, err = ParseRequestHeader(frame); err != nil {
				t.Fatal(err)
			}
			got, err = DecodeProduceRequest(v, body)
			if err != nil {
				t.Fatal(err)
			}
			if got.Acks != -1 || got.TimeoutMs != 1000 || len(got.Topics) != 1 || got.Topics[0].Name != "t" ||
				len(got.Topics[0].Partitions) != 1 || got.Topics[0].Partitions[0].Partition != 9 {
				t.Fatalf("decoded %+v", got)
			}
			keys, values := kgoReadRecords(t, got.Topics[0].Partitions[0].Records)
			if fmt.Sprint(keys, values) != fmt.Sprint([]string{"", "k"}, []string{"v0", "v1"}) {
				t.Fatalf("records: keys %q values %q", keys, values)
			}

			// Our encoding, read by kafka-go's ReadRequest.
			ours := &ProduceRequest{Version: v, TransactionalID: wantTxn, Acks: 0, TimeoutMs: 77, Topics: []ProduceTopic{
				{Name: "x", Partitions: []ProducePartition{{Partition: 1, Records: recA}}},
				{Name: "y", Partitions: []ProducePartition{{Partition: 2, Records: recB}, {Partition: 3, Records: recC}}},
			}}
			out, start := BeginFrame(nil)
			out = AppendRequestHeader(out, RequestHeader{APIKey: APIKeyProduce, APIVersion: v, CorrelationID: 44, ClientID: strp("me")})
			out = ours.AppendTo(out)
			EndFrame(out, start)
			apiVersion, corr, clientID, msg, err := protocol.ReadRequest(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("kafka-go ReadRequest of our frame: %v", err)
			}
			kr, ok := msg.(*produce.Request)
			if !ok || apiVersion != v || corr != 44 || clientID != "me" {
				t.Fatalf("kafka-go read %T v%d corr %d client %q", msg, apiVersion, corr, clientID)
			}
			if kr.TransactionalID != txn || kr.Acks != 0 || kr.Timeout != 77 || len(kr.Topics) != 2 {
				t.Fatalf("kafka-go read %+v", kr)
			}
			wantValues := map[string][]string{"x/1": {"a0", "a1", "a2"}, "y/2": {"b0", string(pattern(3, 5000))}, "y/3": {"c0"}}
			for _, kt := range kr.Topics {
				for _, kp := range kt.Partitions {
					var vals []string
					for {
						rec, err := kp.RecordSet.Records.ReadRecord()
						if errors.Is(err, io.EOF) {
							break
						}
						if err != nil {
							t.Fatalf("%s/%d: %v", kt.Topic, kp.Partition, err)
						}
						b, _ := protocol.ReadAll(rec.Value)
						vals = append(vals, string(b))
					}
					key := fmt.Sprintf("%s/%d", kt.Topic, kp.Partition)
					if fmt.Sprint(vals) != fmt.Sprint(wantValues[key]) {
						t.Fatalf("%s: kafka-go read values %q, want %q", key, vals, wantValues[key])
					}
					delete(wantValues, key)
				}
			}
			if len(wantValues) != 0 {
				t.Fatalf("partitions missing in kafka-go's reading: %v", wantValues)
			}
		})
	}
}

// kgoReadRecords parses a record set with kafka-go and returns keys and values.
func kgoReadRecords(t *testing.T, b []byte) (keys, values []string) {
	t.Helper()
	var rs protocol.RecordSet
	if _, err := rs.ReadFrom(bytes.NewReader(withSize(b))); err != nil {
		t.Fatalf("kafka-go cannot read the records: %v", err)
	}
	for {
		rec, err := rs.Records.ReadRecord()
		if errors.Is(err, io.EOF) {
			return keys, values
		}
		if err != nil {
			t.Fatal(err)
		}
		k, _ := protocol.ReadAll(rec.Key)
		v, _ := protocol.ReadAll(rec.Value)
		keys, values = append(keys, string(k)), append(values, string(v))
	}
}

// sampleProduceResponse sets every field of every version.
func sampleProduceResponse(v int16) *ProduceResponse {
	return &ProduceResponse{Version: v, ThrottleTimeMs: 250, Topics: []ProduceTopicResponse{
		{Name: "orders", Partitions: []ProducePartitionResponse{
			{Partition: 0, ErrorCode: errcode.None, BaseOffset: 1 << 40, LogAppendTimeMs: 1_700_000_000_123, LogStartOffset: 17},
			{Partition: 1, ErrorCode: errcode.InvalidRecord, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: 5,
				RecordErrors: []RecordError{{BatchIndex: 0, Message: strp("compacted topic record without key")}, {BatchIndex: 4, Message: nil}},
				ErrorMessage: strp("2 records failed")},
			{Partition: 2, ErrorCode: errcode.NotLeaderOrFollower, BaseOffset: -1, LogAppendTimeMs: -1, LogStartOffset: -1, ErrorMessage: strp("")},
		}},
		{Name: "empty"},
	}}
}

// projectProduceResponse is what a version can carry of r: fields it lacks
// take Kafka's defaults.
func projectProduceResponse(r *ProduceResponse, v int16) *ProduceResponse {
	out := &ProduceResponse{Version: v, ThrottleTimeMs: r.ThrottleTimeMs, Topics: make([]ProduceTopicResponse, len(r.Topics))}
	if v < 1 {
		out.ThrottleTimeMs = 0
	}
	for i, t := range r.Topics {
		ps := make([]ProducePartitionResponse, len(t.Partitions))
		for j, p := range t.Partitions {
			if v < 2 {
				p.LogAppendTimeMs = -1
			}
			if v < 5 {
				p.LogStartOffset = -1
			}
			if v < 8 {
				p.RecordErrors, p.ErrorMessage = nil, nil
			}
			if len(p.RecordErrors) == 0 {
				p.RecordErrors = nil
			}
			ps[j] = p
		}
		out.Topics[i] = ProduceTopicResponse{Name: t.Name, Partitions: ps}
	}
	return out
}

func toKmsgProduceResponse(r *ProduceResponse) *kmsg.ProduceResponse {
	k := kmsg.NewPtrProduceResponse()
	k.Version = r.Version
	k.ThrottleMillis = r.ThrottleTimeMs
	for _, t := range r.Topics {
		kt := kmsg.NewProduceResponseTopic()
		kt.Topic = t.Name
		for _, p := range t.Partitions {
			kp := kmsg.NewProduceResponseTopicPartition()
			kp.Partition, kp.ErrorCode, kp.BaseOffset = p.Partition, int16(p.ErrorCode), p.BaseOffset
			kp.LogAppendTime, kp.LogStartOffset, kp.ErrorMessage = p.LogAppendTimeMs, p.LogStartOffset, p.ErrorMessage
			for _, e := range p.RecordErrors {
				ke := kmsg.NewProduceResponseTopicPartitionErrorRecord()
				ke.RelativeOffset, ke.ErrorMessage = e.BatchIndex, e.Message
				kp.ErrorRecords = append(kp.ErrorRecords, ke)
			}
			kt.Partitions = append(kt.Partitions, kp)
		}
		k.Topics = append(k.Topics, kt)
	}
	return k
}

func fromKmsgProduceResponse(k *kmsg.ProduceResponse) *ProduceResponse {
	r := &ProduceResponse{Version: k.Version, ThrottleTimeMs: k.ThrottleMillis, Topics: make([]ProduceTopicResponse, len(k.Topics))}
	for i, kt := range k.Topics {
		t := ProduceTopicResponse{Name: kt.Topic, Partitions: make([]ProducePartitionResponse, len(kt.Partitions))}
		for j, kp := range kt.Partitions {
			p := ProducePartitionResponse{Partition: kp.Partition, ErrorCode: errcode.Code(kp.ErrorCode), BaseOffset: kp.BaseOffset,
				LogAppendTimeMs: kp.LogAppendTime, LogStartOffset: kp.LogStartOffset, ErrorMessage: kp.ErrorMessage}
			for _, ke := range kp.ErrorRecords {
				p.RecordErrors = append(p.RecordErrors, RecordError{BatchIndex: ke.RelativeOffset, Message: ke.ErrorMessage})
			}
			t.Partitions[j] = p
		}
		r.Topics[i] = t
	}
	return r
}

// TestProduceResponseKmsg checks responses both ways against kmsg for every
// version: our encoding read by kmsg, kmsg's encoding read by us, and the
// two encodings byte-identical.
func TestProduceResponseKmsg(t *testing.T) {
	for v := ProduceMinVersion; v <= ProduceMaxVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ours := sampleProduceResponse(v)
			want := projectProduceResponse(ours, v)
			out := ours.AppendTo(nil)

			k := kmsg.NewPtrProduceResponse()
			k.Version = v
			if err := k.ReadFrom(out); err != nil {
				t.Fatalf("kmsg cannot read our response: %v", err)
			}
			if got := fromKmsgProduceResponse(k); !reflect.DeepEqual(got, want) {
				t.Fatalf("kmsg read\n %+v\nwant\n %+v", got, want)
			}

			kb := toKmsgProduceResponse(ours).AppendTo(nil)
			if !bytes.Equal(kb, out) {
				t.Fatalf("encodings differ:\n ours %x\n kmsg %x", out, kb)
			}
			got, err := DecodeProduceResponse(v, kb)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// TestProduceResponseSkipsTags decodes a v9 response carrying tags defined
// by later versions (v10's current_leader and node_endpoints, KIP-951) and
// unknown ones, which must be skipped.
func TestProduceResponseSkipsTags(t *testing.T) {
	ours := sampleProduceResponse(9)
	k := toKmsgProduceResponse(ours)
	k.Topics[0].Partitions[1].CurrentLeader.LeaderID = 3
	k.Topics[0].Partitions[1].CurrentLeader.LeaderEpoch = 12
	k.Topics[0].Partitions[1].ErrorRecords[0].UnknownTags.Set(9, pattern(1, 130))
	k.Topics[0].UnknownTags.Set(2, []byte{1})
	b := kmsg.NewProduceResponseBroker()
	b.NodeID, b.Host, b.Port = 3, "broker-3", 9092
	k.Brokers = []kmsg.ProduceResponseBroker{b}
	k.UnknownTags.Set(1000, pattern(2, 5))
	got, err := DecodeProduceResponse(9, k.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := projectProduceResponse(ours, 9); !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

func TestProduceTruncatedAtEveryByte(t *testing.T) {
	for v := ProduceMinVersion; v <= ProduceMaxVersion; v++ {
		t.Run(fmt.Sprintf("request/v%d", v), func(t *testing.T) {
			full := kmsgProduceRequest(v, strp("txn"), v >= 9).AppendTo(nil)
			checkEveryPrefixFails(t, full, func(b []byte) error { _, err := DecodeProduceRequest(v, b); return err })
		})
		t.Run(fmt.Sprintf("response/v%d", v), func(t *testing.T) {
			full := sampleProduceResponse(v).AppendTo(nil)
			checkEveryPrefixFails(t, full, func(b []byte) error { _, err := DecodeProduceResponse(v, b); return err })
		})
	}
}

func TestProduceRequestMalformed(t *testing.T) {
	classicHead := []byte{0xff, 0xff, 0, 1, 0, 0, 0, 100} // txn null, acks 1, timeout 100
	flexHead := []byte{0, 0, 1, 0, 0, 0, 100}             // txn null (compact), acks 1, timeout 100
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	valid := kmsgProduceRequest(8, nil, false).AppendTo(nil)
	validFlex := kmsgProduceRequest(9, nil, false).AppendTo(nil)
	cases := []struct {
		name    string
		version int16
		body    []byte
		cause   error
		field   string
	}{
		{"trailing byte", 8, cat(valid, []byte{0}), ErrTrailingBytes, "(end)"},
		{"trailing byte flexible", 9, cat(validFlex, []byte{0}), ErrTrailingBytes, "(end)"},
		{"huge topic count", 3, cat(classicHead, []byte{0x7f, 0xff, 0xff, 0xff}), ErrArrayTooLong, "topic_data"},
		{"huge partition count", 3, cat(classicHead, []byte{0, 0, 0, 1, 0, 1, 'a', 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}), ErrArrayTooLong, "topic_data.partition_data"},
		{"huge compact topic count", 9, cat(flexHead, []byte{0x80, 0x80, 0x80, 0x80, 0x04}), ErrArrayTooLong, "topic_data"},
		{"compact count beyond int32", 9, cat(flexHead, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}), ErrBadLength, "topic_data"},
		{"varint of six bytes", 9, cat(flexHead, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), ErrBadVarint, "topic_data"},
		{"huge records length", 3, cat(classicHead, []byte{0, 0, 0, 1, 0, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2}), ErrTruncated, "topic_data.partition_data.records"},
		{"null topic array", 3, cat(classicHead, []byte{0xff, 0xff, 0xff, 0xff}), ErrNull, "topic_data"},
		{"null compact topic array", 9, cat(flexHead, []byte{0, 0}), ErrNull, "topic_data"},
		{"null topic name", 3, cat(classicHead, []byte{0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0}), ErrNull, "topic_data.name"},
		{"negative topic name length", 3, cat(classicHead, []byte{0, 0, 0, 1, 0x80, 0x00, 0, 0, 0, 0}), ErrNull, "topic_data.name"},
		{"compact string too long", 9, cat(flexHead, []byte{2, 0x82, 0x80, 0x02}, make([]byte, 0x8001)), ErrBadLength, "topic_data.name"},
		{"tag longer than input", 9, cat(flexHead, []byte{1, 5, 1, 0, 9, 'x'}), ErrTruncated, "_tagged_fields"},
		{"empty body", 0, nil, ErrTruncated, "acks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := DecodeProduceRequest(c.version, c.body)
			if r != nil {
				t.Fatalf("got a request with an error")
			}
			de := requireDecodeError(t, err, c.cause)
			if de.Field != c.field {
				t.Fatalf("field %q, want %q (%v)", de.Field, c.field, err)
			}
			if want := fmt.Sprintf("Produce v%d request", c.version); de.Message != want {
				t.Fatalf("message %q, want %q", de.Message, want)
			}
			// Rejecting costs the error value, never anything sized by
			// the counts the input claims.
			if n := allocBytes(func() { _, _ = DecodeProduceRequest(c.version, c.body) }); n > 1024 {
				t.Fatalf("rejecting allocates %d bytes", n)
			}
		})
	}
}

func TestProduceDecodeErrorOffset(t *testing.T) {
	// v3: txn "ab" (4 bytes), acks, timeout, 1 topic, name null at byte 14.
	body := []byte{0, 2, 'a', 'b', 0, 1, 0, 0, 0, 100, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0}
	_, err := DecodeProduceRequest(3, body)
	de := requireDecodeError(t, err, ErrNull)
	if de.Offset != 14 {
		t.Fatalf("offset %d, want 14", de.Offset)
	}
	want := "wire: decode Produce v3 request: field topic_data.name at byte 14: null in a non-nullable field"
	if err.Error() != want {
		t.Fatalf("message %q\nwant    %q", err.Error(), want)
	}
}

func TestProduceUnsupportedVersion(t *testing.T) {
	for _, v := range []int16{-1, 10, 13} {
		_, err := DecodeProduceRequest(v, nil)
		var uv *UnsupportedVersionError
		if !errors.As(err, &uv) || uv.Version != v || uv.Min != 0 || uv.Max != 9 || uv.Code() != errcode.UnsupportedVersion {
			t.Fatalf("v%d: %v", v, err)
		}
		if _, err := DecodeProduceResponse(v, nil); !errors.As(err, &uv) {
			t.Fatalf("response v%d: %v", v, err)
		}
		if _, err := FromRawProduce(&rawproduce.Request{}, v); !errors.As(err, &uv) {
			t.Fatalf("FromRawProduce v%d: %v", v, err)
		}
	}
}

// TestProduceRecordsAliasBody checks that records are sub-slices of the
// body, not copies, and that appending to them cannot reach the rest.
func TestProduceRecordsAliasBody(t *testing.T) {
	body := kmsgProduceRequest(8, nil, false).AppendTo(nil)
	snapshot := append([]byte(nil), body...)
	r, err := DecodeProduceRequest(8, body)
	if err != nil {
		t.Fatal(err)
	}
	rec := r.Topics[0].Partitions[0].Records
	if cap(rec) != len(rec) {
		t.Fatalf("records capacity %d > length %d", cap(rec), len(rec))
	}
	found := false
	for i := 0; i+len(rec) <= len(body); i++ {
		if &body[i] == &rec[0] {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("records were copied out of the body")
	}
	_ = append(rec, 0xEE, 0xEE, 0xEE, 0xEE)
	if !bytes.Equal(body, snapshot) {
		t.Fatal("appending to records changed the body")
	}
}

// TestProduceDecodeReuse checks that decoding a similar request into the
// same ProduceRequest allocates nothing.
func TestProduceDecodeReuse(t *testing.T) {
	for _, v := range []int16{3, 8, 9} {
		body := kmsgProduceRequest(v, strp("txn"), false).AppendTo(nil)
		var r ProduceRequest
		if err := r.Decode(v, body); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := r.Decode(v, body); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Fatalf("v%d: %v allocations per reused decode", v, allocs)
		}
		compareProduceRequest(t, &r, kmsgProduceRequest(v, strp("txn"), false))
	}
	// A smaller request after a larger one shrinks the slices.
	var r ProduceRequest
	big := kmsgProduceRequest(8, nil, false)
	if err := r.Decode(8, big.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	small := kmsgProduceRequest(8, strp("other"), false)
	small.Topics = small.Topics[1:2]
	if err := r.Decode(8, small.AppendTo(nil)); err != nil {
		t.Fatal(err)
	}
	compareProduceRequest(t, &r, small)
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestFromRawProduce(t *testing.T) {
	recA := pattern(1, 64)
	recB := pattern(2, 33)
	raw := &rawproduce.Request{
		TransactionalID: "tx",
		Acks:            -1,
		Timeout:         1500,
		Topics: []rawproduce.RequestTopic{
			{Topic: "a", Partitions: []rawproduce.RequestPartition{
				{Partition: 0, RecordSet: protocol.RawRecordSet{Reader: bytes.NewBuffer(withSize(recA))}},
				{Partition: 1, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader(withSize(recB))}},
				{Partition: 2, RecordSet: protocol.RawRecordSet{}},
				{Partition: 3, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})}},
				{Partition: 4, RecordSet: protocol.RawRecordSet{Reader: bytes.NewReader([]byte{0, 0, 0, 0})}},
			}},
		},
	}
	got, err := FromRawProduce(raw, 7)
	if err != nil {
		t.Fatal(err)
	}
	want := &ProduceRequest{Version: 7, TransactionalID: strp("tx"), Acks: -1, TimeoutMs: 1500, Topics: []ProduceTopic{
		{Name: "a", Partitions: []ProducePartition{{0, recA}, {1, recB}, {2, nil}, {3, nil}, {4, []byte{}}}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	// The converted request encodes exactly as kafka-go writes the same
	// rawproduce.Request.
	reset := func() {
		raw.Topics[0].Partitions = raw.Topics[0].Partitions[:2]
		raw.Topics[0].Partitions[0].RecordSet.Reader = bytes.NewReader(withSize(recA))
		raw.Topics[0].Partitions[1].RecordSet.Reader = bytes.NewReader(withSize(recB))
	}
	reset()
	var wbuf bytes.Buffer
	if err := protocol.WriteRequest(&wbuf, 7, 1, "c", raw); err != nil {
		t.Fatal(err)
	}
	reset()
	conv, err := FromRawProduce(raw, 7)
	if err != nil {
		t.Fatal(err)
	}
	_, body, err := ParseRequestHeader(wbuf.Bytes()[4:])
	if err != nil {
		t.Fatal(err)
	}
	if enc := conv.AppendTo(nil); !bytes.Equal(enc, body) {
		t.Fatalf("converted request encodes to\n %x\nkafka-go wrote\n %x", enc, body)
	}

	// Below v3 and for an empty id, the transactional id is null.
	for _, c := range []struct {
		v  int16
		id string
	}{{2, "tx"}, {5, ""}} {
		reset()
		raw.TransactionalID = c.id
		got, err := FromRawProduce(raw, c.v)
		if err != nil || got.TransactionalID != nil {
			t.Fatalf("v%d id %q: %+v, err %v", c.v, c.id, got, err)
		}
	}

	// Malformed raw record sets.
	for _, c := range []struct {
		name  string
		raw   []byte
		cause error
	}{
		{"empty", []byte{}, ErrTruncated},
		{"short size", []byte{0, 0, 1}, ErrTruncated},
		{"size beyond data", []byte{0, 0, 0, 5, 1, 2}, ErrBadLength},
		{"data beyond size", []byte{0, 0, 0, 1, 1, 2}, ErrTrailingBytes},
		{"null with data", []byte{0xff, 0xff, 0xff, 0xff, 1}, ErrBadLength},
	} {
		reset()
		raw.Topics[0].Partitions[1].RecordSet.Reader = bytes.NewReader(c.raw)
		_, err := FromRawProduce(raw, 7)
		de := requireDecodeError(t, err, c.cause)
		if de.Message != "kafka-go raw record set of a[1]" {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	reset()
	raw.Topics[0].Partitions[1].RecordSet.Reader = errReader{}
	if _, err := FromRawProduce(raw, 7); err == nil || err.Error() != "wire: read records of a[1]: disk on fire" {
		t.Fatalf("reader failure: %v", err)
	}
}
