package index

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// genCorpus is a deterministic corpus of ~1 KiB JSON log documents and the
// counts a reader needs to check queries against it, computed while
// generating.
type genCorpus struct {
	docs   [][]byte
	keys   [][]byte
	ts     []int64 // record timestamps, ms
	counts genCounts
}

// genCounts are exact hit counts of queries over a genCorpus.
type genCounts struct {
	levelError   int // level.keyword = "ERROR"
	status500    int // http.status = 500
	msgWord      int // message contains the word genWord (match)
	slow         int // http.latency_ms > 900
	service      int // service.keyword = "checkout"
	userU42      int // user.id.keyword = "u-000042"
	retryTrue    int // retry = true
	tagAlpha     int // tags.keyword = "alpha"
	phrase       int // message contains the phrase "quick brown"
	hostPrefix07 int // host.keyword starts with "web-07"
}

const genWord = "lorem"

var (
	genLevels   = []string{"INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "INFO", "WARN", "WARN", "ERROR", "DEBUG"}
	genServices = []string{"checkout", "payments", "search", "catalog", "auth", "cart", "shipping", "inventory", "gateway", "email",
		"users", "orders", "reviews", "ads", "recommendations", "billing", "fraud", "notifications", "reports", "media"}
	genMethods  = []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}
	genStatus   = []int{200, 200, 200, 200, 201, 204, 301, 400, 401, 403, 404, 500, 503}
	genCountry  = []string{"DE", "FR", "US", "GB", "JP", "BR", "IN", "CN", "ES", "IT", "NL", "SE", "PL", "CA", "AU", "MX", "KR", "ZA", "NG", "AR"}
	genNames    = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yvonne"}
	genTags     = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"}
	genResource = []string{"orders", "users", "items", "carts", "payments", "sessions"}
	genVocab    = buildVocab()
)

func buildVocab() []string {
	base := []string{"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "request", "failed", "succeeded",
		"timeout", "connection", "reset", "by", "peer", "retrying", "after", "backoff", "cache", "miss", "hit", "database",
		"query", "took", "longer", "than", "expected", "user", "session", "expired", "token", "refreshed", "payment",
		"declined", "approved", "order", "shipped", "queued", "worker", "started", "stopped", "memory", "pressure", "high",
		"disk", "usage", "normal", "lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit"}
	v := append([]string(nil), base...)
	for i := 0; len(v) < 500; i++ {
		v = append(v, "w"+strconv.Itoa(i))
	}
	return v
}

// genDocs returns n documents generated from seed.
func genDocs(n int, seed uint64) *genCorpus {
	c := &genCorpus{}
	c.counts = genStream(n, seed, func(doc, key []byte, ts int64) {
		c.docs = append(c.docs, append([]byte(nil), doc...))
		c.keys = append(c.keys, append([]byte(nil), key...))
		c.ts = append(c.ts, ts)
	})
	return c
}

// genStream generates n documents from seed, calling fn with each (its
// arguments are reused after fn returns), and returns the counts.
func genStream(n int, seed uint64, fn func(doc, key []byte, ts int64)) genCounts {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var counts genCounts
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	buf := make([]byte, 0, 1200)
	words := make([]string, 0, 120)
	for i := 0; i < n; i++ {
		ts := base + int64(i)*10 + int64(r.IntN(10))
		level := genLevels[r.IntN(len(genLevels))]
		svc := genServices[r.IntN(len(genServices))]
		host := fmt.Sprintf("web-%03d", r.IntN(100))
		uid := fmt.Sprintf("u-%06d", r.IntN(5000))
		status := genStatus[r.IntN(len(genStatus))]
		latency := float64(r.IntN(100000)) / 100
		retry := r.IntN(7) == 0
		t1, t2 := genTags[r.IntN(len(genTags))], genTags[r.IntN(len(genTags))]
		words = words[:0]
		size := 0
		hasWord, hasPhrase := false, false
		for size < 560 {
			w := genVocab[r.IntN(len(genVocab))]
			if r.IntN(40) == 0 {
				words = append(words, "quick", "brown")
				size += 12
				hasPhrase = true
				continue
			}
			words = append(words, w)
			size += len(w) + 1
			if w == genWord {
				hasWord = true
			}
			if w == "brown" && len(words) > 1 && words[len(words)-2] == "quick" {
				hasPhrase = true
			}
		}
		buf = buf[:0]
		buf = fmt.Appendf(buf, `{"@timestamp":%q,"level":%q,"service":%q,"host":%q,"env":%q,`,
			time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05.000Z07:00"), level, svc, host, []string{"prod", "staging"}[r.IntN(2)])
		buf = fmt.Appendf(buf, `"user":{"id":%q,"name":%q,"country":%q},`, uid, genNames[r.IntN(len(genNames))], genCountry[r.IntN(len(genCountry))])
		buf = fmt.Appendf(buf, `"http":{"method":%q,"path":"/api/v1/%s/%d","status":%d,"latency_ms":%s,"bytes":%d},`,
			genMethods[r.IntN(len(genMethods))], genResource[r.IntN(len(genResource))], r.IntN(100000), status,
			strconv.FormatFloat(latency, 'f', -1, 64), r.IntN(1<<20))
		buf = fmt.Appendf(buf, `"trace_id":"%016x%016x","span_id":"%016x","tags":[%q,%q],"retry":%t,"message":"`,
			r.Uint64(), r.Uint64(), r.Uint64(), t1, t2, retry)
		for j, w := range words {
			if j > 0 {
				buf = append(buf, ' ')
			}
			buf = append(buf, w...)
		}
		buf = append(buf, `"}`...)
		fn(buf, []byte(uid), ts)

		k := &counts
		if level == "ERROR" {
			k.levelError++
		}
		if status == 500 {
			k.status500++
		}
		if hasWord {
			k.msgWord++
		}
		if latency > 900 {
			k.slow++
		}
		if svc == "checkout" {
			k.service++
		}
		if uid == "u-000042" {
			k.userU42++
		}
		if retry {
			k.retryTrue++
		}
		if t1 == "alpha" || t2 == "alpha" {
			k.tagAlpha++
		}
		if hasPhrase {
			k.phrase++
		}
		if host[:6] == "web-07" {
			k.hostPrefix07++
		}
	}
	return counts
}

var benchCorpusCache *genCorpus

// benchCorpus is the shared indexing benchmark corpus (20,000 documents).
func benchCorpus() *genCorpus {
	if benchCorpusCache == nil {
		benchCorpusCache = genDocs(20000, 1)
	}
	return benchCorpusCache
}
