// Command bench measures the example broker side by side with franz-go's
// kfake, driven by the same kgo client settings in the same run, and
// writes the results into BENCHMARKS.md at the repository root with charts
// under bench/charts.
//
// It is its own module so that its dependencies (kfake, gonum/plot) stay
// out of the library's go.mod. Run it from this directory:
//
//	cd bench && go run .            # full run, 3 runs per side
//	cd bench && go run . -quick     # smoke run, 1 run per side, small budgets
//	go -C bench run . -workloads P1,P3 -runs 5
//	go -C bench run . -only P6,P7 -runs 1
//	go -C bench run . -only P8 -p8-index /var/tmp/p8   # keeps the 1M-document index
//
// For every workload (performance targets P1-P9) the tool builds the
// example broker once, then per run starts it as a child process with a
// fresh data directory and kfake inside this process, alternating which
// goes first. Each run creates a topic, produces with kgo until a record or
// time budget is spent, reads every partition back and reconciles it with
// what the producers were told (count, per-record content at the acked
// offset, and an order-dependent checksum per partition). Any difference
// fails the run, is reported, and makes the tool exit with status 1.
// The machine's physical limits (sequential write with an fsync every
// MiB, page-cache writes, loopback TCP) are measured in the same run, so
// every figure is also a ratio to the limit.
//
// The search workloads differ: P6-index indexes the same 1 KiB JSON
// documents with the index package's Bluge indexer and with bluge's
// default Writer.Batch in this process, alternately, and reconciles both
// indexes with term queries; P6-produce runs our broker with indexing on
// and off alternately and, with it on, waits for the index to hold every
// produced record; P7 offers half the indexing capacity and measures how
// long after its acknowledgement a record is found through the broker's
// search API; P8 builds a 1M-document index in this process and times term
// queries whose hit counts the generator knows. Every other workload runs
// our broker with search indexing off.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	runs        int
	quick       bool
	only        []string // workload ids or targets; empty = all
	out         string   // BENCHMARKS.md to update; "" = none
	charts      string   // chart directory; "" = none
	repo        string
	tmp         string
	broker      string // prebuilt broker binary; "" = build it
	profileDir  string // CPU profiles of our broker; "" = none
	inprocess   bool
	overloadFor time.Duration
	searchIndex string // directory keeping P8's index across invocations; "" = built per run
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

