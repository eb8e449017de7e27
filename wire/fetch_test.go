package wire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik-go/chronik/errcode"
)

// sampleFetchRequest sets every field of every version v4-v12.
func sampleFetchRequest(v int16) *FetchRequest {
	return &FetchRequest{
		Version: v, ReplicaID: -1, MaxWaitMs: 500, MinBytes: 1, MaxBytes: 52428800,
		IsolationLevel: ReadCommitted, SessionID: 1234, SessionEpoch: 7,
		Topics: []FetchTopic{
			{Name: "orders", Partitions: []FetchPartition{
				{Partition: 0, CurrentLeaderEpoch: 5, FetchOffset: 1 << 33, LastFetchedEpoch: 4, LogStartOffset: 10, PartitionMaxBytes: 1048576},
				{Partition: 9, CurrentLeaderEpoch: -1, FetchOffset: 0, LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 1},
			}},
			{Name: "empty"},
		},
		ForgottenTopics: []FetchForgottenTopic{{Name: "old", Partitions: []int32{1, 2, 3}}, {Name: "none", Partitions: []int32{}}},
		RackID:          "rack-a",
	}
}

// projectFetchRequest is what version v carries of r, with Kafka's
// defaults for the fields it lacks.
func projectFetchRequest(r *FetchRequest, v int16) *FetchRequest {
	out := *r
	out.Version = v
	if v < 7 {
		out.SessionID, out.SessionEpoch, out.ForgottenTopics = 0, -1, nil
	}
	if v < 11 {
		out.RackID = ""
	}
	out.Topics = make([]FetchTopic, len(r.Topics))
	for i, t := range r.Topics {
		ps := make([]FetchPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			if v < 5 {
				p.LogStartOffset = -1
			}
			if v < 9 {
				p.CurrentLeaderEpoch = -1
			}
			if v < 12 {
				p.LastFetchedEpoch = -1
			}
			ps[j] = p
		}
		out.Topics[i] = FetchTopic{Name: t.Name, Partitions: ps}
	}
	return &out
}

func toKmsgFetchRequest(r *FetchRequest) *kmsg.FetchRequest {
	k := kmsg.NewPtrFetchRequest()
	k.Version, k.ReplicaID, k.MaxWaitMillis, k.MinBytes, k.MaxBytes = r.Version, r.ReplicaID, r.MaxWaitMs, r.MinBytes, r.MaxBytes
	k.IsolationLevel, k.SessionID, k.SessionEpoch, k.Rack = r.IsolationLevel, r.SessionID, r.SessionEpoch, r.RackID
	for _, t := range r.Topics {
		kt := kmsg.NewFetchRequestTopic()
		kt.Topic = t.Name
		for _, p := range t.Partitions {
			kp := kmsg.NewFetchRequestTopicPartition()
			kp.Partition, kp.CurrentLeaderEpoch, kp.FetchOffset = p.Partition, p.CurrentLeaderEpoch, p.FetchOffset
			kp.LastFetchedEpoch, kp.LogStartOffset, kp.PartitionMaxBytes = p.LastFetchedEpoch, p.LogStartOffset, p.PartitionMaxBytes
			kt.Partitions = append(kt.Partitions, kp)
		}
		k.Topics = append(k.Topics, kt)
	}
	for _, f := range r.ForgottenTopics {
		kf := kmsg.NewFetchRequestForgottenTopic()
		kf.Topic, kf.Partitions = f.Name, f.Partitions
		k.ForgottenTopics = append(k.ForgottenTopics, kf)
	}
	return k
}

func fromKmsgFetchRequest(k *kmsg.FetchRequest) *FetchRequest {
	r := &FetchRequest{Version: k.Version, ReplicaID: k.ReplicaID, MaxWaitMs: k.MaxWaitMillis, MinBytes: k.MinBytes, MaxBytes: k.MaxBytes,
		IsolationLevel: k.IsolationLevel, SessionID: k.SessionID, SessionEpoch: k.SessionEpoch, RackID: k.Rack,
		Topics: make([]FetchTopic, len(k.Topics))}
	for i, kt := range k.Topics {
		t := FetchTopic{Name: kt.Topic, Partitions: make([]FetchPartition, len(kt.Partitions))}
		for j, kp := range kt.Partitions {
			t.Partitions[j] = FetchPartition{Partition: kp.Partition, CurrentLeaderEpoch: kp.CurrentLeaderEpoch, FetchOffset: kp.FetchOffset,
				LastFetchedEpoch: kp.LastFetchedEpoch, LogStartOffset: kp.LogStartOffset, PartitionMaxBytes: kp.PartitionMaxBytes}
		}
		r.Topics[i] = t
	}
	if k.Version >= 7 {
		r.ForgottenTopics = make([]FetchForgottenTopic, len(k.ForgottenTopics))
		for i, kf := range k.ForgottenTopics {
			ps := kf.Partitions
			if ps == nil {
				ps = []int32{}
			}
			r.ForgottenTopics[i] = FetchForgottenTopic{Name: kf.Topic, Partitions: ps}
		}
	}
	return r
}

