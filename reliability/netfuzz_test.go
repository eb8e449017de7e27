package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronik-go/chronik/compress"
	"github.com/chronik-go/chronik/record"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Limits of the network fuzzer.
const (
	fuzzWorkers       = 8                // connections fuzzed at once
	fuzzIdleConns     = 64               // connections held open, idle or mid-frame, during the run
	fuzzConnDeadline  = 45 * time.Second // longest a bad connection may stay open (a Fetch long poll is capped at 30 s)
	fuzzMaxResponse   = 64 << 20         // a larger response frame is malformed
	fuzzRSSGrowth     = 64 << 20         // allowed RSS growth from before to after the run
	fuzzMaxFrameBytes = 100 << 20        // the broker's frame limit (Kafka socket.request.max.bytes)
	fuzzTopic         = "fuzz"
	healthyTopic      = "healthy"
)

// apiRanges maps each API key the broker serves to its version range.
type apiRanges map[int16][2]int16

// servedAPIs asks the broker which APIs and versions it serves
// (ApiVersions), so that the fuzzer follows the broker as it grows.
func servedAPIs(ctx context.Context, addr string) (apiRanges, error) {
	cl, err := newClient(addr)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("ApiVersions: %w", err)
	}
	out := apiRanges{}
	for _, k := range resp.ApiKeys {
		out[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	return out, nil
}

// structured are the APIs request builds field by field (weighted by
// repetition); every other served API gets reflective random fields.
var structured = []int16{0, 0, 1, 1, 2, 3, 3, 10, 18, 22}

// fuzzCase is one input: the bytes written on a fresh connection, which is
// then half-closed.
type fuzzCase struct {
	kind  string
	inner string // for a pipeline, the kind of its malformed part
	data  []byte
	// built maps the byte position of each request frame the generator
	// encoded to that request.
	built map[int]builtFrame
	// frames counts the frames added with add; used marks the correlation
	// ids given out.
	frames int
	used   map[int32]bool
	// must is how many of the first frames must be answered: well-formed
	// requests sent before anything malformed.
	must int

	// Set by finish from data, split as the broker splits the stream
	// (a malformed size prefix can swallow the frames after it): corrs are
	// the correlation ids of the frames that could be answered, in order (a
	// response must carry the next one of them or a later one); reqs holds
	// for each the request it encodes, or nil when it is not a frame the
	// generator encoded: a response to one must decode as its response kind
	// and version.
	corrs []int32
	reqs  []kmsg.Request
}

// builtFrame is a request frame the generator encoded, and its length.
type builtFrame struct {
	req kmsg.Request
	n   int
}

// fuzzGen generates one input from its own random source, seeded by the
// run's seed and the input's index, so that any input can be replayed.
type fuzzGen struct {
	r         *rand.Rand
	served    apiRanges
	longPolls bool // allow Fetch requests to wait long (long runs only)
}

// interesting32 are int32 values that break naive size and count handling.
var interesting32 = []int32{0, -1, 1, 2, math.MaxInt32, math.MinInt32, 1 << 16, 1<<24 + 3, 1 << 30, -2}

// interesting64 are the int64 counterparts, with Kafka's offset sentinels.
var interesting64 = []int64{0, -1, -2, -3, 1, math.MaxInt64, math.MinInt64, 1 << 40}

// i16 returns a boundary, small or random int16.
func (g *fuzzGen) i16() int16 {
	switch g.r.IntN(4) {
	case 0:
		return []int16{0, -1, 1, math.MaxInt16, math.MinInt16, 2}[g.r.IntN(6)]
	case 1:
		return int16(g.r.IntN(20))
	default:
		return int16(g.r.Uint32())
	}
}

// i32 returns a boundary or random int32.
func (g *fuzzGen) i32() int32 {
	if g.r.IntN(2) == 0 {
		return interesting32[g.r.IntN(len(interesting32))]
	}
	return int32(g.r.Uint32())
}

// i64 returns a boundary or random int64.
func (g *fuzzGen) i64() int64 {
	if g.r.IntN(2) == 0 {
		return interesting64[g.r.IntN(len(interesting64))]
	}
	return int64(g.r.Uint64())
}

// bytes returns n random bytes.
func (g *fuzzGen) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	return b
}

// name returns a topic name: the fuzz topic, or something near or far
// from a valid name.
func (g *fuzzGen) name() string {
	switch g.r.IntN(9) {
	case 0:
		return ""
	case 1:
		return strings.Repeat("n", 240+g.r.IntN(40)) // around Kafka's 249-character limit
	case 2:
		return "__consumer_offsets"
	case 3:
		return string(g.bytes(1 + g.r.IntN(24)))
	case 4:
		b := []byte(fuzzTopic)
		b[g.r.IntN(len(b))] = byte(g.r.Uint32())
		return string(b)
	case 5:
		return ".."
	default:
		return fuzzTopic
	}
}

// partition returns a partition index, valid (0 or 1) most of the time.
func (g *fuzzGen) partition() int32 {
	if g.r.IntN(3) == 0 {
		return g.i32()
	}
	return int32(g.r.IntN(2))
}

