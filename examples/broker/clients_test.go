package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The matrix every client is tested with: each codec with each acks mode.
var (
	codecs   = []string{"none", "gzip", "snappy", "lz4", "zstd"}
	acksList = []int16{0, 1, -1}
)

// clientTimeout bounds one produce-and-consume round.
const clientTimeout = 60 * time.Second

// rec is a record as a test compares it: key, value and headers in order.
type rec struct {
	Key, Value string
	Headers    []hdr
}

type hdr struct{ Key, Value string }

// testRecords returns n records with distinct keys, compressible JSON
// values (so that every client really compresses) and, if headers is set,
// headers including a repeated key and an empty value.
func testRecords(prefix string, n int, headers bool) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{
			Key:   fmt.Sprintf("%s-key-%04d", prefix, i),
			Value: fmt.Sprintf(`{"n":%d,"source":%q,"text":%q}`, i, prefix, strings.Repeat("chronik stores this ", 8)),
		}
		if headers {
			out[i].Headers = []hdr{{"trace", fmt.Sprint("t-", i)}, {"empty", ""}, {"trace", "again"}}
		}
	}
	return out
}

// checkRecords fails unless got equals want: same records, same order.
func checkRecords(t testing.TB, got, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("consumed %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		same := g.Key == w.Key && g.Value == w.Value && len(g.Headers) == len(w.Headers)
		for j := 0; same && j < len(w.Headers); j++ {
			same = g.Headers[j] == w.Headers[j]
		}
		if !same {
			t.Fatalf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

// --- franz-go ---

func kgoCodec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

func kgoAcks(acks int16) kgo.Acks {
	switch acks {
	case 0:
		return kgo.NoAck()
	case 1:
		return kgo.LeaderAck()
	}
	return kgo.AllISRAcks()
}

// produceKgo produces recs to partition 0 of topic with franz-go: with its
// defaults (idempotent, acks=all) when idempotent is set, else with
// DisableIdempotentWrite and the given acks.
func produceKgo(t testing.TB, addr, topic string, recs []rec, codec string, acks int16, idempotent bool) {
	t.Helper()
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgoCodec(codec)), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.RequiredAcks(kgoAcks(acks)))
	}
	cl := newKgo(t, addr, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		kr := &kgo.Record{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
		}
		krs[i] = kr
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("franz-go produce: %v", err)
	}
}

// consumeKgo reads n records from partition 0 of topic from the start.
func consumeKgo(t testing.TB, addr, topic string, n int) []rec {
	t.Helper()
	cl := newKgo(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(250*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var out []rec
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("franz-go consume: %d of %d records after %v", len(out), n, clientTimeout)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("franz-go fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(kr *kgo.Record) {
			r := rec{Key: string(kr.Key), Value: string(kr.Value)}
			for _, h := range kr.Headers {
				r.Headers = append(r.Headers, hdr{h.Key, string(h.Value)})
			}
			out = append(out, r)
		})
	}
	return out
}

func TestFranzGo(t *testing.T) {
	b := newBroker(t, nil)
	for _, codec := range codecs {
		for _, mode := range []struct {
			name       string
			acks       int16
			idempotent bool
		}{{"idempotent", -1, true}, {"acks1", 1, false}, {"acks0", 0, false}, {"acksall", -1, false}} {
			t.Run(codec+"/"+mode.name, func(t *testing.T) {
				topic := "kgo-" + codec + "-" + mode.name
				createTopic(t, b.addrs.Kafka, topic, 1, nil)
				want := testRecords(topic, 40, true)
				produceKgo(t, b.addrs.Kafka, topic, want, codec, mode.acks, mode.idempotent)
				checkRecords(t, consumeKgo(t, b.addrs.Kafka, topic, len(want)), want)
				checkCodec(t, b.addrs.Kafka, topic, codec)
				hs := storedBatches(t, b.addrs.Kafka, topic, 0)
				if mode.idempotent != (hs[0].ProducerID >= 0) {
					t.Fatalf("idempotent=%v but the stored batch has producer id %d", mode.idempotent, hs[0].ProducerID)
				}
			})
		}
	}
}

// --- IBM/sarama ---

func saramaCodec(name string) sarama.CompressionCodec {
	switch name {
	case "gzip":
		return sarama.CompressionGZIP
	case "snappy":
		return sarama.CompressionSnappy
	case "lz4":
		return sarama.CompressionLZ4
	case "zstd":
		return sarama.CompressionZSTD
	}
	return sarama.CompressionNone
}

func saramaConfig(version sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "chronik-test"
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	return cfg
}

