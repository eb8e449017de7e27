package indextest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/chronik-go/chronik/index"
)

// record is one generated record and the facts the oracles check.
type record struct {
	part    int32
	doc     index.Document
	json    bool // the value is a JSON object
	level   string
	status  int
	latency float64
	user    string
	country string // "" when the record has no geo object
	msg     string
	words   []string
	tags    []string
	ok      bool
	at      time.Time
	items   []string // item SKUs
	trace   string   // header "trace", "" when absent
	text    string   // non-JSON value
	scalar  string   // top-level JSON string value
}

var (
	levels    = []string{"INFO", "INFO", "INFO", "WARN", "ERROR"}
	countries = []string{"DE", "FR", "US"}
	vocab     = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"}
	tagNames  = []string{"red", "green", "blue"}
	skus      = []string{"sku-1", "sku-2", "sku-3", "sku-4"}
)

// baseTime is the timestamp of the first generated record.
var baseTime = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// generate makes perPart records in each of parts partitions,
// deterministically. Offsets start at firstOffset and skip every tenth
// offset (as control batches do).
func generate(parts int32, perPart int, firstOffset int64) []record {
	r := rand.New(rand.NewPCG(7, 11))
	var out []record
	seq := 0
	for p := int32(0); p < parts; p++ {
		off := firstOffset
		for i := 0; i < perPart; i++ {
			if off%10 == 9 {
				off++
			}
			rec := record{part: p}
			rec.doc.Offset = off
			off++
			rec.at = baseTime.Add(time.Duration(seq) * time.Minute)
			rec.doc.Timestamp = baseTime.UnixMilli() + int64(seq)*1000
			if seq%7 != 3 {
				rec.user = fmt.Sprintf("user-%d", seq%13)
				rec.doc.Key = []byte(rec.user)
			}
			if seq%4 == 0 {
				rec.trace = fmt.Sprintf("Trace-%d", seq%5)
				rec.doc.Headers = []index.Header{{Key: "trace", Value: []byte(rec.trace)}, {Key: "empty", Value: nil}}
			}
			switch {
			case seq%23 == 5:
				rec.text = fmt.Sprintf("plain text line %d with Golf", seq)
				rec.doc.Value = []byte(rec.text)
			case seq%29 == 6:
				rec.scalar = fmt.Sprintf("scalar %s", vocab[seq%len(vocab)])
				rec.doc.Value, _ = json.Marshal(rec.scalar)
			case seq%31 == 7:
				rec.doc.Value = nil
			default:
				rec.json = true
				rec.level = levels[r.IntN(len(levels))]
				rec.status = []int{200, 201, 404, 500}[r.IntN(4)]
				rec.latency = float64(seq)*1.5 + 0.25
				rec.ok = r.IntN(3) != 0
				n := 3 + r.IntN(5)
				for j := 0; j < n; j++ {
					rec.words = append(rec.words, vocab[r.IntN(len(vocab))])
				}
				rec.msg = strings.Join(rec.words, " ")
				for j, t := range tagNames {
					if (seq>>j)&1 == 1 {
						rec.tags = append(rec.tags, t)
					}
				}
				v := map[string]any{
					"level":      rec.level,
					"status":     rec.status,
					"latency_ms": rec.latency,
					"message":    rec.msg,
					"ok":         rec.ok,
					"at":         rec.at.Format(time.RFC3339),
					"tags":       rec.tags,
				}
				if rec.user != "" {
					v["user"] = map[string]any{"id": rec.user}
				}
				if seq%3 != 0 {
					rec.country = countries[seq%len(countries)]
					v["geo"] = map[string]any{"country": rec.country, "city": nil}
				}
				if seq%5 < 2 {
					var items []any
					for j := 0; j <= seq%3; j++ {
						s := skus[(seq+j)%len(skus)]
						rec.items = append(rec.items, s)
						items = append(items, map[string]any{"sku": s, "qty": j + 1})
					}
					v["items"] = items
				}
				rec.doc.Value, _ = json.Marshal(v)
			}
			out = append(out, rec)
			seq++
		}
	}
	return out
}

func (r *record) hasWord(w string) bool {
	for _, x := range r.words {
		if x == w {
			return true
		}
	}
	return false
}

func (r *record) hasTag(t string) bool {
	for _, x := range r.tags {
		if x == t {
			return true
		}
	}
	return false
}

func (r *record) hasItem(s string) bool {
	for _, x := range r.items {
		if x == s {
			return true
		}
	}
	return false
}

// hasPhrase reports whether the message holds the words in order.
func (r *record) hasPhrase(ws ...string) bool {
	for i := 0; i+len(ws) <= len(r.words); i++ {
		ok := true
		for j, w := range ws {
			if r.words[i+j] != w {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// countWhere counts records satisfying pred.
func countWhere(recs []record, pred func(r *record) bool) int64 {
	var n int64
	for i := range recs {
		if pred(&recs[i]) {
			n++
		}
	}
	return n
}

// batches splits records into Index batches per partition, each at most
// size documents, with Next one past the last offset (plus a gap).
func batches(topic string, recs []record, size int, fields []string) []*index.Batch {
	var out []*index.Batch
	var cur *index.Batch
	for i := range recs {
		r := &recs[i]
		if cur == nil || cur.Partition != r.part || len(cur.Docs) == size {
			cur = &index.Batch{Topic: topic, Partition: r.part, Fields: fields}
			out = append(out, cur)
		}
		cur.Docs = append(cur.Docs, r.doc)
		cur.Next = r.doc.Offset + 2
	}
	// Next of a batch must not pass the following batch's first offset.
	for i := 0; i+1 < len(out); i++ {
		if out[i].Partition == out[i+1].Partition {
			out[i].Next = out[i+1].Docs[0].Offset
		}
	}
	return out
}