// batch returns a valid v2 record batch with a random codec, producer
// fields and records.
func (g *fuzzGen) batch() []byte {
	b := record.NewBuilder()
	b.Codec = compress.Codec(g.r.IntN(5))
	if g.r.IntN(3) == 0 {
		b.ProducerID = g.r.Int64N(5000)
		b.ProducerEpoch = int16(g.r.IntN(3))
		b.BaseSequence = int32(g.r.IntN(8))
		b.Transactional = g.r.IntN(4) == 0
	}
	now := time.Now().UnixMilli()
	for i := range 1 + g.r.IntN(6) {
		var key []byte
		if g.r.IntN(4) != 0 {
			key = fmt.Appendf(nil, "fz-%d", g.r.IntN(100))
		}
		ts := now + int64(i)
		if g.r.IntN(10) == 0 {
			ts = g.i64()
		}
		b.Append(ts, key, g.bytes(g.r.IntN(200)))
	}
	out, err := b.Finish(nil)
	if err != nil {
		return g.bytes(70)
	}
	return out
}

// records returns a Produce partition's records: a valid batch, a mutated
// one, two batches, random bytes, or nothing.
func (g *fuzzGen) records() []byte {
	switch g.r.IntN(8) {
	case 0:
		return nil
	case 1:
		return []byte{}
	case 2:
		return g.mutate(g.batch(), 1+g.r.IntN(4))
	case 3:
		return append(g.batch(), g.batch()...)
	case 4:
		return g.bytes(g.r.IntN(300))
	case 5:
		b := g.batch()
		return b[:g.r.IntN(len(b))]
	default:
		return g.batch()
	}
}

// tags adds random tagged fields to a flexible request now and then.
func (g *fuzzGen) tags(t *kmsg.Tags) {
	if g.r.IntN(6) == 0 {
		t.Set(uint32(g.r.IntN(5)), g.bytes(g.r.IntN(20)))
	}
}

