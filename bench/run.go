package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// side is which broker a run used.
type side string

const (
	ours side = "chronik"
	peer side = "kfake"
	// P6-produce compares our broker with itself: indexing on and off.
	indexOn  side = "indexing on"
	indexOff side = "indexing off"
)

// isChronik reports whether runs of s use our broker.
func (s side) isChronik() bool { return s == ours || s == indexOn || s == indexOff }

// runResult is one run of one workload against one broker.
type runResult struct {
	Side          side
	Run           int
	Err           error // non-nil: the run failed and its numbers do not count
	Records       int64
	Bytes         int64
	Elapsed       time.Duration
	RecordsPerSec float64
	MBPerSec      float64
	P50, P99      time.Duration
	PeakRSS       int64 // VmHWM of the broker process; 0 in process
	Reconciled    int64 // records read back and matched

	// Indexing-on runs only (P6-produce).
	IndexCatchUp time.Duration // last acknowledgement to docs.count = records produced
	IndexRate    float64       // records / (produce time + catch-up): the broker's indexing rate when backlogged

	// Overload runs only.
	CapacityPerSec float64     // records/s accepted unpaced before the overload
	OfferedPerSec  float64     // records/s offered during the overload
	RSS            []rssSample // sampled during the overload
	BufferInUse    float64     // chronik_buffer_memory_in_use_bytes after the run
}

// rssSample is the broker's resident set size at a moment of a run.
type rssSample struct {
	At  time.Duration // since the overload started
	RSS int64
}

// inprocResult is one go test benchmark of the in-process row.
type inprocResult struct {
	Name     string
	MBPerSec []float64 // one per -count
}

// workloadResult is everything measured for one workload.
type workloadResult struct {
	W       workload
	Runs    []runResult
	InProc  []inprocResult
	Index   []indexRun   // P6 (a): indexing rate, ours and bluge's default
	Fresh   []freshRun   // P7: ack-to-searchable samples per run
	Query   *queryResult // P8: term query latency
	Skipped string       // why nothing was measured

	FreshBasis string // P7: the offered load and the capacity it is half of
}

// of returns the runs of one side.
func (r *workloadResult) of(s side) []runResult {
	var out []runResult
	for _, x := range r.Runs {
		if x.Side == s {
			out = append(out, x)
		}
	}
	return out
}

// failed reports whether any run failed.
func (r *workloadResult) failed() bool {
	for _, x := range r.Runs {
		if x.Err != nil {
			return true
		}
	}
	return indexRateFailed(r.Index) || freshFailed(r.Fresh) || queryFailed(r.Query)
}

// bench is one invocation of the tool.
type bench struct {
	opts    options
	bin     string // the example broker binary
	base    string // temporary directory of every run's data
	pool    payloadPool
	logOut  io.Writer
	profile bool // the binary has the profiling hook and profiles are wanted

	// indexCapacity is our indexer's median rate (docs/s) of 1 KiB JSON
	// documents measured by P6 in this run; 0 until measured. P7 offers
	// a fraction of it.
	indexCapacity float64
	// brokerIndexRate is the broker's median indexing rate (docs/s) over
	// P6's produce phase and the catch-up after it, with indexing on; 0
	// until measured.
	brokerIndexRate float64
	// jsonDocs is the pool of JSON values of P6-produce and P7, built on
	// first use.
	jsonDocs *logDocPool
}

// jsonPoolDocs is how many distinct JSON documents P6-produce and P7
// cycle through: more than one Index batch of the pipeline (2048), so
// every batch indexes distinct documents.
const jsonPoolDocs = 8192