// produceSarama produces recs with a sarama SyncProducer of the given
// Kafka version. The topic is created by Metadata auto-creation.
func produceSarama(t testing.TB, addr, topic string, recs []rec, codec string, acks int16, version sarama.KafkaVersion, idempotent bool) {
	t.Helper()
	cfg := saramaConfig(version)
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = saramaCodec(codec)
	cfg.Producer.RequiredAcks = sarama.RequiredAcks(acks)
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	if idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, len(recs))
	for i, r := range recs {
		m := &sarama.ProducerMessage{Topic: topic, Partition: 0, Key: sarama.StringEncoder(r.Key), Value: sarama.StringEncoder(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: []byte(h.Value)})
		}
		msgs[i] = m
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("sarama produce: %v", err)
	}
}

// consumeSarama reads n records from partition 0 of topic from the oldest
// offset with a sarama consumer of the given version.
func consumeSarama(t testing.TB, addr, topic string, n int, version sarama.KafkaVersion) []rec {
	t.Helper()
	c, err := sarama.NewConsumer([]string{addr}, saramaConfig(version))
	if err != nil {
		t.Fatalf("sarama consumer: %v", err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("sarama consume partition: %v", err)
	}
	defer pc.Close()
	timeout := time.After(clientTimeout)
	var out []rec
	for len(out) < n {
		select {
		case m := <-pc.Messages():
			r := rec{Key: string(m.Key), Value: string(m.Value)}
			for _, h := range m.Headers {
				r.Headers = append(r.Headers, hdr{string(h.Key), string(h.Value)})
			}
			out = append(out, r)
		case err := <-pc.Errors():
			t.Fatalf("sarama consume: %v", err)
		case <-timeout:
			t.Fatalf("sarama consume: %d of %d records after %v", len(out), n, clientTimeout)
		}
	}
	return out
}

func TestSarama(t *testing.T) {
	b := newBroker(t, nil)
	versions := []struct {
		name     string
		version  sarama.KafkaVersion
		consumer sarama.KafkaVersion // 0.10.2 fetches with v3, below the v4 this broker serves
		headers  bool                // message format v1 (Produce v2) has no headers
		zstd     bool                // sarama needs 2.1 for zstd
	}{
		{"0.10.2", sarama.V0_10_2_0, sarama.V1_0_0_0, false, false},
		{"1.0.0", sarama.V1_0_0_0, sarama.V1_0_0_0, true, false},
		{"default", sarama.DefaultVersion, sarama.DefaultVersion, true, true},
	}
	for _, v := range versions {
		for _, codec := range codecs {
			if codec == "zstd" && !v.zstd {
				continue
			}
			for _, acks := range acksList {
				t.Run(fmt.Sprintf("%s/%s/acks%d", v.name, codec, acks), func(t *testing.T) {
					topic := fmt.Sprintf("sarama-%s-%s-acks%d", v.name, codec, acks)
					want := testRecords(topic, 40, v.headers)
					produceSarama(t, b.addrs.Kafka, topic, want, codec, acks, v.version, false)
					checkRecords(t, consumeSarama(t, b.addrs.Kafka, topic, len(want), v.consumer), want)
					checkCodec(t, b.addrs.Kafka, topic, codec)
				})
			}
		}
		if v.version.IsAtLeast(sarama.V0_11_0_0) {
			for _, codec := range codecs {
				if codec == "zstd" && !v.zstd {
					continue
				}
				t.Run(fmt.Sprintf("%s/%s/idempotent", v.name, codec), func(t *testing.T) {
					topic := fmt.Sprintf("sarama-%s-%s-idempotent", v.name, codec)
					want := testRecords(topic, 40, v.headers)
					produceSarama(t, b.addrs.Kafka, topic, want, codec, -1, v.version, true)
					checkRecords(t, consumeSarama(t, b.addrs.Kafka, topic, len(want), v.consumer), want)
					checkCodec(t, b.addrs.Kafka, topic, codec)
					if hs := storedBatches(t, b.addrs.Kafka, topic, 0); hs[0].ProducerID < 0 {
						t.Fatal("idempotent sarama batch stored without a producer id")
					}
				})
			}
		}
	}
}

// --- segmentio/kafka-go ---

func kafkaGoCodec(name string) kafkago.Compression {
	switch name {
	case "gzip":
		return kafkago.Gzip
	case "snappy":
		return kafkago.Snappy
	case "lz4":
		return kafkago.Lz4
	case "zstd":
		return kafkago.Zstd
	}
	return 0
}

// produceKafkaGo writes recs with a kafka-go Writer (10 ms batch timeout),
// creating the topic through Metadata auto-creation.
func produceKafkaGo(t testing.TB, addr, topic string, recs []rec, codec string, acks int16) {
	t.Helper()
	w := &kafkago.Writer{
		Addr: kafkago.TCP(addr), Topic: topic, BatchTimeout: 10 * time.Millisecond,
		RequiredAcks: kafkago.RequiredAcks(acks), Compression: kafkaGoCodec(codec),
		AllowAutoTopicCreation: true, Balancer: kafkago.BalancerFunc(func(kafkago.Message, ...int) int { return 0 }),
	}
	defer w.Close()
	msgs := make([]kafkago.Message, len(recs))
	for i, r := range recs {
		m := kafkago.Message{Key: []byte(r.Key), Value: []byte(r.Value)}
		for _, h := range r.Headers {
			m.Headers = append(m.Headers, kafkago.Header{Key: h.Key, Value: []byte(h.Value)})
		}
		msgs[i] = m
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
}

// consumeKafkaGo reads n records of partition 0 from the first offset with
// a kafka-go Reader without a consumer group.
func consumeKafkaGo(t testing.TB, addr, topic string, n int) []rec {
	t.Helper()
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers: []string{addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 10 << 20,
		MaxWait: 250 * time.Millisecond, ErrorLogger: kafkago.LoggerFunc(func(f string, a ...any) { t.Logf("kafka-go: "+f, a...) }),
	})
	defer r.Close()
	if err := r.SetOffset(kafkago.FirstOffset); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	var out []rec
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("kafka-go read: %d of %d records: %v", len(out), n, err)
		}
		rr := rec{Key: string(m.Key), Value: string(m.Value)}
		for _, h := range m.Headers {
			rr.Headers = append(rr.Headers, hdr{h.Key, string(h.Value)})
		}
		out = append(out, rr)
	}
	return out
}

