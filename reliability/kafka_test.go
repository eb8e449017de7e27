package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/record"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientOpts are the options every franz-go client of the harness starts
// from: short, flat retry backoffs, so that clients find a restarted broker
// quickly, and short dial timeouts.
func clientOpts(addr string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RetryBackoffFn(func(tries int) time.Duration {
			return min(time.Duration(tries)*25*time.Millisecond, 250*time.Millisecond)
		}),
		kgo.DialTimeout(3 * time.Second),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}
}

// newClient returns a franz-go client for addr with clientOpts and opts.
func newClient(addr string, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(clientOpts(addr), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("franz-go client: %w", err)
	}
	return cl, nil
}

// createTopic creates a topic through CreateTopics with the configs.
func createTopic(ctx context.Context, addr, name string, partitions int32, configs map[string]string) error {
	cl, err := newClient(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("create topic %s: %d topics in the response", name, len(resp.Topics))
	}
	if code := resp.Topics[0].ErrorCode; code != 0 {
		return fmt.Errorf("create topic %s: error %d (%v)", name, code, resp.Topics[0].ErrorMessage)
	}
	return nil
}

// highWatermarks returns the high watermark of partitions 0..n-1 of topic
// from ListOffsets (timestamp -1).
func highWatermarks(ctx context.Context, cl *kgo.Client, topic string, n int32) ([]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range n {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets %s: %w", topic, err)
	}
	out := make([]int64, n)
	seen := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return nil, fmt.Errorf("list offsets %s/%d: error %d", topic, p.Partition, p.ErrorCode)
			}
			if p.Partition < 0 || p.Partition >= n {
				return nil, fmt.Errorf("list offsets %s: unexpected partition %d", topic, p.Partition)
			}
			out[p.Partition] = p.Offset
			seen++
		}
	}
	if seen != int(n) {
		return nil, fmt.Errorf("list offsets %s: %d of %d partitions answered", topic, seen, n)
	}
	return out, nil
}

// batchScan is what scanFetched found below a partition's high watermark.
type batchScan struct {
	Batches       int
	Records       int64
	ControlRanges [][2]int64 // [first, last] offsets of control batches
}

// scanFetched reads partition p of topic from offset 0 to hwm with raw
// Fetch requests and checks every batch a consumer is served: a v2 batch
// whose CRC-32C holds, each starting right after the previous one (no
// offset gap, no overlap), the last ending exactly at hwm.
func scanFetched(ctx context.Context, cl *kgo.Client, topic string, p int32, hwm int64) (batchScan, error) {
	var sc batchScan
	next := int64(0)
	for next < hwm {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 0, 0, 8<<20, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = p, next, 8<<20, -1, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return sc, fmt.Errorf("fetch %s/%d@%d: %w", topic, p, next, err)
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return sc, fmt.Errorf("fetch %s/%d@%d: malformed response", topic, p, next)
		}
		rp0 := resp.Topics[0].Partitions[0]
		if rp0.ErrorCode != 0 {
			return sc, fmt.Errorf("fetch %s/%d@%d: error %d (%v)", topic, p, next, rp0.ErrorCode, errcode.Code(rp0.ErrorCode))
		}
		b := rp0.RecordBatches
		progressed := false
		for len(b) >= record.HeaderSize {
			h := record.ReadHeader(b)
			if h.Size() > len(b) {
				break // a partial batch at the end of a fetch: read it next time
			}
			switch {
			case h.Magic != 2:
				return sc, fmt.Errorf("fetch %s/%d: batch at %d has magic %d", topic, p, h.BaseOffset, h.Magic)
			case !record.CRCValid(b[:h.Size()]):
				return sc, fmt.Errorf("fetch %s/%d: batch at %d fails its CRC-32C", topic, p, h.BaseOffset)
			case h.BaseOffset != next:
				return sc, fmt.Errorf("fetch %s/%d: batch at %d, expected %d (offset gap or overlap)", topic, p, h.BaseOffset, next)
			}
			sc.Batches++
			if h.Control() {
				sc.ControlRanges = append(sc.ControlRanges, [2]int64{h.BaseOffset, h.LastOffset()})
			} else {
				sc.Records += int64(h.NumRecords)
			}
			next = h.LastOffset() + 1
			progressed = true
			b = b[h.Size():]
		}
		if !progressed {
			return sc, fmt.Errorf("fetch %s/%d@%d: no complete batch below the high watermark %d", topic, p, next, hwm)
		}
	}
	if next != hwm {
		return sc, fmt.Errorf("fetch %s/%d: batches end at %d, high watermark %d", topic, p, next, hwm)
	}
	return sc, nil
}

