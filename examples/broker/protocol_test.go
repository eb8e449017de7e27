package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// wantAPIs is exactly what ApiVersions must advertise with idempotence
// and transactions on.
var wantAPIs = map[int16][2]int16{
	0:  {0, 9},  // Produce: min 0 for librdkafka (KAFKA-18659); v9 keeps transactions on protocol v1
	1:  {4, 12}, // Fetch
	2:  {1, 7},  // ListOffsets
	3:  {0, 12}, // Metadata
	8:  {0, 8},  // OffsetCommit
	9:  {0, 8},  // OffsetFetch
	10: {0, 4},  // FindCoordinator: librdkafka also needs it listed to use lz4
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup
	14: {0, 5},  // SyncGroup
	15: {0, 5},  // DescribeGroups
	16: {0, 4},  // ListGroups
	18: {0, 3},  // ApiVersions
	19: {0, 7},  // CreateTopics
	22: {0, 5},  // InitProducerId
	24: {0, 3},  // AddPartitionsToTxn
	25: {0, 4},  // AddOffsetsToTxn
	26: {0, 4},  // EndTxn
	28: {0, 4},  // TxnOffsetCommit
}

func apiMap(keys []kmsg.ApiVersionsResponseApiKey) map[int16][2]int16 {
	m := make(map[int16][2]int16, len(keys))
	for _, k := range keys {
		m[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return m
}

func TestApiVersionsEveryVersion(t *testing.T) {
	b := newBroker(t, nil)
	rc := dialRaw(t, b.addrs.Kafka)
	for v := int16(0); v <= 3; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-test", "1.0.0"
		// roundTrip reads the header as v0, as ApiVersions requires even for
		// the flexible v3: a v1 header would shift the body by one byte.
		resp := rc.roundTrip(req, v).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		if got := apiMap(resp.ApiKeys); !mapsEqual(got, wantAPIs) {
			t.Fatalf("v%d: advertised %v, want %v", v, got, wantAPIs)
		}
	}
	// v3 with a client software name Kafka refuses.
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "bad name!", "1"
	resp := rc.roundTrip(req, 3).(*kmsg.ApiVersionsResponse)
	if resp.ErrorCode != int16(errcode.InvalidRequest) || len(resp.ApiKeys) != 0 {
		t.Fatalf("invalid software name: error %d, %d keys; want INVALID_REQUEST and none", resp.ErrorCode, len(resp.ApiKeys))
	}
}

func mapsEqual(a, b map[int16][2]int16) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestApiVersionsKIP511Fallback sends an ApiVersions v4 request, built by
// hand, and parses the answer by hand: a v0 response (header v0, no
// throttle time) with UNSUPPORTED_VERSION and the broker's full ranges.
func TestApiVersionsKIP511Fallback(t *testing.T) {
	b := newBroker(t, nil)
	rc := dialRaw(t, b.addrs.Kafka)
	// v4 body: compact string name, compact string version, empty tags.
	body := []byte{byte(len("newclient") + 1)}
	body = append(body, "newclient"...)
	body = append(body, byte(len("9.9")+1))
	body = append(body, "9.9"...)
	body = append(body, 0)
	corr := rc.send(18, 4, body)
	frame, err := rc.recvFrame(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	if len(frame) < 10 {
		t.Fatalf("response of %d bytes", len(frame))
	}
	if got := int32(be.Uint32(frame)); got != corr {
		t.Fatalf("correlation id %d, want %d", got, corr)
	}
	if code := int16(be.Uint16(frame[4:])); code != int16(errcode.UnsupportedVersion) {
		t.Fatalf("error code %d, want UNSUPPORTED_VERSION (35)", code)
	}
	n := int(be.Uint32(frame[6:]))
	rest := frame[10:]
	if len(rest) != 6*n {
		t.Fatalf("v0 body holds %d bytes after %d entries, want exactly %d", len(rest), n, 6*n)
	}
	got := map[int16][2]int16{}
	for i := 0; i < n; i++ {
		e := rest[6*i:]
		got[int16(be.Uint16(e))] = [2]int16{int16(be.Uint16(e[2:])), int16(be.Uint16(e[4:]))}
	}
	if !mapsEqual(got, wantAPIs) {
		t.Fatalf("advertised %v, want %v", got, wantAPIs)
	}
	// The client retries with v3 on the same connection.
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "newclient", "9.9"
	if resp := rc.roundTrip(req, 3).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("retry with v3: error %d", resp.ErrorCode)
	}
}

func TestApiVersionsWithoutIdempotence(t *testing.T) {
	b := newBroker(t, func(c *config) { c.Handler.EnableIdempotence, c.Handler.EnableTransactions = false, false })
	rc := dialRaw(t, b.addrs.Kafka)
	avReq := kmsg.NewPtrApiVersionsRequest()
	avReq.ClientSoftwareName, avReq.ClientSoftwareVersion = "chronik-test", "1.0.0"
	resp := rc.roundTrip(avReq, 3).(*kmsg.ApiVersionsResponse)
	got := apiMap(resp.ApiKeys)
	for _, key := range []int16{22, 24, 25, 26, 28} {
		if _, ok := got[key]; ok {
			t.Fatalf("%s advertised with idempotence and transactions disabled", wire.APIName(key))
		}
	}
	for _, key := range []int16{8, 9, 10, 11, 12, 13, 14} {
		if _, ok := got[key]; !ok {
			t.Fatalf("%s not advertised: groups do not depend on idempotence", wire.APIName(key))
		}
	}
	// A request for it closes the connection like any API not served.
	rc.send(22, 0, kmsg.NewPtrInitProducerIDRequest().AppendTo(nil))
	rc.expectClosed()

	// kgo falls back to producing without a producer id.
	cl := newKgo(t, b.addrs.Kafka, kgo.DefaultProduceTopic("noidem"), kgo.AllowAutoTopicCreation())
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	hs := storedBatches(t, b.addrs.Kafka, "noidem", 0)
	if len(hs) != 1 || hs[0].ProducerID != -1 {
		t.Fatalf("stored batches %+v, want one without producer id", hs)
	}
}

// TestUnservedRequestsCloseConnection: Kafka closes a connection whose
// request has an API key or version it cannot parse.
func TestUnservedRequestsCloseConnection(t *testing.T) {
	b := newBroker(t, nil)
	for _, tc := range []struct {
		name         string
		key, version int16
	}{
		{"OffsetCommit v9", 8, 9},
		{"DeleteGroups", 42, 0},
		{"AddPartitionsToTxn v4", 24, 4},
		{"EndTxn v5", 26, 5},
		{"FindCoordinator v5", 10, 5},
		{"unknown key", 1000, 0},
		{"Metadata v13", 3, 13},
		{"Fetch v3", 1, 3},
		{"Produce v10", 0, 10},
		{"ListOffsets v0", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, b.addrs.Kafka)
			rc.send(tc.key, tc.version, []byte{0, 0, 0, 0})
			rc.expectClosed()
		})
	}
	t.Run("malformed body", func(t *testing.T) {
		rc := dialRaw(t, b.addrs.Kafka)
		rc.send(19, 7, []byte{0xff}) // CreateTopics: truncated compact array
		rc.expectClosed()
	})
}

