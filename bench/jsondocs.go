package main

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The search workloads (P6-P8) need record values that are valid JSON, so
// that the index maps them field by field as it would real logs, and exact
// hit counts for the queries that reconcile what was indexed. The
// generators below build such documents from a seed and tally, while
// generating, every value a reconciliation query asks for.

// logDocSize is the size of every log document of P6 and P7.
const logDocSize = 1024

// idOffset is where the 16 hex digits of a log document's "id" value
// start: every document begins with {"id":"<16 hex digits>",.
const (
	idPrefix = `{"id":"`
	idOffset = len(idPrefix)
	idDigits = 16
)

var (
	docLevels   = []string{"INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "WARN", "WARN", "ERROR", "DEBUG"}
	docServices = []string{"checkout", "payments", "search", "catalog", "auth", "cart", "shipping", "inventory", "gateway", "email",
		"users", "orders", "reviews", "ads", "billing", "fraud", "notifications", "reports", "media", "pricing"}
	docMethods = []string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	docStatus  = []int{200, 200, 200, 200, 200, 201, 204, 301, 400, 401, 404, 429, 500, 503}
	docNames   = []string{"ada", "bruno", "chen", "dara", "emeka", "fatima", "goran", "hana", "ivo", "jun",
		"kasia", "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq"}
	docTags  = []string{"alpha", "beta", "gamma", "delta", "canary", "blue", "green", "edge", "batch", "mobile"}
	docPaths = []string{"orders", "users", "items", "carts", "payments", "sessions", "search", "invoices"}
	docVocab = messageVocabulary()
)

// messageVocabulary is the word list log messages are drawn from: common
// operational words plus a long tail of rarer ones, so that term
// frequencies look like real text (a few frequent terms, many rare ones).
func messageVocabulary() []string {
	v := []string{"request", "completed", "failed", "timeout", "while", "calling", "upstream", "service", "retry",
		"after", "backoff", "cache", "miss", "hit", "reading", "from", "primary", "replica", "store", "connection",
		"reset", "by", "peer", "user", "session", "expired", "token", "refreshed", "payment", "authorised",
		"declined", "order", "accepted", "queued", "for", "fulfilment", "shipped", "inventory", "reservation",
		"released", "worker", "started", "stopped", "slow", "query", "took", "longer", "than", "expected", "disk",
		"pressure", "memory", "high", "normal", "rate", "limited", "client", "invalid", "input", "rejected",
		"the", "a", "an", "of", "to", "in", "on", "with", "and", "or", "is", "was", "not", "at", "per", "ms"}
	for i := 0; len(v) < 600; i++ {
		v = append(v, "term"+strconv.Itoa(i))
	}
	return v
}

// docTally counts documents by the values reconciliation queries ask for.
type docTally struct {
	Docs    int
	Level   map[string]int // level.keyword
	Service map[string]int // service.keyword
	Tag     map[string]int // tags.keyword (a document counts once per distinct tag)
	Status  map[int]int    // http.status (number)
	User    map[string]int // user.id.keyword
}

func newDocTally() *docTally {
	return &docTally{Level: map[string]int{}, Service: map[string]int{}, Tag: map[string]int{},
		Status: map[int]int{}, User: map[string]int{}}
}

// logDocGen generates 1 KiB JSON log documents one after the other.
type logDocGen struct {
	r *rand.Rand
}

func newLogDocGen(seed uint64) *logDocGen {
	return &logDocGen{r: rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))}
}