// request returns a request of a served API at a served version. With
// garbage, every field is drawn from valid, boundary and random values;
// without, the request is well-formed and names the fuzz topic.
func (g *fuzzGen) request(garbage bool) kmsg.Request {
	var key int16
	if g.r.IntN(4) == 0 {
		// Any served API, fields filled by reflection.
		keys := make([]int16, 0, len(g.served))
		for k := range g.served {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		key = keys[g.r.IntN(len(keys))]
		if req := kmsg.RequestForKey(key); req != nil && !slices.Contains(structured, key) {
			vr := g.served[key]
			req.SetVersion(vr[0] + int16(g.r.IntN(int(vr[1]-vr[0])+1)))
			if garbage {
				g.fill(reflect.ValueOf(req).Elem(), 0)
			}
			return req
		}
	}
	for {
		key = structured[g.r.IntN(len(structured))]
		if _, ok := g.served[key]; ok {
			break
		}
	}
	vr := g.served[key]
	v := vr[0] + int16(g.r.IntN(int(vr[1]-vr[0])+1))
	pick := func(valid, bad func()) {
		if garbage && g.r.IntN(2) == 0 {
			bad()
		} else {
			valid()
		}
	}
	switch key {
	case 0:
		if !garbage && v < 3 {
			v = 3 + int16(g.r.IntN(7)) // v0-2 need legacy message sets
		}
		req := kmsg.NewPtrProduceRequest()
		req.Version = v
		pick(func() { req.Acks = []int16{-1, 1, 0}[g.r.IntN(3)] }, func() { req.Acks = g.i16() })
		pick(func() { req.TimeoutMillis = 10000 }, func() { req.TimeoutMillis = g.i32() })
		pick(func() {}, func() { req.TransactionID = kmsg.StringPtr(g.name()) })
		for range 1 + g.r.IntN(2) {
			rt := kmsg.NewProduceRequestTopic()
			pick(func() { rt.Topic = fuzzTopic }, func() { rt.Topic = g.name() })
			for range 1 + g.r.IntN(2) {
				rp := kmsg.NewProduceRequestTopicPartition()
				pick(func() { rp.Partition = int32(g.r.IntN(2)) }, func() { rp.Partition = g.partition() })
				pick(func() { rp.Records = g.batch() }, func() { rp.Records = g.records() })
				g.tags(&rp.UnknownTags)
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		g.tags(&req.UnknownTags)
		return req
	case 1:
		req := kmsg.NewPtrFetchRequest()
		req.Version = v
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, int32(g.r.IntN(100)), 1, 1<<20, -1
		pick(func() {}, func() { req.ReplicaID = g.i32() })
		pick(func() {}, func() { req.MinBytes = g.i32() })
		pick(func() {}, func() { req.MaxBytes = g.i32() })
		pick(func() {}, func() { req.IsolationLevel = int8(g.r.Uint32()) })
		pick(func() {}, func() { req.SessionID, req.SessionEpoch = g.i32(), g.i32() })
		pick(func() {}, func() { req.Rack = g.name() })
		for range 1 + g.r.IntN(2) {
			rt := kmsg.NewFetchRequestTopic()
			pick(func() { rt.Topic = fuzzTopic }, func() { rt.Topic = g.name() })
			for range 1 + g.r.IntN(2) {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset, rp.PartitionMaxBytes = int32(g.r.IntN(2)), -1, -1, -1, 1<<20
				pick(func() {}, func() { rp.Partition = g.partition() })
				pick(func() { rp.FetchOffset = g.r.Int64N(50) }, func() { rp.FetchOffset = g.i64() })
				pick(func() {}, func() { rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = g.i32(), g.i32() })
				pick(func() {}, func() { rp.LogStartOffset = g.i64() })
				pick(func() {}, func() { rp.PartitionMaxBytes = g.i32() })
				g.tags(&rp.UnknownTags)
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		pick(func() {}, func() {
			ft := kmsg.NewFetchRequestForgottenTopic()
			ft.Topic, ft.Partitions = g.name(), []int32{g.i32()}
			req.ForgottenTopics = append(req.ForgottenTopics, ft)
		})
		g.tags(&req.UnknownTags)
		return req
	case 2:
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = v
		req.ReplicaID = -1
		pick(func() {}, func() { req.ReplicaID = g.i32() })
		pick(func() {}, func() { req.IsolationLevel = int8(g.r.Uint32()) })
		rt := kmsg.NewListOffsetsRequestTopic()
		pick(func() { rt.Topic = fuzzTopic }, func() { rt.Topic = g.name() })
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.Timestamp = -1, -int64(1+g.r.IntN(3))
		pick(func() {}, func() { rp.Partition = g.partition() })
		pick(func() {}, func() { rp.Timestamp = g.i64() })
		pick(func() {}, func() { rp.CurrentLeaderEpoch, rp.MaxNumOffsets = g.i32(), g.i32() })
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		g.tags(&req.UnknownTags)
		return req
	case 3:
		req := kmsg.NewPtrMetadataRequest()
		req.Version = v
		pick(func() {
			if g.r.IntN(2) == 0 {
				t := kmsg.NewMetadataRequestTopic()
				t.Topic = kmsg.StringPtr(fuzzTopic)
				req.Topics = append(req.Topics, t)
			}
		}, func() {
			for range g.r.IntN(4) {
				t := kmsg.NewMetadataRequestTopic()
				if g.r.IntN(4) != 0 {
					t.Topic = kmsg.StringPtr(g.name())
				}
				if g.r.IntN(4) == 0 {
					copy(t.TopicID[:], g.bytes(16))
				}
				req.Topics = append(req.Topics, t)
			}
		})
		req.AllowAutoTopicCreation = g.r.IntN(2) == 0
		req.IncludeTopicAuthorizedOperations = g.r.IntN(2) == 0
		g.tags(&req.UnknownTags)
		return req
	case 10:
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version = v
		req.CoordinatorKey = "group"
		pick(func() {}, func() { req.CoordinatorKey, req.CoordinatorType = g.name(), int8(g.r.Uint32()) })
		req.CoordinatorKeys = []string{req.CoordinatorKey}
		return req
	case 18:
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "chronik-fuzz", "1.0"
		pick(func() {}, func() { req.ClientSoftwareName, req.ClientSoftwareVersion = g.name(), g.name() })
		g.tags(&req.UnknownTags)
		return req
	default:
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = v
		req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = 60000, -1, -1
		pick(func() {}, func() { req.TransactionalID = kmsg.StringPtr(g.name()) })
		pick(func() {}, func() { req.TransactionTimeoutMillis, req.ProducerID, req.ProducerEpoch = g.i32(), g.i64(), g.i16() })
		g.tags(&req.UnknownTags)
		return req
	}
}

// fill sets every exported field of the request struct v (recursively, a
// few levels deep) to a boundary or random value; fields the request's
// version does not carry are simply not encoded.
func (g *fuzzGen) fill(v reflect.Value, depth int) {
	if depth > 3 {
		return
	}
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() || v.Type().Field(i).Name == "Version" || g.r.IntN(3) == 0 {
			continue // some fields keep their default
		}
		switch f.Kind() {
		case reflect.Bool:
			f.SetBool(g.r.IntN(2) == 0)
		case reflect.Int8:
			f.SetInt(int64(int8(g.r.Uint32())))
		case reflect.Int16:
			f.SetInt(int64(g.i16()))
		case reflect.Int32:
			f.SetInt(int64(g.i32()))
		case reflect.Int64:
			f.SetInt(g.i64())
		case reflect.Uint32:
			f.SetUint(uint64(g.r.Uint32()))
		case reflect.String:
			f.SetString(g.name())
		case reflect.Array:
			if f.Type().Elem().Kind() == reflect.Uint8 {
				reflect.Copy(f, reflect.ValueOf(g.bytes(f.Len())))
			}
		case reflect.Pointer:
			if f.Type().Elem().Kind() == reflect.String && g.r.IntN(2) == 0 {
				name := g.name()
				f.Set(reflect.ValueOf(&name))
			}
		case reflect.Slice:
			switch el := f.Type().Elem(); el.Kind() {
			case reflect.Uint8:
				f.SetBytes(g.bytes(g.r.IntN(100)))
			case reflect.String:
				f.Set(reflect.ValueOf([]string{g.name()}))
			case reflect.Int32:
				f.Set(reflect.ValueOf([]int32{g.i32()}))
			case reflect.Struct:
				n := g.r.IntN(3)
				sl := reflect.MakeSlice(f.Type(), n, n)
				for j := range n {
					if d, ok := sl.Index(j).Addr().Interface().(interface{ Default() }); ok {
						d.Default()
					}
					g.fill(sl.Index(j), depth+1)
				}
				f.Set(sl)
			}
		case reflect.Struct:
			g.fill(f, depth+1)
		}
	}
}

// corr returns a correlation id unique within a case.
func (g *fuzzGen) corr(c *fuzzCase) int32 {
	for {
		id := int32(g.r.Uint32() >> 1)
		if !c.used[id] {
			g.reserve(c, id)
			return id
		}
	}
}

// reserve marks id as given out in c.
func (g *fuzzGen) reserve(c *fuzzCase, id int32) {
	if c.used == nil {
		c.used = map[int32]bool{}
	}
	c.used[id] = true
}

// header appends a request header (v1, or v2 when flexible) by hand, so
// that any key and version can be written.
func header(dst []byte, key, version int16, corr int32, flexible bool) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(key))
	dst = binary.BigEndian.AppendUint16(dst, uint16(version))
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	const client = "chronik-fuzz"
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(client)))
	dst = append(dst, client...)
	if flexible {
		dst = append(dst, 0)
	}
	return dst
}

