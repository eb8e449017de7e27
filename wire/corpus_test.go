package wire

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var update = flag.Bool("update", false, "rewrite the committed fuzz seed corpora under testdata/fuzz")

// corpusEntry formats one seed in Go's fuzz corpus file format.
func corpusEntry(values ...any) []byte {
	out := []byte("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case int16:
			out = fmt.Appendf(out, "int16(%d)\n", v)
		case []byte:
			out = fmt.Appendf(out, "[]byte(%q)\n", v)
		default:
			panic(fmt.Sprintf("corpus value of type %T", v))
		}
	}
	return out
}

// seedCorpora returns every committed seed: target name → file name →
// the fuzz function's arguments. The seeds are valid messages of every version (so the fuzzer
// starts from deep inside each decoder), variants with tagged fields, and
// a few malformed inputs.
func seedCorpora(t testing.TB) map[string]map[string][]any {
	c := map[string]map[string][]any{
		"FuzzDecodeProduceRequest":  {},
		"FuzzDecodeProduceResponse": {},
		"FuzzDecodeFetchRequest":    {},
		"FuzzDecodeFetchResponse":   {},
		"FuzzParseRequestHeader":    {},
	}
	for v := ProduceMinVersion; v <= ProduceMaxVersion; v++ {
		magic := int8(2)
		if v < 3 {
			magic = 1
		}
		r := &ProduceRequest{Version: v, Acks: -1, TimeoutMs: 1000, Topics: []ProduceTopic{
			{Name: "orders", Partitions: []ProducePartition{{Partition: 0, Records: kgoRecordSet(t, magic, 0, "v0", "v1")}, {Partition: 1}}},
			{Name: "b", Partitions: []ProducePartition{{Partition: 2, Records: []byte{}}}},
		}}
		if v >= 3 {
			r.TransactionalID = strp("txn")
		}
		c["FuzzDecodeProduceRequest"][fmt.Sprintf("seed-v%d", v)] = []any{v, r.AppendTo(nil)}
		c["FuzzDecodeProduceResponse"][fmt.Sprintf("seed-v%d", v)] = []any{v, sampleProduceResponse(v).AppendTo(nil)}
	}
	c["FuzzDecodeProduceRequest"]["seed-v9-tags"] = []any{int16(9), kmsgProduceRequest(9, strp("t"), true).AppendTo(nil)}
	c["FuzzDecodeProduceRequest"]["seed-huge-count"] = []any{int16(3), []byte{0xff, 0xff, 0, 1, 0, 0, 0, 100, 0x7f, 0xff, 0xff, 0xff}}
	c["FuzzDecodeProduceRequest"]["seed-huge-compact-count"] = []any{int16(9), []byte{0, 0, 1, 0, 0, 0, 100, 0x80, 0x80, 0x80, 0x80, 0x04}}

	for v := FetchMinVersion; v <= FetchMaxVersion; v++ {
		c["FuzzDecodeFetchRequest"][fmt.Sprintf("seed-v%d", v)] = []any{v, sampleFetchRequest(v).AppendTo(nil)}
		resp := sampleFetchResponse(v)
		resp.Topics[0].Partitions[0].Records = kgoRecordSet(t, 2, 0, "stored")
		c["FuzzDecodeFetchResponse"][fmt.Sprintf("seed-v%d", v)] = []any{v, resp.AppendTo(nil)}
	}
	kreq := toKmsgFetchRequest(projectFetchRequest(sampleFetchRequest(12), 12))
	kreq.ClusterID = strp("cluster")
	kreq.Topics[0].UnknownTags.Set(9, []byte{1, 2})
	c["FuzzDecodeFetchRequest"]["seed-v12-tags"] = []any{int16(12), kreq.AppendTo(nil)}
	kresp := toKmsgFetchResponse(projectFetchResponse(sampleFetchResponse(12), 12))
	kresp.Topics[0].Partitions[0].RecordBatches = []byte("raw")
	kresp.Topics[0].Partitions[0].CurrentLeader.LeaderID = 2
	c["FuzzDecodeFetchResponse"]["seed-v12-tags"] = []any{int16(12), kresp.AppendTo(nil)}

	headers := map[string]RequestHeader{
		"seed-v0-controlled-shutdown": {APIKey: 7, APIVersion: 0, CorrelationID: 1},
		"seed-v1-null-client":         {APIKey: 0, APIVersion: 8, CorrelationID: 2},
		"seed-v1-client":              {APIKey: 1, APIVersion: 11, CorrelationID: 3, ClientID: strp("consumer-1")},
		"seed-v2-client":              {APIKey: 0, APIVersion: 9, CorrelationID: 4, ClientID: strp("producer-1")},
		"seed-v2-apiversions":         {APIKey: 18, APIVersion: 3, CorrelationID: 5},
		"seed-unknown-key":            {APIKey: 500, APIVersion: 1, CorrelationID: 6, ClientID: strp("x")},
	}
	for name, h := range headers {
		c["FuzzParseRequestHeader"][name] = []any{append(AppendRequestHeader(nil, h), "body"...)}
	}
	tagged := AppendRequestHeader(nil, RequestHeader{APIKey: 1, APIVersion: 12, CorrelationID: 7, ClientID: strp("c")})
	tagged = append(tagged[:len(tagged)-1], 2, 0, 1, 'a', 0x81, 0x01, 0)
	c["FuzzParseRequestHeader"]["seed-v2-tags"] = []any{tagged}
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("kgo")).AppendRequest(nil, kmsgProduceRequest(9, nil, false), 8)
	c["FuzzParseRequestHeader"]["seed-kmsg-produce-v9"] = []any{frame[4:]}
	return c
}

// decodeSeed runs the decoder a fuzz target exercises.
func decodeSeed(target string, args []any) error {
	var err error
	switch target {
	case "FuzzDecodeProduceRequest":
		_, err = DecodeProduceRequest(args[0].(int16), args[1].([]byte))
	case "FuzzDecodeProduceResponse":
		_, err = DecodeProduceResponse(args[0].(int16), args[1].([]byte))
	case "FuzzDecodeFetchRequest":
		_, err = DecodeFetchRequest(args[0].(int16), args[1].([]byte))
	case "FuzzDecodeFetchResponse":
		_, err = DecodeFetchResponse(args[0].(int16), args[1].([]byte))
	case "FuzzParseRequestHeader":
		_, _, err = ParseRequestHeader(args[0].([]byte))
	default:
		err = fmt.Errorf("unknown target %s", target)
	}
	return err
}

// TestFuzzSeedCorpora checks that the committed seed corpora are exactly
// what seedCorpora generates (run with -update to rewrite them) and that
// every valid seed decodes. Other files in those directories (inputs the
// fuzzer found) are left alone.
func TestFuzzSeedCorpora(t *testing.T) {
	corpora := seedCorpora(t)
	targets := make([]string, 0, len(corpora))
	for target := range corpora {
		targets = append(targets, target)
	}
	sort.Strings(targets)
	for _, target := range targets {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, args := range corpora[target] {
			if strings.HasPrefix(name, "seed-v") {
				if err := decodeSeed(target, args); err != nil {
					t.Fatalf("%s/%s does not decode: %v", target, name, err)
				}
			}
			want := corpusEntry(args...)
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestFuzzSeedCorpora -update)", err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s is stale (run go test -run TestFuzzSeedCorpora -update)", path)
			}
		}
	}
}