// docBase is the timestamp of document 0.
var docBase = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// next appends document n (its id is n) of exactly logDocSize bytes to
// buf and counts it in t when t is not nil.
func (g *logDocGen) next(buf []byte, n uint64, t *docTally) []byte {
	r := g.r
	start := len(buf)
	level := docLevels[r.IntN(len(docLevels))]
	svc := docServices[r.IntN(len(docServices))]
	uid := fmt.Sprintf("u-%06d", r.IntN(5000))
	status := docStatus[r.IntN(len(docStatus))]
	tag1, tag2 := docTags[r.IntN(len(docTags))], docTags[r.IntN(len(docTags))]
	ts := docBase.Add(time.Duration(n)*10*time.Millisecond + time.Duration(r.IntN(10))*time.Millisecond)

	buf = append(buf, idPrefix...)
	buf = appendHexID(buf, n)
	buf = fmt.Appendf(buf, `","@timestamp":%q,"level":%q,"service":%q,"host":"web-%03d","env":%q,`,
		ts.Format("2006-01-02T15:04:05.000Z07:00"), level, svc, r.IntN(100), []string{"prod", "staging"}[r.IntN(2)])
	buf = fmt.Appendf(buf, `"user":{"id":%q,"name":%q,"region":"eu-%d","premium":%t},`,
		uid, docNames[r.IntN(len(docNames))], r.IntN(4), r.IntN(5) == 0)
	buf = fmt.Appendf(buf, `"http":{"method":%q,"path":"/api/v1/%s/%d","status":%d,"latency_ms":%s,"bytes":%d},`,
		docMethods[r.IntN(len(docMethods))], docPaths[r.IntN(len(docPaths))], r.IntN(100000), status,
		strconv.FormatFloat(float64(r.IntN(200000))/100, 'f', -1, 64), r.IntN(1<<20))
	buf = fmt.Appendf(buf, `"trace_id":"%016x%016x","tags":[%q,%q],"retry":%t,"message":"`,
		r.Uint64(), r.Uint64(), tag1, tag2, r.IntN(8) == 0)
	// Fill the message with words up to the document's size; the closing
	// `"}` takes two bytes and a last word of 'x's makes the size exact.
	end := start + logDocSize - 2
	first := true
	for {
		w := docVocab[zipfIndex(r, len(docVocab))]
		need := len(w)
		if !first {
			need++
		}
		if len(buf)+need > end-1 { // keep room for a filler word
			break
		}
		if !first {
			buf = append(buf, ' ')
		}
		buf = append(buf, w...)
		first = false
	}
	if pad := end - len(buf); pad > 0 {
		buf = append(buf, ' ')
		for range pad - 1 {
			buf = append(buf, 'x')
		}
	}
	buf = append(buf, `"}`...)

	if t != nil {
		t.Docs++
		t.Level[level]++
		t.Service[svc]++
		t.Status[status]++
		t.User[uid]++
		t.Tag[tag1]++
		if tag2 != tag1 {
			t.Tag[tag2]++
		}
	}
	return buf
}

// zipfIndex picks an index in [0, n) with a skew towards small indexes:
// the square of a uniform variable, so the first words of the vocabulary
// are far more frequent than the last.
func zipfIndex(r *rand.Rand, n int) int {
	u := r.Float64()
	return int(u * u * float64(n))
}

// appendHexID appends n as idDigits lower-case hex digits.
func appendHexID(buf []byte, n uint64) []byte {
	var b [8]byte
	for i := range b {
		b[7-i] = byte(n >> (8 * i))
	}
	return hex.AppendEncode(buf, b[:])
}

// putHexID writes n as idDigits hex digits into dst.
func putHexID(dst []byte, n uint64) {
	var b [8]byte
	for i := range b {
		b[7-i] = byte(n >> (8 * i))
	}
	hex.Encode(dst, b[:])
}

// hexID returns n as it appears in a document's id field.
func hexID(n uint64) string { return string(appendHexID(nil, n)) }

// logDocPool holds logDocSize-byte documents 0..len-1 of a generator and
// their tallies.
type logDocPool struct {
	docs  [][]byte
	tally *docTally
}

// newLogDocPool generates n documents from seed into one allocation.
func newLogDocPool(n int, seed uint64) *logDocPool {
	g := newLogDocGen(seed)
	all := make([]byte, 0, n*logDocSize)
	p := &logDocPool{docs: make([][]byte, n), tally: newDocTally()}
	for i := range n {
		s := len(all)
		all = g.next(all, uint64(i), p.tally)
		p.docs[i] = all[s:len(all):len(all)]
	}
	return p
}

// value returns the pool document for record n (shared, never written).
func (p *logDocPool) value(n uint64) []byte { return p.docs[n%uint64(len(p.docs))] }

// uniqueValue returns a copy of the pool document for record n whose id
// is n, so that every record of a run can be found by its id.
func (p *logDocPool) uniqueValue(n uint64) []byte {
	v := append([]byte(nil), p.value(n)...)
	putHexID(v[idOffset:idOffset+idDigits], n)
	return v
}