// encode frames req (header and body, size prefix included).
func encode(req kmsg.Request, corr int32) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0)
	b = header(b, req.Key(), req.GetVersion(), corr, req.IsFlexible())
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// mutate applies n random byte-level mutations to a copy of b.
func (g *fuzzGen) mutate(b []byte, n int) []byte {
	b = bytes.Clone(b)
	for range n {
		if len(b) == 0 {
			b = append(b, g.bytes(1+g.r.IntN(8))...)
			continue
		}
		i := g.r.IntN(len(b))
		switch g.r.IntN(8) {
		case 0:
			b[i] ^= 1 << g.r.IntN(8)
		case 1:
			b[i] = []byte{0, 0xff, 0x7f, 0x80, 1}[g.r.IntN(5)]
		case 2:
			if i+2 <= len(b) {
				binary.BigEndian.PutUint16(b[i:], uint16(g.i16()))
			}
		case 3:
			if i+4 <= len(b) {
				binary.BigEndian.PutUint32(b[i:], uint32(g.i32()))
			}
		case 4:
			b = append(b[:i], append(g.bytes(1+g.r.IntN(16)), b[i:]...)...)
		case 5:
			b = append(b[:i], b[min(len(b), i+1+g.r.IntN(16)):]...)
		case 6:
			b = b[:i]
		default:
			b = append(b, g.bytes(1+g.r.IntN(64))...)
		}
	}
	return b
}

// clampLongPoll rewrites the max_wait_ms of a well-framed Fetch v4-v12
// request to at most 100 ms, so that a short run never waits out a long
// poll (the broker caps them at 30 s).
func clampLongPoll(f []byte) {
	if len(f) < 4 || int(binary.BigEndian.Uint32(f)) != len(f)-4 {
		return
	}
	hdr, body, err := wire.ParseRequestHeader(f[4:])
	if err != nil || hdr.APIKey != 1 || hdr.APIVersion < 4 || hdr.APIVersion > 12 || len(body) < 8 {
		return
	}
	if int32(binary.BigEndian.Uint32(body[4:])) > 100 || int32(binary.BigEndian.Uint32(body[4:])) < 0 {
		binary.BigEndian.PutUint32(body[4:], 100)
	}
}

// add appends one frame's bytes to the case. req is the request f
// encodes, nil for a malformed frame; mustAnswer marks a well-formed request
// that no malformed frame precedes.
func (c *fuzzCase) add(f []byte, req kmsg.Request, mustAnswer bool) {
	if req != nil {
		if c.built == nil {
			c.built = map[int]builtFrame{}
		}
		c.built[len(c.data)] = builtFrame{req, len(f)}
	}
	c.data = append(c.data, f...)
	if mustAnswer && c.must == c.frames {
		c.must++
	}
	c.frames++
}

// eachFrame calls fn for each frame of data as the broker reads them: a size
// prefix, then that many bytes. It stops at a size the broker refuses or
// that the data does not fill.
func eachFrame(data []byte, fn func(pos int, f []byte)) {
	for pos := 0; pos+4 <= len(data); {
		n := int(int32(binary.BigEndian.Uint32(data[pos:])))
		if n < 0 || n > fuzzMaxFrameBytes || pos+4+n > len(data) {
			return
		}
		fn(pos, data[pos:pos+4+n])
		pos += 4 + n
	}
}

// finish clamps long polls (unless allowed) and derives corrs and reqs from
// the bytes as the broker will frame them.
func (c *fuzzCase) finish(clamp bool) {
	c.corrs, c.reqs = nil, nil
	eachFrame(c.data, func(pos int, f []byte) {
		if clamp {
			clampLongPoll(f)
		}
		if len(f) < 12 { // size, key, version, correlation id
			return
		}
		c.corrs = append(c.corrs, int32(binary.BigEndian.Uint32(f[8:])))
		var req kmsg.Request
		if b, ok := c.built[pos]; ok && b.n == len(f) {
			req = b.req
		}
		c.reqs = append(c.reqs, req)
	})
}

// fuzzKinds names the generators of build.
var fuzzKinds = []string{
	"length-negative", "length-huge", "length-lies", "length-tiny", "header-truncated",
	"unknown-key", "bad-version", "garbage-body", "garbage-fields", "mutated-body",
	"mutated-frame", "pipeline", "valid",
}