func metadataRequest(allow bool, topics ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = allow
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestMetadataAutoCreate(t *testing.T) {
	b := newBroker(t, func(c *config) { c.Partitions = 3 })
	rc := dialRaw(t, b.addrs.Kafka)
	check := func(version int16, allow bool, topic string, wantCode int16, wantPartitions int) {
		t.Helper()
		resp := rc.roundTrip(metadataRequest(allow, topic), version).(*kmsg.MetadataResponse)
		if len(resp.Topics) != 1 {
			t.Fatalf("v%d %s: %d topics", version, topic, len(resp.Topics))
		}
		mt := resp.Topics[0]
		if mt.ErrorCode != wantCode || len(mt.Partitions) != wantPartitions {
			t.Fatalf("v%d %s: error %d with %d partitions, want %d with %d", version, topic, mt.ErrorCode, len(mt.Partitions), wantCode, wantPartitions)
		}
		for i, p := range mt.Partitions {
			if p.Partition != int32(i) || p.Leader != 1 || !slices.Equal(p.Replicas, []int32{1}) || !slices.Equal(p.ISR, []int32{1}) {
				t.Fatalf("v%d %s: partition %+v", version, topic, p)
			}
		}
	}
	check(9, false, "not-allowed", int16(errcode.UnknownTopicOrPartition), 0)
	check(4, true, "allowed-v4", 0, 3)
	check(12, true, "allowed-v12", 0, 3)
	check(1, false, "v1-always-allows", 0, 3) // before v4 requests cannot refuse
	check(9, true, "bad/name", int16(errcode.InvalidTopicException), 0)
	check(9, false, "allowed-v4", 0, 3) // exists now

	// Null topic list: every topic, with this broker as the only broker.
	resp := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 12).(*kmsg.MetadataResponse)
	var names []string
	for _, mt := range resp.Topics {
		names = append(names, *mt.Topic)
	}
	slices.Sort(names)
	if want := []string{"allowed-v12", "allowed-v4", "v1-always-allows"}; !slices.Equal(names, want) {
		t.Fatalf("all topics: %v, want %v", names, want)
	}
	if len(resp.Brokers) != 1 || resp.ControllerID != 1 || resp.ClusterID == nil || *resp.ClusterID == "" {
		t.Fatalf("brokers %+v controller %d cluster %v", resp.Brokers, resp.ControllerID, resp.ClusterID)
	}
	if got := fmt.Sprintf("%s:%d", resp.Brokers[0].Host, resp.Brokers[0].Port); got != b.addrs.Kafka || resp.Brokers[0].NodeID != 1 {
		t.Fatalf("broker %+v, want node 1 at %s", resp.Brokers[0], b.addrs.Kafka)
	}
	// v0: an empty list means every topic.
	resp0 := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 0).(*kmsg.MetadataResponse)
	if len(resp0.Topics) != 3 {
		t.Fatalf("v0 empty list: %d topics, want 3", len(resp0.Topics))
	}
	// v10+: by topic id.
	id := resp.Topics[0].TopicID
	byID := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.TopicID = id
	byID.Topics = append(byID.Topics, rt)
	respID := rc.roundTrip(byID, 12).(*kmsg.MetadataResponse)
	if len(respID.Topics) != 1 || respID.Topics[0].ErrorCode != 0 || *respID.Topics[0].Topic != *resp.Topics[0].Topic {
		t.Fatalf("by id: %+v", respID.Topics)
	}
}