func TestFetchRequestKmsg(t *testing.T) {
	for v := FetchMinVersion; v <= FetchMaxVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ours := sampleFetchRequest(v)
			want := projectFetchRequest(ours, v)
			out := ours.AppendTo(nil)

			k := kmsg.NewPtrFetchRequest()
			k.Version = v
			if err := k.ReadFrom(out); err != nil {
				t.Fatalf("kmsg cannot read our request: %v", err)
			}
			if got := fromKmsgFetchRequest(k); !reflect.DeepEqual(got, want) {
				t.Fatalf("kmsg read\n %+v\nwant\n %+v", got, want)
			}

			kb := toKmsgFetchRequest(want).AppendTo(nil)
			if !bytes.Equal(kb, out) {
				t.Fatalf("encodings differ:\n ours %x\n kmsg %x", out, kb)
			}
			got, err := DecodeFetchRequest(v, kb)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// TestFetchRequestSkipsTags decodes a v12 request carrying cluster_id
// (tag 0, KIP-595), later versions' tags and unknown ones.
func TestFetchRequestSkipsTags(t *testing.T) {
	want := projectFetchRequest(sampleFetchRequest(12), 12)
	k := toKmsgFetchRequest(want)
	k.ClusterID = strp("cluster-1")
	k.ReplicaState.ID, k.ReplicaState.Epoch = 3, 9
	k.Topics[0].Partitions[0].HighWatermark = 100
	k.Topics[0].UnknownTags.Set(5, pattern(4, 300))
	k.ForgottenTopics[0].UnknownTags.Set(0, nil)
	got, err := DecodeFetchRequest(12, k.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

// sampleFetchResponse covers null and empty records, null and empty
// aborted transaction lists, and a partition error.
func sampleFetchResponse(v int16) *FetchResponse {
	return &FetchResponse{Version: v, ThrottleTimeMs: 3, ErrorCode: errcode.None, SessionID: 1234, Topics: []FetchTopicResponse{
		{Name: "orders", Partitions: []FetchPartitionResponse{
			{Partition: 0, HighWatermark: 100, LastStableOffset: 90, LogStartOffset: 0,
				AbortedTransactions:  []AbortedTransaction{{ProducerID: 7, FirstOffset: 40}, {ProducerID: 8, FirstOffset: 60}},
				PreferredReadReplica: -1, Records: pattern(5, 5000)},
			{Partition: 1, HighWatermark: 5, LastStableOffset: 5, LogStartOffset: 2, AbortedTransactions: []AbortedTransaction{},
				PreferredReadReplica: 2, Records: []byte{}},
			{Partition: 2, ErrorCode: errcode.OffsetOutOfRange, HighWatermark: -1, LastStableOffset: -1, LogStartOffset: -1,
				PreferredReadReplica: -1},
		}},
		{Name: "quiet"},
	}}
}

func projectFetchResponse(r *FetchResponse, v int16) *FetchResponse {
	out := *r
	out.Version = v
	if v < 7 {
		out.ErrorCode, out.SessionID = 0, 0
	}
	out.Topics = make([]FetchTopicResponse, len(r.Topics))
	for i, t := range r.Topics {
		ps := make([]FetchPartitionResponse, len(t.Partitions))
		for j, p := range t.Partitions {
			if v < 5 {
				p.LogStartOffset = -1
			}
			if v < 11 {
				p.PreferredReadReplica = -1
			}
			ps[j] = p
		}
		out.Topics[i] = FetchTopicResponse{Name: t.Name, Partitions: ps}
	}
	return &out
}

func toKmsgFetchResponse(r *FetchResponse) *kmsg.FetchResponse {
	k := kmsg.NewPtrFetchResponse()
	k.Version, k.ThrottleMillis, k.ErrorCode, k.SessionID = r.Version, r.ThrottleTimeMs, int16(r.ErrorCode), r.SessionID
	for _, t := range r.Topics {
		kt := kmsg.NewFetchResponseTopic()
		kt.Topic = t.Name
		for _, p := range t.Partitions {
			kp := kmsg.NewFetchResponseTopicPartition()
			kp.Partition, kp.ErrorCode, kp.HighWatermark = p.Partition, int16(p.ErrorCode), p.HighWatermark
			kp.LastStableOffset, kp.LogStartOffset, kp.PreferredReadReplica = p.LastStableOffset, p.LogStartOffset, p.PreferredReadReplica
			kp.RecordBatches = p.Records
			if p.AbortedTransactions != nil {
				kp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				for _, a := range p.AbortedTransactions {
					ka := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					ka.ProducerID, ka.FirstOffset = a.ProducerID, a.FirstOffset
					kp.AbortedTransactions = append(kp.AbortedTransactions, ka)
				}
			}
			kt.Partitions = append(kt.Partitions, kp)
		}
		k.Topics = append(k.Topics, kt)
	}
	return k
}

func fromKmsgFetchResponse(k *kmsg.FetchResponse) *FetchResponse {
	r := &FetchResponse{Version: k.Version, ThrottleTimeMs: k.ThrottleMillis, ErrorCode: errcode.Code(k.ErrorCode), SessionID: k.SessionID,
		Topics: make([]FetchTopicResponse, len(k.Topics))}
	for i, kt := range k.Topics {
		t := FetchTopicResponse{Name: kt.Topic, Partitions: make([]FetchPartitionResponse, len(kt.Partitions))}
		for j, kp := range kt.Partitions {
			p := FetchPartitionResponse{Partition: kp.Partition, ErrorCode: errcode.Code(kp.ErrorCode), HighWatermark: kp.HighWatermark,
				LastStableOffset: kp.LastStableOffset, LogStartOffset: kp.LogStartOffset, PreferredReadReplica: kp.PreferredReadReplica,
				Records: kp.RecordBatches}
			if kp.AbortedTransactions != nil {
				p.AbortedTransactions = []AbortedTransaction{}
				for _, ka := range kp.AbortedTransactions {
					p.AbortedTransactions = append(p.AbortedTransactions, AbortedTransaction{ProducerID: ka.ProducerID, FirstOffset: ka.FirstOffset})
				}
			}
			t.Partitions[j] = p
		}
		r.Topics[i] = t
	}
	return r
}

func TestFetchResponseKmsg(t *testing.T) {
	for v := FetchMinVersion; v <= FetchMaxVersion; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ours := sampleFetchResponse(v)
			want := projectFetchResponse(ours, v)
			out := ours.AppendTo(nil)

			k := kmsg.NewPtrFetchResponse()
			k.Version = v
			if err := k.ReadFrom(out); err != nil {
				t.Fatalf("kmsg cannot read our response: %v", err)
			}
			if got := fromKmsgFetchResponse(k); !reflect.DeepEqual(got, want) {
				t.Fatalf("kmsg read\n %+v\nwant\n %+v", got, want)
			}

			kb := toKmsgFetchResponse(want).AppendTo(nil)
			if !bytes.Equal(kb, out) {
				t.Fatalf("encodings differ:\n ours %x\n kmsg %x", out, kb)
			}
			got, err := DecodeFetchResponse(v, kb)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
			}
			// The records travel byte for byte and alias the body.
			rec := got.Topics[0].Partitions[0].Records
			if !bytes.Equal(rec, ours.Topics[0].Partitions[0].Records) || cap(rec) != len(rec) {
				t.Fatal("records changed or not clipped")
			}
		})
	}
}