// build generates one case of a random kind; next finishes it.
func (g *fuzzGen) build() fuzzCase {
	c := fuzzCase{kind: fuzzKinds[g.r.IntN(len(fuzzKinds))]}
	switch c.kind {
	case "length-negative":
		c.data = binary.BigEndian.AppendUint32(nil, uint32([]int32{-1, math.MinInt32, -g.r.Int32N(1 << 20)}[g.r.IntN(3)]|math.MinInt32))
		c.data = append(c.data, g.bytes(g.r.IntN(64))...)
	case "length-huge":
		n := fuzzMaxFrameBytes + 1 + g.r.Int64N(math.MaxInt32-fuzzMaxFrameBytes)
		c.data = binary.BigEndian.AppendUint32(nil, uint32(n))
		c.data = append(c.data, encode(g.request(false), g.corr(&c))[4:]...)
	case "length-lies":
		// A size prefix the bytes that follow do not fill before EOF.
		f := encode(g.request(false), g.corr(&c))
		claim := len(f) - 4 + 1 + g.r.IntN(fuzzMaxFrameBytes-len(f))
		binary.BigEndian.PutUint32(f, uint32(claim))
		c.data = f
	case "length-tiny":
		n := g.r.IntN(10)
		c.data = binary.BigEndian.AppendUint32(nil, uint32(n))
		c.data = append(c.data, g.bytes(n)...)
	case "header-truncated":
		f := encode(g.request(false), g.corr(&c))
		hl := 4 + 10 + len("chronik-fuzz")
		f = f[:4+g.r.IntN(hl-4)]
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		c.data = f
	case "unknown-key":
		key := int16(g.r.Uint32())
		for _, ok := g.served[key]; ok; _, ok = g.served[key] {
			key = int16(g.r.Uint32())
		}
		if g.r.IntN(2) == 0 {
			key = int16(g.r.IntN(100)) // a real Kafka API the broker does not serve
			if _, ok := g.served[key]; ok {
				key = 100 + key
			}
		}
		f := binary.BigEndian.AppendUint32(nil, 0)
		f = header(f, key, g.i16(), g.corr(&c), g.r.IntN(2) == 0)
		f = append(f, g.bytes(g.r.IntN(256))...)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		c.add(f, nil, false)
	case "bad-version":
		req := g.request(false)
		vr := g.served[req.Key()]
		v := g.i16()
		for v >= vr[0] && v <= vr[1] {
			v = g.i16()
		}
		body := req.AppendTo(nil)
		req.SetVersion(v)
		f := binary.BigEndian.AppendUint32(nil, 0)
		f = header(f, req.Key(), v, g.corr(&c), g.r.IntN(2) == 0)
		f = append(f, body...)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		c.add(f, nil, false)
	case "garbage-body":
		req := g.request(false)
		n := g.r.IntN(512)
		if g.r.IntN(20) == 0 {
			n = 64<<10 + g.r.IntN(1<<20)
		}
		f := binary.BigEndian.AppendUint32(nil, 0)
		f = header(f, req.Key(), req.GetVersion(), g.corr(&c), req.IsFlexible())
		f = append(f, g.bytes(n)...)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		c.add(f, nil, false)
	case "garbage-fields":
		req := g.request(true)
		c.add(encode(req, g.corr(&c)), req, false)
	case "mutated-body":
		req := g.request(g.r.IntN(3) == 0)
		f := encode(req, g.corr(&c))
		hl := len(f) - len(req.AppendTo(nil))
		f = append(f[:hl], g.mutate(f[hl:], 1+g.r.IntN(6))...)
		binary.BigEndian.PutUint32(f, uint32(len(f)-4))
		c.add(f, nil, false)
	case "mutated-frame":
		c.data = g.mutate(encode(g.request(false), g.corr(&c)), 1+g.r.IntN(4))
	case "pipeline":
		// Well-formed requests, then a malformed one, then more: the first
		// ones must be answered before the broker gives up on the
		// connection.
		for range 1 + g.r.IntN(3) {
			req := g.request(false)
			if p, ok := req.(*kmsg.ProduceRequest); ok {
				p.Acks = -1
			}
			c.add(encode(req, g.corr(&c)), req, true)
		}
		bad := g.build()
		for bad.kind == "valid" || bad.kind == "pipeline" {
			bad = g.build()
		}
		c.inner = bad.kind
		for pos, b := range bad.built {
			if c.built == nil {
				c.built = map[int]builtFrame{}
			}
			c.built[len(c.data)+pos] = b
		}
		c.data = append(c.data, bad.data...)
		for id := range bad.used {
			g.reserve(&c, id)
		}
		for range g.r.IntN(3) {
			req := g.request(false)
			c.add(encode(req, g.corr(&c)), req, false)
		}
	case "valid":
		req := g.request(false)
		if p, ok := req.(*kmsg.ProduceRequest); ok {
			p.Acks = -1
		}
		c.add(encode(req, g.corr(&c)), req, true)
	}
	return c
}

// next builds input number i of the run: the bytes, with long polls
// clamped unless allowed, and what the broker may answer.
func (g *fuzzGen) next() fuzzCase {
	c := g.build()
	c.finish(!g.longPolls || g.r.IntN(50) != 0)
	return c
}

// fuzzOutcome is what one case's connection did.
type fuzzOutcome struct {
	answered int  // response frames read
	closed   bool // the broker closed the connection (EOF or reset)
	reset    bool // the close was a reset (the broker closed with input unread)
}

// lostResponsesError is a connection that the broker reset, after a
// malformed frame, before the responses to the well-formed requests sent
// ahead of it arrived: the reset discards what the broker's socket had not
// yet delivered (see RELIABILITY.md, "responses before a malformed frame").
type lostResponsesError struct {
	wellFormed, answered int
}

func (e *lostResponsesError) Error() string {
	return fmt.Sprintf("%d well-formed requests before the first bad one, %d answered before the broker reset the connection", e.wellFormed, e.answered)
}