func TestMetadataAutoCreateOff(t *testing.T) {
	b := newBroker(t, func(c *config) { c.AutoCreate = false })
	rc := dialRaw(t, b.addrs.Kafka)
	for _, v := range []int16{1, 4, 9, 12} {
		resp := rc.roundTrip(metadataRequest(true, "nope"), v).(*kmsg.MetadataResponse)
		if resp.Topics[0].ErrorCode != int16(errcode.UnknownTopicOrPartition) {
			t.Fatalf("v%d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", v, resp.Topics[0].ErrorCode)
		}
	}
	resp := rc.roundTrip(kmsg.NewPtrMetadataRequest(), 12).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 0 {
		t.Fatalf("topics created: %d", len(resp.Topics))
	}
}

func TestMetadataAdvertisedAddr(t *testing.T) {
	b := newBroker(t, func(c *config) { c.AdvertisedAddr = "kafka.example.com:19092"; c.NodeID = 7 })
	rc := dialRaw(t, b.addrs.Kafka)
	resp := rc.roundTrip(metadataRequest(true, "t"), 9).(*kmsg.MetadataResponse)
	br := resp.Brokers[0]
	if br.Host != "kafka.example.com" || br.Port != 19092 || br.NodeID != 7 || resp.ControllerID != 7 {
		t.Fatalf("broker %+v controller %d", br, resp.ControllerID)
	}
	if p := resp.Topics[0].Partitions[0]; p.Leader != 7 {
		t.Fatalf("leader %d, want 7", p.Leader)
	}
}

