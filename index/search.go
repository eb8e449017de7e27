package index

import (
	"context"
	"encoding/json"
	"sort"
	"time"
	"unicode/utf8"
)

// Searcher answers searches in Elasticsearch's response shape: it runs the
// query on the Indexer and reads each hit's record back from the log.
type Searcher struct {
	Indexer Indexer
	// Sources reads hits' records; nil leaves _source, _key and the
	// record's headers out (and the index's own offsets are trusted).
	Sources SourceReader
	// Topics tells which topics exist and how many partitions they have;
	// nil searches whatever the index holds.
	Topics Topics
}

// SearchResponse is Elasticsearch's search response.
type SearchResponse struct {
	Took     int64      `json:"took"`
	TimedOut bool       `json:"timed_out"`
	Shards   ShardsInfo `json:"_shards"`
	Hits     SearchHits `json:"hits"`
}

// ShardsInfo reports the partitions searched (Elasticsearch's shards).
type ShardsInfo struct {
	Total      int `json:"total"`
	Successful int `json:"successful"`
	Skipped    int `json:"skipped"`
	Failed     int `json:"failed"`
}

// SearchHits is the hits section of a response.
type SearchHits struct {
	Total    TotalHits   `json:"total"`
	MaxScore *float64    `json:"max_score"` // null when sorted by fields, for size 0, or without hits
	Hits     []SearchHit `json:"hits"`
}

// TotalHits is the exact number of matches.
type TotalHits struct {
	Value    int64  `json:"value"`
	Relation string `json:"relation"` // always "eq": totals are exact
}

// SearchHit is one hit: where the record is and what it holds.
type SearchHit struct {
	Index     string             `json:"_index"`
	ID        string             `json:"_id"`
	Score     *float64           `json:"_score"` // null when sorted by fields
	Source    json.RawMessage    `json:"_source"`
	Partition int32              `json:"_partition"`
	Offset    int64              `json:"_offset"`
	Timestamp int64              `json:"_timestamp"`
	Key       *string            `json:"_key"`
	Headers   map[string]*string `json:"_headers,omitempty"`
	Sort      []any              `json:"sort,omitempty"`
}

var jsonNull = json.RawMessage("null")

// Search runs req on topic. With withSource false the hits' records are
// not read (_source, _key, _timestamp and _headers stay empty).
func (s *Searcher) Search(ctx context.Context, topic string, req *Request, withSource bool) (*SearchResponse, error) {
	start := time.Now()
	parts := s.partitions(topic)
	r := *req
	if s.Sources != nil {
		r.MinOffsets = make(map[int32]int64, len(parts))
		for k, v := range req.MinOffsets {
			r.MinOffsets[k] = v
		}
		for _, p := range parts {
			if so, err := s.Sources.StartOffset(topic, p); err == nil && so > r.MinOffsets[p] {
				r.MinOffsets[p] = so
			}
		}
	}
	res, err := s.Indexer.Search(ctx, topic, &r)
	if err != nil {
		return nil, err
	}
	scored := len(req.Sort) == 0
	for _, sf := range req.Sort {
		if sf.Field == "_score" {
			scored = true
		}
	}
	out := &SearchResponse{
		Shards: ShardsInfo{Total: len(parts), Successful: len(parts)},
		Hits:   SearchHits{Total: TotalHits{Value: res.Total, Relation: "eq"}, Hits: make([]SearchHit, len(res.Hits))},
	}
	if scored && res.Total > 0 && req.Size > 0 {
		ms := res.MaxScore
		out.Hits.MaxScore = &ms
	}
	byPart := make(map[int32][]int)
	for i, h := range res.Hits {
		sh := &out.Hits.Hits[i]
		*sh = SearchHit{Index: topic, ID: DocID(h.Partition, h.Offset), Partition: h.Partition, Offset: h.Offset,
			Source: jsonNull, Sort: h.Sort}
		if scored {
			sc := h.Score
			sh.Score = &sc
		}
		byPart[h.Partition] = append(byPart[h.Partition], i)
	}
	if withSource && s.Sources != nil {
		if err := s.fillSources(ctx, topic, out.Hits.Hits, byPart); err != nil {
			return nil, err
		}
	}
	out.Took = time.Since(start).Milliseconds()
	return out, nil
}

// partitions lists the topic's partitions: from Topics when set, else
// from the index.
func (s *Searcher) partitions(topic string) []int32 {
	var out []int32
	if s.Topics != nil {
		if t, ok := s.Topics.Topic(topic); ok {
			for i := range t.Partitions {
				out = append(out, int32(i))
			}
			return out
		}
	}
	if st, err := s.Indexer.Stats(topic); err == nil {
		for p := range st.Partitions {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (s *Searcher) fillSources(ctx context.Context, topic string, hits []SearchHit, byPart map[int32][]int) error {
	for p, idx := range byPart {
		sort.Slice(idx, func(a, b int) bool { return hits[idx[a]].Offset < hits[idx[b]].Offset })
		offsets := make([]int64, len(idx))
		at := make(map[int64]int, len(idx))
		for i, j := range idx {
			offsets[i] = hits[j].Offset
			at[hits[j].Offset] = j
		}
		err := s.Sources.ReadRecords(ctx, topic, p, offsets, func(d *Document) {
			j, ok := at[d.Offset]
			if !ok {
				return
			}
			h := &hits[j]
			h.Timestamp = d.Timestamp
			h.Source = sourceJSON(d.Value)
			if d.Key != nil {
				k := toValidString(d.Key)
				h.Key = &k
			}
			if len(d.Headers) > 0 {
				h.Headers = make(map[string]*string, len(d.Headers))
				for _, hd := range d.Headers {
					if hd.Value == nil {
						h.Headers[hd.Key] = nil
						continue
					}
					v := toValidString(hd.Value)
					h.Headers[hd.Key] = &v
				}
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// sourceJSON is a record value as _source: JSON as is, other values as a
// JSON string (invalid UTF-8 replaced), null for a null value.
func sourceJSON(v []byte) json.RawMessage {
	if v == nil {
		return jsonNull
	}
	if json.Valid(v) {
		return json.RawMessage(append([]byte(nil), v...))
	}
	b, _ := json.Marshal(toValidString(v))
	return b
}

func toValidString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return string([]rune(string(b)))
}