// run sends c on a fresh connection to addr, half-closes it, and reads
// until the broker closes it. It fails if a response is malformed or
// answers no pending request, if a well-formed request before the first bad
// one goes unanswered (a *lostResponsesError when a reset cut the
// responses off), or if the connection is still open after the deadline.
func (c *fuzzCase) run(addr string) (fuzzOutcome, error) {
	var out fuzzOutcome
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return out, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(fuzzConnDeadline))
	// Write errors are fine: the broker may close the connection at the
	// first bad frame, before reading the rest.
	if _, err := conn.Write(c.data); err == nil {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	next := 0 // index in c.corrs of the next id a response may carry
	var size [4]byte
	// closedBy tells a close (EOF or reset) from a failure.
	closedBy := func(err error) (bool, error) {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return false, fmt.Errorf("connection neither answered nor closed within %v (%d responses read)", fuzzConnDeadline, out.answered)
		case isReset(err):
			out.closed, out.reset = true, true
			return true, nil
		case errors.Is(err, io.EOF):
			out.closed = true
			return true, nil
		}
		return false, err
	}
	for {
		if _, err := io.ReadFull(conn, size[:]); err != nil {
			if ok, err := closedBy(err); !ok {
				return out, fmt.Errorf("read response size: %w", err)
			}
			break
		}
		n := int(int32(binary.BigEndian.Uint32(size[:])))
		if n < 4 || n > fuzzMaxResponse {
			return out, fmt.Errorf("response frame of %d bytes", n)
		}
		resp := make([]byte, n)
		if _, err := io.ReadFull(conn, resp); err != nil {
			if ok, cerr := closedBy(err); !ok || !out.reset {
				return out, fmt.Errorf("response frame of %d bytes cut short: %w", n, errors.Join(err, cerr))
			}
			break // a reset discarded the rest of the response
		}
		id := int32(binary.BigEndian.Uint32(resp))
		j := next
		for j < len(c.corrs) && c.corrs[j] != id {
			j++
		}
		if j == len(c.corrs) {
			return out, fmt.Errorf("response with correlation id %d, expected one of %v", id, c.corrs[next:])
		}
		if j > next && next < c.must {
			return out, fmt.Errorf("the request with correlation id %d was skipped although well-formed", c.corrs[next])
		}
		if req := c.reqs[j]; req != nil {
			if err := decodeResponse(req, resp); err != nil {
				return out, fmt.Errorf("response to %s v%d (correlation id %d): %w", wire.APIName(req.Key()), req.GetVersion(), id, err)
			}
		}
		next = j + 1
		out.answered++
	}
	if next < c.must {
		if out.reset {
			return out, &lostResponsesError{c.must, next}
		}
		return out, fmt.Errorf("%d well-formed requests before the first bad one, %d answered", c.must, next)
	}
	return out, nil
}

// decodeResponse checks that frame (a response frame without its size
// prefix) decodes as the response to req, header included, with nothing
// left over.
func decodeResponse(req kmsg.Request, frame []byte) error {
	_, body, err := wire.ParseResponseHeader(frame, wire.ResponseHeaderFlexible(req.Key(), req.GetVersion()))
	if err != nil {
		return err
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	return resp.ReadFrom(body)
}

// isReset reports a connection reset by the peer, which is how a close
// with unread input arrives.
func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe")
}

// healthyProducer produces small batches with franz-go (idempotent,
// acks=all) until stop, and records every failure and the longest wait.
type healthyProducer struct {
	mu      sync.Mutex // guards the fields below
	acked   int
	errs    []error
	maxWait time.Duration
	values  map[string]bool // values of the acknowledged records
}

// run produces 5 records every 20 ms with ProduceSync until stop.
func (h *healthyProducer) run(ctx context.Context, cl *kgo.Client, stop <-chan struct{}) {
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		case <-time.After(20 * time.Millisecond):
		}
		recs := make([]*kgo.Record, 5)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: healthyTopic, Key: []byte("h"), Value: fmt.Appendf(nil, "healthy-%d-%d", n, i)}
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		res := cl.ProduceSync(pctx, recs...)
		cancel()
		took := time.Since(start)
		h.mu.Lock()
		h.maxWait = max(h.maxWait, took)
		for _, r := range res {
			if r.Err != nil {
				h.errs = append(h.errs, r.Err)
			} else {
				h.acked++
				h.values[string(r.Record.Value)] = true
			}
		}
		h.mu.Unlock()
	}
}