// gen returns the record generator of a spec.
func (b *bench) gen(sp spec) recordGen {
	g := recordGen{pool: b.pool, valueSize: sp.ValueSize}
	if sp.Values != valuesLogText {
		if b.jsonDocs == nil {
			b.jsonDocs = newLogDocPool(jsonPoolDocs, 7)
		}
		g.docs, g.unique = b.jsonDocs, sp.Values == valuesJSONUnique
	}
	return g
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logOut, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// spec returns w's producers, shrunk in quick mode.
func (b *bench) spec(w workload) spec {
	if b.opts.quick {
		return quickSpec(w.Spec)
	}
	return w.Spec
}

// runSideBySide runs w against our broker and kfake alternately, the
// first broker of each run alternating, so that drift in the machine's
// load falls on both.
func (b *bench) runSideBySide(ctx context.Context, w workload) workloadResult {
	res := workloadResult{W: w}
	first, second := ours, peer
	if w.Kind == kindIndexOnOff {
		first, second = indexOn, indexOff
	}
	for i := range b.opts.runs {
		order := []side{first, second}
		if i%2 == 1 {
			order = []side{second, first}
		}
		for _, s := range order {
			if ctx.Err() != nil {
				return res
			}
			r := b.runOnce(ctx, w, s, i)
			res.Runs = append(res.Runs, r)
		}
	}
	return res
}

// runOnce is one run: start the broker, create the topic, produce, read
// everything back and reconcile, stop the broker.
func (b *bench) runOnce(ctx context.Context, w workload, s side, run int) (r runResult) {
	r = runResult{Side: s, Run: run + 1}
	defer func() {
		if r.Err != nil {
			b.logf("%s run %d %s: FAILED: %v", w.ID, run+1, s, r.Err)
		}
	}()
	sp := b.spec(w)
	var t target
	var profilePath string
	if s.isChronik() {
		if b.profile && run == 0 && s != indexOff {
			profilePath = filepath.Join(b.opts.profileDir, w.ID+".pprof")
		}
		ct, err := startChronik(ctx, b.bin, b.base, s == indexOn, w.Broker, profilePath)
		if err != nil {
			r.Err = err
			return r
		}
		t = ct
	} else {
		kt, err := startKfake(w.Peer, b.base)
		if err != nil {
			r.Err = err
			return r
		}
		t = kt
	}
	stopped := false
	defer func() {
		if !stopped {
			t.Stop()
		}
	}()
	topic := fmt.Sprintf("bench-%s-r%d", strings.ToLower(w.ID), run+1)
	if err := createTopic(ctx, t.Addr(), topic, sp.Partitions); err != nil {
		r.Err = err
		return r
	}
	gen := b.gen(sp)
	if profilePath != "" {
		t.(*chronikTarget).startProfile()
	}
	pr, err := produce(ctx, t.Addr(), topic, sp, gen)
	if profilePath != "" {
		if perr := t.(*chronikTarget).stopProfile(); perr != nil {
			b.logf("%s: profile: %v", w.ID, perr)
		} else {
			b.logf("%s: CPU profile of the produce phase written to %s", w.ID, profilePath)
		}
	}
	if pr != nil {
		r.Records, r.Bytes, r.Elapsed = pr.Records, pr.Bytes, pr.Elapsed
		r.RecordsPerSec, r.MBPerSec = pr.RecordsPerSec(), pr.MBPerSec()
		r.P50, r.P99 = pr.Lat.quantile(0.50), pr.Lat.quantile(0.99)
	}
	if err != nil {
		r.Err = err
		return r
	}
	if pid := t.PID(); pid != 0 {
		r.PeakRSS, _ = procStatus(pid, "VmHWM")
	}
	if s == indexOn {
		ct := t.(*chronikTarget)
		var produceProfile string
		if profilePath != "" {
			// Keep the produce phase's profile aside while the catch-up is
			// profiled into the same file, then put both in place.
			// (The hook writes a heap profile beside each CPU profile.)
			produceProfile = profilePath + ".produce"
			if err := os.Rename(profilePath, produceProfile); err == nil {
				os.Rename(profilePath+".heap", produceProfile+".heap")
				ct.startProfile()
			} else {
				produceProfile = ""
			}
		}
		caught, err := waitIndexed(ctx, ct.httpAddr, topic, r.Records, indexStall)
		if produceProfile != "" {
			if perr := ct.stopProfile(); perr != nil {
				b.logf("%s: profile of the index catch-up: %v", w.ID, perr)
			} else {
				cu := catchUpProfile(profilePath)
				os.Rename(profilePath+".heap", cu+".heap")
				if perr := os.Rename(profilePath, cu); perr != nil {
					b.logf("%s: profile of the index catch-up: %v", w.ID, perr)
				} else {
					b.logf("%s: CPU profile of the index catch-up written to %s", w.ID, cu)
				}
			}
			os.Rename(produceProfile, profilePath)
			os.Rename(produceProfile+".heap", profilePath+".heap")
		}
		if err != nil {
			r.Err = err
			return r
		}
		r.IndexCatchUp = caught
		r.IndexRate = float64(r.Records) / (r.Elapsed + caught).Seconds()
		if err := checkIndexCounts(ctx, ct.httpAddr, topic, pr.Ledger, gen); err != nil {
			r.Err = err
			return r
		}
	}
	checks, err := reconcile(ctx, t.Addr(), topic, pr.Ledger, gen)
	for _, c := range checks {
		r.Reconciled += c.Read
	}
	if err != nil {
		r.Err = err
		return r
	}
	stopped = true
	if err := t.Stop(); err != nil {
		r.Err = err
		return r
	}
	b.logf("%s run %d %-7s %12.0f rec/s %9.1f MB/s  p50 %7.2f ms  p99 %8.2f ms  %d records reconciled",
		w.ID, run+1, s, r.RecordsPerSec, r.MBPerSec, ms(r.P50), ms(r.P99), r.Reconciled)
	if s == indexOn {
		b.logf("%s run %d %s: index caught up %v after the last acknowledgement (%.0f docs/s from the first produce); docs.count and term counts reconciled",
			w.ID, run+1, s, r.IndexCatchUp.Round(time.Millisecond), r.IndexRate)
	}
	return r
}

// catchUpProfile is where P6-produce's profile of the index catch-up goes,
// beside the produce phase's profile at path.
func catchUpProfile(path string) string { return strings.TrimSuffix(path, ".pprof") + "-catchup.pprof" }

// ms returns d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// bufferMemory returns the -buffer-memory flag value of a workload's
// broker flags, or the broker's default of 64 MiB.
func bufferMemory(flags []string) int64 {
	for i := 0; i+1 < len(flags); i++ {
		if flags[i] == "-buffer-memory" {
			v := flags[i+1]
			mult := int64(1)
			for _, u := range []struct {
				s string
				m int64
			}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
				if strings.HasSuffix(v, u.s) {
					v, mult = strings.TrimSuffix(v, u.s), u.m
					break
				}
			}
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				return n * mult
			}
		}
	}
	return 64 << 20
}