// consumeAll reads every partition of topic from offset 0 up to its end
// offset in ends with a franz-go consumer (which checks each batch's CRC)
// and calls fn for each record, control records included, in offset order
// per partition.
func consumeAll(ctx context.Context, addr, topic string, ends []int64, fn func(*kgo.Record) error) error {
	parts := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			parts[int32(p)] = kgo.NewOffset().At(0)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	cl, err := newClient(addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.FetchMaxBytes(32<<20),
		kgo.FetchMaxPartitionBytes(4<<20),
		kgo.KeepControlRecords(),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	next := make([]int64, len(ends))
	remaining := len(parts)
	for remaining > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consume %s: %v, at offsets %v of %v", topic, err, next, ends)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("consume %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var rerr error
		fs.EachRecord(func(r *kgo.Record) {
			if rerr != nil {
				return
			}
			if r.Offset >= ends[r.Partition] || r.Offset < next[r.Partition] {
				return // past the snapshot of the end, or a replay
			}
			next[r.Partition] = r.Offset + 1
			if next[r.Partition] == ends[r.Partition] {
				remaining--
			}
			rerr = fn(r)
		})
		if rerr != nil {
			return rerr
		}
	}
	return nil
}

// keyLookup is the JSON answer of the broker's GET /{topic}/_key/{key}.
type keyLookup struct {
	Records []struct {
		Partition int32           `json:"partition"`
		Offset    int64           `json:"offset"`
		Key       string          `json:"key"`
		Value     json.RawMessage `json:"value"`
	} `json:"records"`
}

// lookupKey asks the broker's HTTP key lookup for key in one partition.
func lookupKey(ctx context.Context, httpAddr, topic string, partition int32, key string) (keyLookup, error) {
	var out keyLookup
	u := fmt.Sprintf("http://%s/%s/_key/%s?partition=%d", httpAddr, url.PathEscape(topic), url.PathEscape(key), partition)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return out, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return out, fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, fmt.Errorf("GET %s: %w", u, err)
	}
	return out, nil
}

// scrapeCounters reads the broker's Prometheus /metrics and returns every
// sample whose metric name starts with prefix, keyed by the sample's name
// and labels as printed.
func scrapeCounters(ctx context.Context, httpAddr, prefix string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err == nil {
			out[line[:i]] = v
		}
	}
	return out, nil
}

// percentiles returns the given quantiles (0..1) of ds, which it sorts.
func percentiles(ds []time.Duration, qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if len(ds) == 0 {
		return out
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	for i, q := range qs {
		out[i] = ds[min(len(ds)-1, int(q*float64(len(ds))))]
	}
	return out
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// indexRow is one topic of the search API's GET /_cat/indices?format=json.
type indexRow struct {
	Index      string `json:"index"`
	DocsCount  string `json:"docs.count"`
	LagRecords string `json:"indexing.lag.records"`
}

// searchIndexes returns the broker's searchable topics by name.
func searchIndexes(ctx context.Context, httpAddr string) (map[string]indexRow, error) {
	var rows []indexRow
	if err := getJSON(ctx, "http://"+httpAddr+"/_cat/indices?format=json", &rows); err != nil {
		return nil, err
	}
	out := map[string]indexRow{}
	for _, r := range rows {
		out[r.Index] = r
	}
	return out, nil
}

// searchDoc is the search API's GET /{topic}/_doc/{partition}-{offset}.
type searchDoc struct {
	Found     bool    `json:"found"`
	Partition int32   `json:"_partition"`
	Offset    int64   `json:"_offset"`
	Key       *string `json:"_key"`
}

// getDoc fetches one record from the search index by its id.
func getDoc(ctx context.Context, httpAddr, topic string, partition int32, offset int64) (searchDoc, error) {
	var d searchDoc
	u := fmt.Sprintf("http://%s/%s/_doc/%d-%d", httpAddr, url.PathEscape(topic), partition, offset)
	err := getJSON(ctx, u, &d, http.StatusNotFound)
	return d, err
}

// getJSON decodes the JSON answer of GET u into v; statuses besides 200
// that carry an answer to decode may be listed.
func getJSON(ctx context.Context, u string, v any, also ...int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK && !slices.Contains(also, resp.StatusCode) {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