// TestNetworkFuzz sends malformed and well-formed frames over many
// connections to a live broker (seeded, bounded by -inputs and -duration)
// while 64 other connections sit idle or mid-frame and a franz-go producer
// keeps producing. It checks that:
//
//   - every fuzzed connection is answered with well-formed responses to
//     its requests, or closed, within 45 s (Kafka closes a connection whose
//     frame it cannot parse; a Fetch long poll may take 30 s);
//   - well-formed requests sent before a malformed one are answered: the
//     broker delivers them before it closes the connection (defect D1 in
//     RELIABILITY.md, fixed);
//   - the healthy producer never fails, and everything it was acknowledged
//     is readable afterwards;
//   - the broker never panics or exits, stops cleanly on SIGTERM, and its
//     RSS grows by less than 64 MiB over the run.
//
// The broker runs with topic auto-creation off, so that fuzzed Metadata
// requests cannot create topics without bound.
func TestNetworkFuzz(t *testing.T) {
	t.Parallel()
	bin := brokerBinary(t)
	_, seed := newRand(t)
	limit := duration(5*time.Second, 3*time.Minute)
	maxInputs := *flagInputs
	if maxInputs <= 0 {
		maxInputs = longOr(3000, 500000)
	}
	dir := testDir(t, "netfuzz")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", filepath.Join(dir, "data"), "-auto-create-topics=false", "-log-level", "info"}
	proc, err := startBroker(ctx, brokerCmd{bin: bin, args: args}, openLog(t, dir), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if proc.alive() {
			proc.kill()
		}
	}()
	for _, topic := range []string{fuzzTopic, healthyTopic} {
		if err := createTopic(ctx, proc.kafka, topic, 2, nil); err != nil {
			t.Fatal(err)
		}
	}
	served, err := servedAPIs(ctx, proc.kafka)
	if err != nil {
		t.Fatal(err)
	}

	// The healthy client, and connections that stay idle or mid-frame.
	hcl, err := newClient(proc.kafka, kgo.DefaultProduceTopic(healthyTopic), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer hcl.Close()
	healthy := &healthyProducer{values: map[string]bool{}}
	stopHealthy := make(chan struct{})
	var hwg sync.WaitGroup
	hwg.Add(1)
	go func() { // owned by the test: ends when stopHealthy is closed
		defer hwg.Done()
		healthy.run(ctx, hcl, stopHealthy)
	}()
	var idle []net.Conn
	for i := range fuzzIdleConns {
		conn, err := net.DialTimeout("tcp", proc.kafka, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
		if i%2 == 1 {
			// A frame announcing 1 KiB of which 10 bytes come.
			_, _ = conn.Write(append(binary.BigEndian.AppendUint32(nil, 1024), make([]byte, 10)...))
		}
	}
	time.Sleep(time.Second)
	rssBefore, err := readRSS(proc.pid())
	if err != nil {
		t.Fatal(err)
	}
	sampler := sampleRSS(proc.pid(), 100*time.Millisecond)

	type failure struct {
		i    int
		c    fuzzCase
		err  error
		file string
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex // guards the fields below
		failures  []failure
		kinds     = map[string]int{}
		answered  int
		closed    int
		sentBytes int64
		// lostResponses counts connections reset before the responses to
		// their well-formed requests arrived (each is also a failure).
		lostResponses int
	)
	deadline := time.Now().Add(limit)
	var wg sync.WaitGroup
	for range fuzzWorkers {
		wg.Add(1)
		go func() { // owned by the test: ends at the deadline or input limit
			defer wg.Done()
			for time.Now().Before(deadline) && proc.alive() {
				i := int(next.Add(1)) - 1
				if i >= maxInputs {
					return
				}
				gi := i
				if *flagReplay >= 0 {
					gi = *flagReplay
				}
				g := &fuzzGen{r: rand.New(rand.NewPCG(seed, uint64(gi))), served: served, longPolls: *flagLong}
				c := g.next()
				out, err := c.run(proc.kafka)
				mu.Lock()
				kinds[c.kind]++
				answered += out.answered
				sentBytes += int64(len(c.data))
				if out.closed {
					closed++
				}
				var lost *lostResponsesError
				if errors.As(err, &lost) {
					lostResponses++
				}
				if err != nil {
					f := failure{i: i, c: c, err: err, file: filepath.Join(dir, fmt.Sprintf("input-%d.bin", i))}
					_ = os.WriteFile(f.file, c.data, 0o644)
					failures = append(failures, f)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	inputs := int(min(next.Load(), int64(maxInputs)))
	if !proc.alive() {
		t.Fatalf("the broker exited during the run (%v):\n%s", proc.waitErr, proc.tail())
	}
	for _, c := range idle {
		c.Close()
	}
	close(stopHealthy)
	hwg.Wait()

	sort.Slice(failures, func(i, j int) bool { return failures[i].i < failures[j].i })
	for _, f := range failures[:min(len(failures), 10)] {
		kind := f.c.kind
		if f.c.inner != "" {
			kind += " with " + f.c.inner
		}
		t.Errorf("input %d (%s; replay with -seed %d -replay %d): %v\nfirst bytes: %s\nall bytes: %s", f.i, kind, seed, f.i, f.err, hex.EncodeToString(f.c.data[:min(len(f.c.data), 96)]), f.file)
	}
	if len(failures) > 10 {
		t.Errorf("... and %d more failed inputs", len(failures)-10)
	}

	healthy.mu.Lock()
	herrs, hacked, hwait := healthy.errs, healthy.acked, healthy.maxWait
	hvalues := healthy.values
	healthy.mu.Unlock()
	for _, err := range herrs[:min(len(herrs), 5)] {
		t.Errorf("healthy producer failed during the run: %v", err)
	}
	if hacked == 0 {
		t.Error("the healthy producer got no acknowledgement during the run")
	}
	hw, err := highWatermarks(ctx, hcl, healthyTopic, 2)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
	err = consumeAll(cctx, proc.kafka, healthyTopic, hw, func(r *kgo.Record) error {
		if hvalues[string(r.Value)] {
			found++
		}
		return nil
	})
	ccancel()
	if err != nil {
		t.Fatal(err)
	}
	if found != hacked {
		t.Errorf("the healthy producer was acknowledged %d records; %d of them are stored", hacked, found)
	}

	time.Sleep(time.Second) // let the connections' goroutines end
	rssAfter, err := readRSS(proc.pid())
	if err != nil {
		t.Fatal(err)
	}
	rssMax, samples, serr := sampler.stopRSS()
	if serr != nil {
		t.Fatal(serr)
	}
	if grow := rssAfter - rssBefore; grow > fuzzRSSGrowth {
		t.Errorf("broker RSS grew from %s to %s over the run (bound: %s)", mib(rssBefore), mib(rssAfter), mib(fuzzRSSGrowth))
	}
	if err := proc.terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
	if lines := proc.panics(); len(lines) > 0 {
		t.Fatalf("the broker logged a panic:\n%s", strings.Join(lines, "\n"))
	}
	var ks []string
	for k, n := range kinds {
		ks = append(ks, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(ks)
	t.Logf("RESULT network-fuzz: %d inputs (%s of frames) over %d connections plus %d idle in %v; %d responses, %d connections closed by the broker, %d inputs failed; healthy producer: %d records acknowledged, %d failures, longest wait %v, %d acknowledged records read back; RSS %s before, %s after, %s max (%d samples)",
		inputs, mib(sentBytes), inputs, fuzzIdleConns, limit, answered, closed, len(failures), hacked, len(herrs), hwait.Round(time.Millisecond), found, mib(rssBefore), mib(rssAfter), mib(rssMax.RSS), samples)
	t.Logf("inputs by kind: %s", strings.Join(ks, ", "))
	if lostResponses > 0 {
		t.Errorf("%d connections lost responses to well-formed requests sent before a malformed frame", lostResponses)
	}
}

// TestResponsesBeforeMalformedFrame pins down the defect the network fuzzer
// counts as lost responses: a client pipelines five well-formed Fetch
// requests (about 60 KiB of response each), then a frame with an API key
// the broker does not serve, then a few more bytes, and reads only after a
// moment. The broker answers the Fetches and closes the connection at the
// bad frame, as Kafka does; but it closes with the trailing bytes unread,
// so the kernel resets the connection and discards the responses still in
// its send buffer. Kafka clients lose answers to requests the broker did
// process.
//
// Every response must be delivered, complete and well-formed, and each
// connection must end: the broker half-closes and drains the client's
// input before it closes (produce.ServeConn's lingering close; defect D1
// in RELIABILITY.md).
func TestResponsesBeforeMalformedFrame(t *testing.T) {
	t.Parallel()
	bin := brokerBinary(t)
	dir := testDir(t, "close")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	args := []string{"-listen", "127.0.0.1:0", "-http", "none", "-data", filepath.Join(dir, "data"), "-log-level", "info"}
	proc, err := startBroker(ctx, brokerCmd{bin: bin, args: args}, openLog(t, dir), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if proc.alive() {
			proc.kill()
		}
	}()
	const topic = "big"
	if err := createTopic(ctx, proc.kafka, topic, 1, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(proc.kafka, kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, 100)
	for i := range recs {
		recs[i] = &kgo.Record{Value: bytes.Repeat([]byte{'v'}, 10_000)}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	const tries, fetches = 10, 5
	var c fuzzCase
	for i := range fetches {
		req := kmsg.NewPtrFetchRequest()
		req.Version = 11
		req.ReplicaID, req.MaxBytes, req.SessionEpoch = -1, 1<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 1<<20, -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		c.add(encode(req, int32(100+i)), req, true)
	}
	bad := binary.BigEndian.AppendUint32(nil, 0)
	bad = header(bad, 99, 0, 999, false)
	binary.BigEndian.PutUint32(bad, uint32(len(bad)-4))
	c.add(bad, nil, false)
	c.data = append(c.data, make([]byte, 100)...)
	c.finish(false)

	lost := 0
	for range tries {
		conn, err := net.DialTimeout("tcp", proc.kafka, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(c.data); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // a client busy elsewhere reads late
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		answered := 0
		for answered < fetches {
			var size [4]byte
			if _, err := io.ReadFull(conn, size[:]); err != nil {
				if !isReset(err) && !errors.Is(err, io.EOF) {
					t.Fatalf("after %d responses: %v", answered, err)
				}
				break
			}
			resp := make([]byte, binary.BigEndian.Uint32(size[:]))
			if _, err := io.ReadFull(conn, resp); err != nil {
				if !isReset(err) {
					t.Fatalf("response %d cut short without a reset: %v", answered+1, err)
				}
				break
			}
			if id := int32(binary.BigEndian.Uint32(resp)); id != c.corrs[answered] {
				t.Fatalf("response %d has correlation id %d, want %d", answered+1, id, c.corrs[answered])
			}
			if err := decodeResponse(c.reqs[answered], resp); err != nil {
				t.Fatalf("response %d: %v", answered+1, err)
			}
			answered++
		}
		if answered == fetches {
			// All answered: the connection must still end, at the bad frame.
			var b [1]byte
			if _, err := conn.Read(b[:]); err == nil {
				t.Fatal("the broker answered the frame with an unserved API key instead of closing")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the broker neither answered nor closed after the unserved API key")
			}
		}
		conn.Close()
		lost += fetches - answered
	}
	if lost > 0 {
		t.Errorf("%d of %d Fetch responses sent before the malformed frame were lost to the connection reset", lost, tries*fetches)
	}
	if err := proc.terminate(time.Minute); err != nil {
		t.Fatal(err)
	}
}