// overloadHeadroom is how far above its buffer memory the broker's RSS may
// go under overload (target P9).
const overloadHeadroom = 128 << 20

// runOverload runs w (P9) against our broker alone, runs times.
func (b *bench) runOverload(ctx context.Context, w workload) workloadResult {
	res := workloadResult{W: w}
	for i := range b.opts.runs {
		if ctx.Err() != nil {
			return res
		}
		res.Runs = append(res.Runs, b.overloadOnce(ctx, w, i))
	}
	return res
}

// overloadOnce measures the broker's capacity with w's clients unpaced,
// then offers twice that for the overload duration while sampling its RSS,
// then reads everything back, checks the buffer-memory gauge returned to
// zero and that the peak RSS stayed within buffer memory + 128 MiB.
func (b *bench) overloadOnce(ctx context.Context, w workload, run int) (r runResult) {
	r = runResult{Side: ours, Run: run + 1}
	defer func() {
		if r.Err != nil {
			b.logf("%s run %d: FAILED: %v", w.ID, run+1, r.Err)
		}
	}()
	sp := b.spec(w)
	var profilePath string
	if b.profile && run == 0 {
		profilePath = filepath.Join(b.opts.profileDir, w.ID+".pprof")
	}
	t, err := startChronik(ctx, b.bin, b.base, false, w.Broker, profilePath)
	if err != nil {
		r.Err = err
		return r
	}
	stopped := false
	defer func() {
		if !stopped {
			t.Stop()
		}
	}()
	probeTopic := fmt.Sprintf("bench-%s-probe-r%d", strings.ToLower(w.ID), run+1)
	topic := fmt.Sprintf("bench-%s-r%d", strings.ToLower(w.ID), run+1)
	for _, tp := range []string{probeTopic, topic} {
		if err := createTopic(ctx, t.Addr(), tp, sp.Partitions); err != nil {
			r.Err = err
			return r
		}
	}
	gen := b.gen(sp)

	probe := sp
	probe.MaxDuration = 3 * time.Second
	if b.opts.quick {
		probe.MaxDuration = time.Second
	}
	probe.MaxRecords = 1 << 40
	pr, err := produce(ctx, t.Addr(), probeTopic, probe, gen)
	if err != nil {
		r.Err = fmt.Errorf("capacity probe: %w", err)
		return r
	}
	r.CapacityPerSec = pr.RecordsPerSec()

	over := sp
	over.MaxDuration = b.opts.overloadFor
	if b.opts.quick {
		over.MaxDuration = 2 * time.Second
	}
	over.Rate = 2 * r.CapacityPerSec
	over.MaxRecords = int64(over.Rate*over.MaxDuration.Seconds()) + 1
	r.OfferedPerSec = over.Rate

	pid := t.PID()
	sampleDone := make(chan []rssSample, 1)
	sampleCtx, stopSampling := context.WithCancel(ctx)
	go func() { // owned by overloadOnce: ends with stopSampling
		var out []rssSample
		start := time.Now()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := procStatus(pid, "VmRSS"); err == nil {
				out = append(out, rssSample{At: time.Since(start), RSS: rss})
			}
			select {
			case <-sampleCtx.Done():
				sampleDone <- out
				return
			case <-tick.C:
			}
		}
	}()
	if profilePath != "" {
		t.startProfile()
	}
	or, err := produce(ctx, t.Addr(), topic, over, gen)
	stopSampling()
	if profilePath != "" {
		if perr := t.stopProfile(); perr != nil {
			b.logf("%s: profile: %v", w.ID, perr)
		}
	}
	r.RSS = <-sampleDone
	if or != nil {
		r.Records, r.Bytes, r.Elapsed = or.Records, or.Bytes, or.Elapsed
		r.RecordsPerSec, r.MBPerSec = or.RecordsPerSec(), or.MBPerSec()
		r.P50, r.P99 = or.Lat.quantile(0.50), or.Lat.quantile(0.99)
	}
	if err != nil {
		r.Err = fmt.Errorf("overload: %w", err)
		return r
	}
	r.PeakRSS, _ = procStatus(pid, "VmHWM")
	for _, x := range []struct {
		topic string
		l     *ledger
	}{{probeTopic, pr.Ledger}, {topic, or.Ledger}} {
		checks, err := reconcile(ctx, t.Addr(), x.topic, x.l, gen)
		for _, c := range checks {
			r.Reconciled += c.Read
		}
		if err != nil {
			r.Err = err
			return r
		}
	}
	if r.BufferInUse, err = scrapeGauge(ctx, t.httpAddr, "chronik_buffer_memory_in_use_bytes"); err != nil {
		r.Err = err
		return r
	}
	stopped = true
	if err := t.Stop(); err != nil {
		r.Err = err
		return r
	}
	limit := bufferMemory(w.Broker) + overloadHeadroom
	b.logf("%s run %d: capacity %.0f rec/s, offered %.0f, accepted %.0f rec/s; peak RSS %.1f MiB (limit %.1f MiB); buffer in use after %.0f B; %d records reconciled",
		w.ID, run+1, r.CapacityPerSec, r.OfferedPerSec, r.RecordsPerSec, mib(r.PeakRSS), mib(limit), r.BufferInUse, r.Reconciled)
	if r.BufferInUse != 0 {
		// Memory reserved for requests that were all answered: a leak.
		r.Err = fmt.Errorf("buffer memory gauge is %.0f bytes after every request was answered, want 0", r.BufferInUse)
	}
	if r.PeakRSS > limit {
		b.logf("%s run %d: target missed: peak RSS %.1f MiB above buffer memory + 128 MiB = %.1f MiB", w.ID, run+1, mib(r.PeakRSS), mib(limit))
	}
	return r
}

// mib returns n in MiB.
func mib(n int64) float64 { return float64(n) / (1 << 20) }

// scrapeGauge reads one unlabelled metric from the broker's /metrics.
func scrapeGauge(ctx context.Context, httpAddr, name string) (float64, error) {
	if httpAddr == "" {
		return 0, errors.New("metrics: the broker has no HTTP listener")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("metrics: %s: %w", name, err)
			}
			return f, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("metrics: %w", err)
	}
	return 0, fmt.Errorf("metrics: no %s", name)
}

// profileEnv names the file the profiling hook writes a CPU profile to.
const profileEnv = "CHRONIK_BENCH_CPUPROFILE"

// startProfile asks the broker's profiling hook to start a CPU profile.
func (t *chronikTarget) startProfile() {
	os.Remove(t.profile)
	t.cmd.Process.Signal(syscall.SIGUSR1)
}

// stopProfile asks the hook to stop profiling and waits for the file.
func (t *chronikTarget) stopProfile() error {
	if err := t.cmd.Process.Signal(syscall.SIGUSR2); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(t.profile); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no profile at %s after 10 s", t.profile)
}