// TestFetchResponseSkipsTags decodes a v12 response with the partition
// tags diverging_epoch, current_leader and snapshot_id set, and unknown ones.
func TestFetchResponseSkipsTags(t *testing.T) {
	want := projectFetchResponse(sampleFetchResponse(12), 12)
	k := toKmsgFetchResponse(want)
	p := &k.Topics[0].Partitions[0]
	p.DivergingEpoch.Epoch, p.DivergingEpoch.EndOffset = 3, 50
	p.CurrentLeader.LeaderID, p.CurrentLeader.LeaderEpoch = 1, 6
	p.SnapshotID.Epoch, p.SnapshotID.EndOffset = 2, 10
	p.AbortedTransactions[0].UnknownTags.Set(1, []byte{9})
	k.UnknownTags.Set(4000, pattern(6, 20))
	got, err := DecodeFetchResponse(12, k.AppendTo(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n %+v\nwant\n %+v", got, want)
	}
}

func TestFetchTruncatedAtEveryByte(t *testing.T) {
	for v := FetchMinVersion; v <= FetchMaxVersion; v++ {
		t.Run(fmt.Sprintf("request/v%d", v), func(t *testing.T) {
			checkEveryPrefixFails(t, sampleFetchRequest(v).AppendTo(nil), func(b []byte) error { _, err := DecodeFetchRequest(v, b); return err })
		})
		t.Run(fmt.Sprintf("response/v%d", v), func(t *testing.T) {
			full := sampleFetchResponse(v)
			full.Topics[0].Partitions[0].Records = pattern(1, 40)
			checkEveryPrefixFails(t, full.AppendTo(nil), func(b []byte) error { _, err := DecodeFetchResponse(v, b); return err })
		})
	}
}

func TestFetchMalformed(t *testing.T) {
	// v4 request head: replica, max wait, min bytes, max bytes, isolation.
	head := []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0x10, 0, 0, 0}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name  string
		body  []byte
		cause error
		field string
	}{
		{"huge topic count", cat(head, []byte{0x7f, 0xff, 0xff, 0xff}), ErrArrayTooLong, "topics"},
		{"huge partition count", cat(head, []byte{0, 0, 0, 1, 0, 1, 't', 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrArrayTooLong, "topics.partitions"},
		{"null topics", cat(head, []byte{0xff, 0xff, 0xff, 0xff}), ErrNull, "topics"},
		{"trailing", cat(head, []byte{0, 0, 0, 0, 0}), ErrTrailingBytes, "(end)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeFetchRequest(4, c.body)
			de := requireDecodeError(t, err, c.cause)
			if de.Field != c.field || de.Message != "Fetch v4 request" {
				t.Fatalf("%v", err)
			}
			if n := allocBytes(func() { _, _ = DecodeFetchRequest(4, c.body) }); n > 1024 {
				t.Fatalf("rejecting allocates %d bytes", n)
			}
		})
	}
	// Response: a huge aborted-transactions count.
	resp := cat([]byte{0, 0, 0, 0}, []byte{0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 1},
		[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff}, make([]byte, 40))
	_, err := DecodeFetchResponse(4, resp)
	if de := requireDecodeError(t, err, ErrArrayTooLong); de.Field != "responses.partitions.aborted_transactions" {
		t.Fatalf("%v", err)
	}

	for _, v := range []int16{3, 13} {
		var uv *UnsupportedVersionError
		if _, err := DecodeFetchRequest(v, nil); !errors.As(err, &uv) || uv.Min != 4 || uv.Max != 12 {
			t.Fatalf("request v%d: %v", v, err)
		}
		_, err := DecodeFetchResponse(v, nil)
		if !errors.As(err, &uv) {
			t.Fatalf("response v%d: %v", v, err)
		}
		if err.Error() != fmt.Sprintf("wire: Fetch version %d not in supported range 4-12", v) {
			t.Fatalf("message %q", err)
		}
	}
}

// TestEncodersClampVersion checks that out-of-range versions encode as the
// nearest supported one instead of inventing a layout.
func TestEncodersClampVersion(t *testing.T) {
	r := sampleFetchResponse(13)
	if !bytes.Equal(r.AppendTo(nil), sampleFetchResponse(12).AppendTo(nil)) {
		t.Fatal("Fetch v13 response should encode as v12")
	}
	q := sampleFetchRequest(1)
	if !bytes.Equal(q.AppendTo(nil), sampleFetchRequest(4).AppendTo(nil)) {
		t.Fatal("Fetch v1 request should encode as v4")
	}
	p := sampleProduceResponse(11)
	if !bytes.Equal(p.AppendTo(nil), sampleProduceResponse(9).AppendTo(nil)) {
		t.Fatal("Produce v11 response should encode as v9")
	}
	long := string(pattern(1, maxStringLen+10))
	b := (&ProduceRequest{Version: 9, Topics: []ProduceTopic{{Name: long}}}).AppendTo(nil)
	got, err := DecodeProduceRequest(9, b)
	if err != nil || got.Topics[0].Name != long[:maxStringLen] {
		t.Fatalf("long name: %v", err)
	}
}