// parseOptions parses the command line; repo-relative defaults are filled
// in once the repository is known.
func parseOptions(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cd bench && go run . [flags]\n\n"+
			"Benchmarks the example broker against franz-go's kfake side by side and\n"+
			"writes BENCHMARKS.md and bench/charts/.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	only := fs.String("workloads", "", "comma-separated workload ids (P1-1p, P2, ...) or targets (P1, P5); empty runs all")
	onlyAlias := fs.String("only", "", "same as -workloads")
	fs.IntVar(&o.runs, "runs", 0, "runs per broker and workload (default 3, 1 with -quick)")
	fs.BoolVar(&o.quick, "quick", false, "smoke run: small budgets, 1 run per side, no in-process benchmarks")
	fs.StringVar(&o.out, "out", "", "`file` whose generated section is replaced (default <repo>/BENCHMARKS.md; \"none\" disables)")
	fs.StringVar(&o.charts, "charts", "", "`directory` for PNG charts (default <repo>/bench/charts; \"none\" disables)")
	fs.StringVar(&o.repo, "repo", "", "chronik repository `root` (default: found above the working directory)")
	fs.StringVar(&o.tmp, "tmp", "", "`directory` for broker data and the disk limit test (default: the system temporary directory)")
	fs.StringVar(&o.broker, "broker", "", "prebuilt example broker `binary` (default: built from the repository)")
	fs.StringVar(&o.profileDir, "profile", "", "write CPU and heap profiles of our broker's produce phase (first run of each workload) and their pprof -top into `directory`")
	inproc := fs.Bool("inprocess", true, "also run the produce package's in-process benchmarks (P5) in the same run")
	fs.DurationVar(&o.overloadFor, "overload-duration", 15*time.Second, "how long P9 offers twice the measured capacity")
	fs.StringVar(&o.searchIndex, "p8-index", "", "`directory` that keeps P8's 1M-document index across invocations (built there once; default: built in every invocation)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.runs == 0 {
		o.runs = 3
		if o.quick {
			o.runs = 1
		}
	}
	if o.runs < 1 {
		return o, fmt.Errorf("-runs %d: want at least 1", o.runs)
	}
	o.inprocess = *inproc
	if o.quick && !flagSet(fs, "inprocess") {
		o.inprocess = false
	}
	if *only != "" && *onlyAlias != "" {
		return o, fmt.Errorf("-workloads and -only: give one of them")
	}
	if *onlyAlias != "" {
		only = onlyAlias
	}
	if *only != "" {
		for _, s := range strings.Split(*only, ",") {
			if s = strings.TrimSpace(s); s != "" {
				o.only = append(o.only, strings.ToUpper(s))
			}
		}
	}
	if o.overloadFor <= 0 {
		return o, fmt.Errorf("-overload-duration %v: want a positive duration", o.overloadFor)
	}
	return o, nil
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// selected returns the workloads the options ask for.
func selected(o options) ([]workload, error) {
	all := workloads()
	if len(o.only) == 0 {
		return all, nil
	}
	var out []workload
	for _, w := range all {
		if slices.Contains(o.only, strings.ToUpper(w.ID)) || slices.Contains(o.only, strings.ToUpper(w.Target)) {
			out = append(out, w)
		}
	}
	for _, s := range o.only {
		if !slices.ContainsFunc(all, func(w workload) bool {
			return strings.ToUpper(w.ID) == s || strings.ToUpper(w.Target) == s
		}) {
			return nil, fmt.Errorf("-workloads: no workload or target %q", s)
		}
	}
	return out, nil
}

// run is the tool; it returns the exit status: 0 when every run
// reconciled, 1 when any failed, 2 for bad usage or setup.
func run(ctx context.Context, args []string, logOut io.Writer) int {
	o, err := parseOptions(args, logOut)
	if err == flag.ErrHelp {
		return 0
	}
	if err != nil {
		fmt.Fprintln(logOut, "bench:", err)
		return 2
	}
	rep, err := execute(ctx, o, logOut)
	if err != nil {
		fmt.Fprintln(logOut, "bench:", err)
		return 2
	}
	if rep.failed() {
		fmt.Fprintln(logOut, "bench: RECONCILIATION OR RUN FAILURES (see above); the report marks them FAILED")
		return 1
	}
	return 0
}

// execute runs the selected workloads and writes the report and charts.
func execute(ctx context.Context, o options, logOut io.Writer) (*report, error) {
	ws, err := selected(o)
	if err != nil {
		return nil, err
	}
	if o.repo == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		if o.repo, err = findRepo(wd); err != nil {
			return nil, err
		}
	}
	if o.out == "" {
		o.out = filepath.Join(o.repo, "BENCHMARKS.md")
	}
	if o.charts == "" {
		o.charts = filepath.Join(o.repo, "bench", "charts")
	}
	base, cleanup, err := tempBase(o.tmp)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	b := &bench{opts: o, base: base, pool: newPayloadPool(4<<20, 1), logOut: logOut}
	rep := &report{Machine: readMachine(o.repo), Opts: o, Args: os.Args[1:]}
	b.logf("machine: %d CPUs (GOMAXPROCS %d), %s, kernel %s, %s; load average %s",
		rep.Machine.NumCPU, rep.Machine.GOMAXPROCS, rep.Machine.CPU, rep.Machine.Kernel, rep.Machine.Go, rep.Machine.LoadStart)

	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	needBroker := slices.ContainsFunc(ws, func(w workload) bool { return w.Kind.usesBroker() })
	if needBroker {
		b.bin = o.broker
		if b.bin == "" || o.profileDir != "" {
			b.logf("building the example broker")
			if b.bin, err = buildBroker(ctx, o.repo, base, o.profileDir != ""); err != nil {
				return nil, err
			}
		}
		b.profile = o.profileDir != ""
	}

	b.logf("measuring the machine's limits")
	reps, fsyncB, pageB, tcpB := 3, int64(256<<20), int64(512<<20), int64(1<<30)
	if o.quick {
		reps, fsyncB, pageB, tcpB = 1, 32<<20, 64<<20, 256<<20
	}
	if rep.Limits, err = measureLimits(ctx, base, reps, fsyncB, pageB, tcpB); err != nil {
		return nil, err
	}
	b.logf("limits: fsync/MiB %.0f MB/s (fsync p50 %.2f ms), page cache %.0f MB/s, loopback TCP %.0f MB/s",
		medianRate(rep.Limits.Fsync)/1e6, ms(rep.Limits.Fsync[0].FsyncP50), medianRate(rep.Limits.PageCache)/1e6, medianRate(rep.Limits.TCP)/1e6)

	for _, w := range ws {
		if ctx.Err() != nil {
			break
		}
		b.logf("workload %s: %s", w.ID, w.Title)
		var res workloadResult
		switch w.Kind {
		case kindSideBySide:
			res = b.runSideBySide(ctx, w)
		case kindOverload:
			res = b.runOverload(ctx, w)
		case kindInProcess:
			res = workloadResult{W: w}
			if !o.inprocess {
				res.Skipped = "not run (-inprocess=false)"
				break
			}
			if res.InProc, err = runInProcess(ctx, o.repo, o.runs, inProcessBenchtime); err != nil {
				res.Skipped = "could not run: " + firstLine(err.Error())
				b.logf("%s: %v", w.ID, err)
			}
			for _, ip := range res.InProc {
				b.logf("%s: %s median %.0f MB/s", w.ID, ip.Name, median(ip.MBPerSec))
			}
		case kindIndexOnOff:
			res = b.runSideBySide(ctx, w)
			var rates []float64
			for _, r := range res.of(indexOn) {
				if r.Err == nil {
					rates = append(rates, r.IndexRate)
				}
			}
			b.brokerIndexRate = median(rates)
		case kindIndexRate:
			res = b.runIndexRate(ctx, w)
		case kindFreshness:
			res = b.runFreshness(ctx, w)
		case kindQuery:
			res = b.runQuery(ctx, w)
		}
		if o.profileDir != "" && (w.Kind == kindIndexRate || w.Kind == kindQuery) {
			p := filepath.Join(o.profileDir, w.ID+".pprof")
			if top, err := profileTop(ctx, "", p, 22); err == nil {
				b.logf("%s: hottest functions of this process:\n%s", w.ID, top)
			} else {
				b.logf("%s: %v", w.ID, err)
			}
		}
		if b.profile && w.Kind == kindIndexOnOff {
			p := catchUpProfile(filepath.Join(o.profileDir, w.ID+".pprof"))
			if top, err := profileTop(ctx, b.bin, p, 22); err == nil {
				b.logf("%s: hottest functions of our broker while the index caught up:\n%s", w.ID, top)
			} else {
				b.logf("%s: %v", w.ID, err)
			}
		}
		if b.profile && w.Kind.usesBroker() {
			p := filepath.Join(o.profileDir, w.ID+".pprof")
			if top, err := profileTop(ctx, b.bin, p, 22); err == nil {
				b.logf("%s: hottest functions of our broker:\n%s", w.ID, top)
			} else {
				b.logf("%s: %v", w.ID, err)
			}
			if top, err := profileTop(ctx, b.bin, p+".heap", 22, "-sample_index=inuse_space"); err == nil {
				b.logf("%s: heap in use of our broker at the end of the produce phase:\n%s", w.ID, top)
			} else {
				b.logf("%s: %v", w.ID, err)
			}
		}
		rep.Results = append(rep.Results, res)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted: %w", err)
	}
	rep.Machine.LoadEnd = loadAverage()
	b.logf("load average at the end %s", rep.Machine.LoadEnd)

	if o.charts != "none" {
		if rep.Charts, err = writeCharts(rep, o.charts); err != nil {
			return nil, err
		}
	}
	md := rep.markdown(o.out, o.charts)
	fmt.Fprintln(logOut)
	fmt.Fprintln(logOut, md)
	if o.out != "none" {
		if err := updateMarkdown(o.out, md); err != nil {
			return nil, err
		}
		b.logf("wrote %s", o.out)
	}
	return rep, nil
}

// firstLine returns s up to its first newline.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