func TestCreateTopics(t *testing.T) {
	b := newBroker(t, nil)
	rc := dialRaw(t, b.addrs.Kafka)
	createTopic(t, b.addrs.Kafka, "existing", 1, nil)

	topic := func(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
		for i := 0; i+1 < len(configs); i += 2 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
			rt.Configs = append(rt.Configs, c)
		}
		return rt
	}
	assigned := topic("assigned", -1, -1)
	for p := int32(0); p < 2; p++ {
		a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		a.Partition, a.Replicas = p, []int32{1}
		assigned.ReplicaAssignment = append(assigned.ReplicaAssignment, a)
	}
	badAssigned := topic("bad-assigned", -1, -1)
	a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	a.Partition, a.Replicas = 0, []int32{2}
	badAssigned.ReplicaAssignment = append(badAssigned.ReplicaAssignment, a)
	nullConfig := topic("null-config", 1, 1)
	nullConfig.Configs = append(nullConfig.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: "retention.ms"})

	cases := []struct {
		topic kmsg.CreateTopicsRequestTopic
		code  errcode.Code
	}{
		{topic("good", 3, 1, "retention.ms", "60000", "compression.type", "zstd"), errcode.None},
		{topic("defaults", -1, -1), errcode.None},
		{assigned, errcode.None},
		{topic("existing", 1, 1), errcode.TopicAlreadyExists},
		{topic("bad-value", 1, 1, "retention.ms", "soon"), errcode.InvalidConfig},
		{topic("unknown-key", 1, 1, "no.such.config", "1"), errcode.InvalidConfig},
		{nullConfig, errcode.InvalidConfig},
		{topic("zero-partitions", 0, 1), errcode.InvalidPartitions},
		{topic("negative-partitions", -5, 1), errcode.InvalidPartitions},
		{topic("bad name", 1, 1), errcode.InvalidTopicException},
		{topic("..", 1, 1), errcode.InvalidTopicException},
		{topic("three-replicas", 1, 3), errcode.InvalidReplicationFactor},
		{topic("zero-replicas", 1, 0), errcode.InvalidReplicationFactor},
		{badAssigned, errcode.InvalidReplicaAssignment},
		{topic("dup", 1, 1), errcode.InvalidRequest},
		{topic("dup", 1, 1), errcode.InvalidRequest},
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, c := range cases {
		req.Topics = append(req.Topics, c.topic)
	}
	resp := rc.roundTrip(req, 7).(*kmsg.CreateTopicsResponse)
	if len(resp.Topics) != len(cases) {
		t.Fatalf("%d results for %d topics", len(resp.Topics), len(cases))
	}
	for i, c := range cases {
		rt := resp.Topics[i]
		if rt.Topic != c.topic.Topic || errcode.Code(rt.ErrorCode) != c.code {
			t.Errorf("%s: %s (%v), want %s", c.topic.Topic, errcode.Code(rt.ErrorCode), strPtr(rt.ErrorMessage), c.code)
		}
		if c.code != errcode.None && (rt.ErrorMessage == nil || *rt.ErrorMessage == "") {
			t.Errorf("%s: no error message", c.topic.Topic)
		}
	}
	good := resp.Topics[0]
	if good.NumPartitions != 3 || good.ReplicationFactor != 1 || good.TopicID == [16]byte{} {
		t.Fatalf("good: %+v", good)
	}
	cfgs := map[string]kmsg.CreateTopicsResponseTopicConfig{}
	for _, c := range good.Configs {
		cfgs[c.Name] = c
	}
	if c := cfgs["retention.ms"]; strPtr(c.Value) != "60000" || c.Source != sourceTopicConfig {
		t.Fatalf("retention.ms described as %+v", c)
	}
	if c := cfgs["segment.bytes"]; strPtr(c.Value) != "1073741824" || c.Source != sourceDefaultConfig {
		t.Fatalf("segment.bytes described as %+v", c)
	}
	if d := resp.Topics[1]; d.NumPartitions != 1 || d.ReplicationFactor != 1 {
		t.Fatalf("defaults: %d partitions, rf %d", d.NumPartitions, d.ReplicationFactor)
	}
	if as := resp.Topics[2]; as.NumPartitions != 2 {
		t.Fatalf("assigned: %d partitions", as.NumPartitions)
	}
	for name, want := range map[string]int{"good": 3, "defaults": 1, "assigned": 2, "bad-value": 0} {
		mr := rc.roundTrip(metadataRequest(false, name), 9).(*kmsg.MetadataResponse)
		if got := len(mr.Topics[0].Partitions); got != want {
			t.Errorf("%s: %d partitions in metadata, want %d", name, got, want)
		}
	}

	// validate_only creates nothing but reports the same errors.
	vreq := kmsg.NewPtrCreateTopicsRequest()
	vreq.ValidateOnly = true
	vreq.Topics = []kmsg.CreateTopicsRequestTopic{topic("checked", 2, 1, "cleanup.policy", "compact"), topic("existing", 1, 1), topic("bad-value", 1, 1, "max.message.bytes", "-4"), topic("good", 1, 1)}
	vresp := rc.roundTrip(vreq, 5).(*kmsg.CreateTopicsResponse)
	wantCodes := []errcode.Code{errcode.None, errcode.TopicAlreadyExists, errcode.InvalidConfig, errcode.TopicAlreadyExists}
	for i, w := range wantCodes {
		if got := errcode.Code(vresp.Topics[i].ErrorCode); got != w {
			t.Errorf("validate_only %s: %s, want %s", vresp.Topics[i].Topic, got, w)
		}
	}
	if vresp.Topics[0].NumPartitions != 2 {
		t.Errorf("validate_only: %d partitions reported, want 2", vresp.Topics[0].NumPartitions)
	}
	mr := rc.roundTrip(metadataRequest(false, "checked"), 9).(*kmsg.MetadataResponse)
	if mr.Topics[0].ErrorCode != int16(errcode.UnknownTopicOrPartition) {
		t.Fatal("validate_only created the topic")
	}

	// v0 has no error messages; a name colliding after '.'→'_' is refused.
	v0 := kmsg.NewPtrCreateTopicsRequest()
	v0.Topics = []kmsg.CreateTopicsRequestTopic{topic("a.b", 1, 1), topic("a_b", 1, 1)}
	r0 := rc.roundTrip(v0, 0).(*kmsg.CreateTopicsResponse)
	if r0.Topics[0].ErrorCode != 0 || r0.Topics[1].ErrorCode != int16(errcode.InvalidTopicException) {
		t.Fatalf("v0 collision: %+v", r0.Topics)
	}
}