func TestKafkaGo(t *testing.T) {
	b := newBroker(t, nil)
	for _, codec := range codecs {
		for _, acks := range acksList {
			t.Run(fmt.Sprintf("%s/acks%d", codec, acks), func(t *testing.T) {
				topic := fmt.Sprintf("kafkago-%s-acks%d", codec, acks)
				want := testRecords(topic, 40, true)
				produceKafkaGo(t, b.addrs.Kafka, topic, want, codec, acks)
				checkRecords(t, consumeKafkaGo(t, b.addrs.Kafka, topic, len(want)), want)
				checkCodec(t, b.addrs.Kafka, topic, codec)
			})
		}
	}
}

// TestCrossClients produces with one client and consumes with another.
func TestCrossClients(t *testing.T) {
	b := newBroker(t, nil)
	addr := b.addrs.Kafka
	type producer func(t testing.TB, topic string, recs []rec)
	type consumer func(t testing.TB, topic string, n int) []rec
	producers := map[string]producer{
		"franz-go": func(t testing.TB, topic string, recs []rec) { produceKgo(t, addr, topic, recs, "zstd", -1, true) },
		"sarama": func(t testing.TB, topic string, recs []rec) {
			produceSarama(t, addr, topic, recs, "lz4", -1, sarama.DefaultVersion, true)
		},
		"kafka-go": func(t testing.TB, topic string, recs []rec) { produceKafkaGo(t, addr, topic, recs, "snappy", 1) },
	}
	consumers := map[string]consumer{
		"franz-go": func(t testing.TB, topic string, n int) []rec { return consumeKgo(t, addr, topic, n) },
		"sarama": func(t testing.TB, topic string, n int) []rec {
			return consumeSarama(t, addr, topic, n, sarama.DefaultVersion)
		},
		"kafka-go": func(t testing.TB, topic string, n int) []rec { return consumeKafkaGo(t, addr, topic, n) },
	}
	for _, pair := range [][2]string{
		{"franz-go", "sarama"}, {"sarama", "franz-go"}, {"franz-go", "kafka-go"},
		{"kafka-go", "franz-go"}, {"sarama", "kafka-go"}, {"kafka-go", "sarama"},
	} {
		t.Run(pair[0]+"-to-"+pair[1], func(t *testing.T) {
			topic := "cross-" + pair[0] + "-" + pair[1]
			if pair[0] == "franz-go" {
				createTopic(t, addr, topic, 1, nil)
			}
			want := testRecords(topic, 60, true)
			producers[pair[0]](t, topic, want)
			checkRecords(t, consumers[pair[1]](t, topic, len(want)), want)
		})
	}
}

// init keeps sarama quiet unless asked.
func init() {
	sarama.Logger = log.New(io.Discard, "", 0)
}