func strPtr(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// newKgo returns a franz-go client closed at the end of the test.
func newKgo(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceTimestamps produces one single-record batch per timestamp to
// partition 0 and returns when all are acknowledged.
func produceTimestamps(t testing.TB, addr, topic string, timestamps ...int64) {
	t.Helper()
	cl := newKgo(t, addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i, ts := range timestamps {
		r := &kgo.Record{Key: []byte(fmt.Sprint("k", i)), Value: []byte(fmt.Sprint("v", i)), Timestamp: time.UnixMilli(ts)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestListOffsets(t *testing.T) {
	b := newBroker(t, nil)
	createTopic(t, b.addrs.Kafka, "lo", 1, nil)
	createTopic(t, b.addrs.Kafka, "empty", 1, nil)
	createTopic(t, b.addrs.Kafka, "append-time", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	// Out-of-order timestamps: the maximum (base+5000) is at offset 1.
	// They are recent: older ones would be deleted by retention.ms.
	base := time.Now().Add(-time.Minute).UnixMilli()
	produceTimestamps(t, b.addrs.Kafka, "lo", base+1000, base+5000, base+3000, base+4000)
	// The batches keep the leader epoch the producer wrote in them.
	batchEpoch := storedBatches(t, b.addrs.Kafka, "lo", 0)[1].PartitionLeaderEpoch
	rc := dialRaw(t, b.addrs.Kafka)

	list := func(version int16, topic string, partition int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		if version >= 2 {
			req.IsolationLevel = 1
		}
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = partition, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rc.roundTrip(req, version).(*kmsg.ListOffsetsResponse)
		return resp.Topics[0].Partitions[0]
	}
	type lookup struct{ ts, offset, timestamp int64 }
	for _, v := range []int16{1, 2, 4, 5, 6, 7} {
		cases := []lookup{
			{-2, 0, -1}, // earliest
			{-1, 4, -1}, // latest
			{0, 0, base + 1000},
			{base + 1000, 0, base + 1000},
			{base + 1001, 1, base + 5000},
			{base + 4500, 1, base + 5000},
			{base + 5001, -1, -1}, // none that late
		}
		if v >= 7 {
			cases = append(cases, lookup{-3, 1, base + 5000})
		}
		for _, c := range cases {
			p := list(v, "lo", 0, c.ts)
			if p.ErrorCode != 0 || p.Offset != c.offset || p.Timestamp != c.timestamp {
				t.Errorf("v%d ts %d: error %d offset %d timestamp %d, want offset %d timestamp %d", v, c.ts, p.ErrorCode, p.Offset, p.Timestamp, c.offset, c.timestamp)
			}
			wantEpoch := int32(0) // the partition's, for -1 and -2
			if c.ts >= 0 || c.ts == -3 {
				wantEpoch = batchEpoch
				if c.offset < 0 {
					wantEpoch = -1
				}
			}
			if v >= 4 && p.LeaderEpoch != wantEpoch {
				t.Errorf("v%d ts %d: leader epoch %d, want %d", v, c.ts, p.LeaderEpoch, wantEpoch)
			}
		}
	}
	if p := list(7, "empty", 0, -3); p.ErrorCode != 0 || p.Offset != -1 || p.Timestamp != -1 {
		t.Errorf("max timestamp of an empty log: %+v", p)
	}
	if p := list(7, "empty", 0, -1); p.ErrorCode != 0 || p.Offset != 0 {
		t.Errorf("latest of an empty log: %+v", p)
	}
	if p := list(2, "nope", 0, -1); p.ErrorCode != int16(errcode.UnknownTopicOrPartition) {
		t.Errorf("unknown topic: error %d", p.ErrorCode)
	}
	if p := list(2, "lo", 5, -1); p.ErrorCode != int16(errcode.UnknownTopicOrPartition) {
		t.Errorf("unknown partition: error %d", p.ErrorCode)
	}

	// LogAppendTime topics: lookups use the broker's append time.
	before := time.Now().UnixMilli()
	produceTimestamps(t, b.addrs.Kafka, "append-time", before, before)
	after := time.Now().UnixMilli()
	p := list(7, "append-time", 0, -3)
	if p.ErrorCode != 0 || p.Timestamp < before || p.Timestamp > after {
		t.Errorf("append-time max timestamp: %+v, want a time in [%d, %d]", p, before, after)
	}
	if p := list(7, "append-time", 0, before); p.Offset != 0 {
		t.Errorf("append-time by time: %+v, want offset 0", p)
	}
}

// fetchRequest builds a Fetch request for partition 0 of topic.
func fetchRequest(version int16, topic string, offset int64, maxWait, minBytes int32) *wire.FetchRequest {
	return &wire.FetchRequest{
		Version: version, ReplicaID: -1, MaxWaitMs: maxWait, MinBytes: minBytes, MaxBytes: 1 << 20, SessionEpoch: -1,
		Topics: []wire.FetchTopic{{Name: topic, Partitions: []wire.FetchPartition{{
			CurrentLeaderEpoch: -1, FetchOffset: offset, LastFetchedEpoch: -1, LogStartOffset: -1, PartitionMaxBytes: 1 << 20,
		}}}},
	}
}

func (r *rawConn) fetch(req *wire.FetchRequest) *wire.FetchResponse {
	r.t.Helper()
	corr := r.send(wire.APIKeyFetch, req.Version, req.AppendTo(nil))
	frame, err := r.recvFrame(30 * time.Second)
	if err != nil {
		r.t.Fatalf("fetch: %v", err)
	}
	got, body, err := wire.ParseResponseHeader(frame, wire.ResponseHeaderFlexible(wire.APIKeyFetch, req.Version))
	if err != nil || got != corr {
		r.t.Fatalf("fetch response header: corr %d (want %d), %v", got, corr, err)
	}
	resp, err := wire.DecodeFetchResponse(req.Version, body)
	if err != nil {
		r.t.Fatalf("fetch v%d response: %v", req.Version, err)
	}
	return resp
}

func TestFetchLongPoll(t *testing.T) {
	b := newBroker(t, nil)
	createTopic(t, b.addrs.Kafka, "poll", 1, nil)
	rc := dialRaw(t, b.addrs.Kafka)

	// Nothing arrives: the fetch waits max_wait_ms and answers empty.
	start := time.Now()
	resp := rc.fetch(fetchRequest(11, "poll", 0, 400, 1))
	if el := time.Since(start); el < 380*time.Millisecond {
		t.Fatalf("empty fetch returned after %v, before max_wait 400ms", el)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.Records) != 0 || p.HighWatermark != 0 {
		t.Fatalf("empty fetch: %+v", p)
	}

	// Data arrives during a 20 s wait: the fetch answers soon after.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		produceTimestamps(t, b.addrs.Kafka, "poll", time.Now().UnixMilli())
	}()
	start = time.Now()
	resp = rc.fetch(fetchRequest(12, "poll", 0, 20000, 1))
	el := time.Since(start)
	wg.Wait()
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.Records) == 0 || p.HighWatermark != 1 {
		t.Fatalf("long poll: %+v", p)
	}
	if el < 250*time.Millisecond || el > 5*time.Second {
		t.Fatalf("long poll answered after %v; data was produced after 300ms", el)
	}

	// min_bytes larger than what is there: waits the whole max_wait.
	start = time.Now()
	resp = rc.fetch(fetchRequest(12, "poll", 0, 300, 1<<20))
	if el := time.Since(start); el < 280*time.Millisecond || len(resp.Topics[0].Partitions[0].Records) == 0 {
		t.Fatalf("min_bytes fetch: after %v with %d bytes", el, len(resp.Topics[0].Partitions[0].Records))
	}
}

func TestFetchErrors(t *testing.T) {
	b := newBroker(t, nil)
	createTopic(t, b.addrs.Kafka, "f", 1, nil)
	now := time.Now().UnixMilli()
	produceTimestamps(t, b.addrs.Kafka, "f", now, now, now)
	rc := dialRaw(t, b.addrs.Kafka)
	for _, v := range []int16{4, 7, 11, 12} {
		start := time.Now()
		for _, c := range []struct {
			topic  string
			offset int64
			code   errcode.Code
		}{
			{"f", 4, errcode.OffsetOutOfRange},
			{"f", -1, errcode.OffsetOutOfRange},
			{"missing", 0, errcode.UnknownTopicOrPartition},
			{"f", 3, errcode.None}, // at the end: empty, no error
		} {
			p := rc.fetch(fetchRequest(v, c.topic, c.offset, 5000, 0)).Topics[0].Partitions[0]
			if p.ErrorCode != c.code {
				t.Errorf("v%d %s@%d: %s, want %s", v, c.topic, c.offset, p.ErrorCode, c.code)
			}
		}
		// An error answers at once even with min_bytes unmet.
		p := rc.fetch(fetchRequest(v, "f", 99, 5000, 1)).Topics[0].Partitions[0]
		if p.ErrorCode != errcode.OffsetOutOfRange || time.Since(start) > 3*time.Second {
			t.Errorf("v%d: out of range fetch: %s after %v", v, p.ErrorCode, time.Since(start))
		}
	}
	// Fetch sessions: none is ever created, so continuing one fails.
	req := fetchRequest(12, "f", 0, 5000, 1)
	req.SessionID, req.SessionEpoch = 12345, 1
	if resp := rc.fetch(req); resp.ErrorCode != codeFetchSessionIDNotFound || len(resp.Topics) != 0 {
		t.Fatalf("unknown session: %+v", resp)
	}
	req.SessionID, req.SessionEpoch = 0, 0 // "create one": a full answer, session id 0
	if resp := rc.fetch(req); resp.ErrorCode != 0 || resp.SessionID != 0 || len(resp.Topics[0].Partitions[0].Records) == 0 {
		t.Fatalf("new session request: %+v", resp)
	}
	// Leader epochs (v9+).
	req = fetchRequest(12, "f", 0, 0, 0)
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = 5
	if p := rc.fetch(req).Topics[0].Partitions[0]; p.ErrorCode != codeUnknownLeaderEpoch {
		t.Fatalf("future leader epoch: %s", p.ErrorCode)
	}
}

func TestFetchLimitsAndVersions(t *testing.T) {
	b := newBroker(t, nil)
	createTopic(t, b.addrs.Kafka, "lim", 2, nil)
	cl := newKgo(t, b.addrs.Kafka, kgo.DefaultProduceTopic("lim"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	big := []byte(strings.Repeat("x", 2000))
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 5; i++ {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Partition: p, Value: big}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	rc := dialRaw(t, b.addrs.Kafka)
	twoParts := func(version int16, maxBytes, partMax int32) *wire.FetchResponse {
		req := fetchRequest(version, "lim", 0, 0, 0)
		req.MaxBytes = maxBytes
		p := req.Topics[0].Partitions[0]
		p.PartitionMaxBytes = partMax
		p1 := p
		p1.Partition = 1
		req.Topics[0].Partitions = []wire.FetchPartition{p, p1}
		return rc.fetch(req)
	}
	batches := func(b []byte) int {
		n := 0
		for len(b) >= 61 {
			size := 12 + int(binary.BigEndian.Uint32(b[8:]))
			b = b[size:]
			n++
		}
		return n
	}
	for v := int16(4); v <= 12; v++ {
		// max_bytes 1: only the first batch of the first partition (KIP-74).
		r := twoParts(v, 1, 1<<20)
		if n0, n1 := batches(r.Topics[0].Partitions[0].Records), batches(r.Topics[0].Partitions[1].Records); n0 != 1 || n1 != 0 {
			t.Errorf("v%d max_bytes=1: %d and %d batches, want 1 and 0", v, n0, n1)
		}
		// partition_max_bytes 1: the first partition's first batch only;
		// the second partition's batch would exceed its limit.
		r = twoParts(v, 1<<20, 1)
		if n0, n1 := batches(r.Topics[0].Partitions[0].Records), batches(r.Topics[0].Partitions[1].Records); n0 != 1 || n1 != 0 {
			t.Errorf("v%d partition_max_bytes=1: %d and %d batches, want 1 and 0", v, n0, n1)
		}
		// Enough for everything.
		r = twoParts(v, 1<<20, 1<<20)
		for i, p := range r.Topics[0].Partitions {
			if n := batches(p.Records); n != 5 || p.HighWatermark != 5 || (v >= 5 && p.LogStartOffset != 0) || p.LastStableOffset != 5 {
				t.Errorf("v%d partition %d: %d batches, hw %d, lso %d, log start %d", v, i, n, p.HighWatermark, p.LastStableOffset, p.LogStartOffset)
			}
		}
	}
	// read_committed gets an (empty) aborted transaction list.
	req := fetchRequest(12, "lim", 0, 0, 0)
	req.IsolationLevel = wire.ReadCommitted
	if p := rc.fetch(req).Topics[0].Partitions[0]; p.AbortedTransactions == nil || len(p.Records) == 0 {
		t.Fatalf("read_committed: %+v", p)
	}
}

func TestFindCoordinator(t *testing.T) {
	b := newBroker(t, nil)
	rc := dialRaw(t, b.addrs.Kafka)
	host, port := hostAndPort(t, b.addrs.Kafka)
	for v := int16(0); v <= 4; v++ {
		for _, typ := range []int8{0, 1, 7} {
			if v == 0 && typ != 0 {
				continue // v0 knows only groups
			}
			want := errcode.None
			if typ == 7 {
				want = errcode.InvalidRequest
			}
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType, req.CoordinatorKey, req.CoordinatorKeys = typ, "g", []string{"g1", "g2"}
			resp := rc.roundTrip(req, v).(*kmsg.FindCoordinatorResponse)
			if v < 4 {
				ok := errcode.Code(resp.ErrorCode) == want
				if want == errcode.None {
					ok = ok && resp.NodeID == 1 && resp.Host == host && resp.Port == port
				} else {
					ok = ok && resp.NodeID == -1
				}
				if !ok {
					t.Errorf("v%d type %d: %s node %d at %s:%d, want %s", v, typ, errcode.Code(resp.ErrorCode), resp.NodeID, resp.Host, resp.Port, want)
				}
				continue
			}
			if len(resp.Coordinators) != 2 {
				t.Fatalf("v4: %d coordinators for 2 keys", len(resp.Coordinators))
			}
			for i, c := range resp.Coordinators {
				ok := errcode.Code(c.ErrorCode) == want && c.Key == req.CoordinatorKeys[i]
				if want == errcode.None {
					ok = ok && c.NodeID == 1 && c.Host == host && c.Port == port
				} else {
					ok = ok && c.NodeID == -1 && c.ErrorMessage != nil
				}
				if !ok {
					t.Errorf("v4 type %d key %s: %+v", typ, c.Key, c)
				}
			}
		}
	}
}

// TestFindCoordinatorTransactionsDisabled: a transactional id is refused
// for good when transactions are off; groups are still served.
func TestFindCoordinatorTransactionsDisabled(t *testing.T) {
	b := newBroker(t, func(c *config) { c.Handler.EnableTransactions = false })
	rc := dialRaw(t, b.addrs.Kafka)
	for typ, want := range map[int8]errcode.Code{0: errcode.None, 1: errcode.TransactionalIDAuthorizationFailed} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKeys = typ, []string{"k"}
		c := rc.roundTrip(req, 4).(*kmsg.FindCoordinatorResponse).Coordinators[0]
		if errcode.Code(c.ErrorCode) != want {
			t.Errorf("type %d: %s, want %s", typ, errcode.Code(c.ErrorCode), want)
		}
	}
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("txn"), 60000
	if resp := rc.roundTrip(req, 4).(*kmsg.InitProducerIDResponse); resp.ErrorCode != int16(errcode.TransactionalIDAuthorizationFailed) {
		t.Fatalf("transactional InitProducerId with transactions disabled: %+v", resp)
	}
}

// hostAndPort splits a listener address.
func hostAndPort(t testing.TB, addr string) (string, int32) {
	t.Helper()
	hp, err := splitAdvertised(addr)
	if err != nil {
		t.Fatal(err)
	}
	return hp.Host, hp.Port
}

func TestInitProducerID(t *testing.T) {
	b := newBroker(t, nil)
	rc := dialRaw(t, b.addrs.Kafka)
	seen := map[int64]bool{}
	for v := int16(0); v <= 5; v++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		resp := rc.roundTrip(req, v).(*kmsg.InitProducerIDResponse)
		if resp.ErrorCode != 0 || resp.ProducerID < 0 || resp.ProducerEpoch != 0 || seen[resp.ProducerID] {
			t.Fatalf("v%d: %+v", v, resp)
		}
		seen[resp.ProducerID] = true
	}
	// A transactional id: its producer id, the epoch bumped by each call.
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr("txn"), 60000
	first := rc.roundTrip(req, 4).(*kmsg.InitProducerIDResponse)
	second := rc.roundTrip(req, 4).(*kmsg.InitProducerIDResponse)
	if first.ErrorCode != 0 || second.ErrorCode != 0 || first.ProducerID != second.ProducerID || first.ProducerEpoch != 0 || second.ProducerEpoch != 1 || seen[first.ProducerID] {
		t.Fatalf("transactional: %+v then %+v", first, second)
	}
	// A timeout above -transaction-max-timeout (15 min).
	req.TransactionTimeoutMillis = 16 * 60 * 1000
	if resp := rc.roundTrip(req, 4).(*kmsg.InitProducerIDResponse); resp.ErrorCode != int16(errcode.InvalidTransactionTimeout) {
		t.Fatalf("timeout too long: %+v", resp)
	}
}
