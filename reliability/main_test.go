package reliability

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Flags of the long runs, e.g.
//
//	go test ./reliability -run CrashLoop -iterations 100 -duration 20m -v -timeout 0
//	go test ./reliability -long -v -timeout 0
var (
	flagLong            = flag.Bool("long", false, "use the long-run defaults of every test (RELIABILITY.md)")
	flagIterations      = flag.Int("iterations", 0, "crash loop: SIGKILLs to deliver (default 5, 100 with -long)")
	flagDuration        = flag.Duration("duration", 0, "time bound of each test's main phase: crash loop, network fuzzing, overload (defaults 20s/5s/10s, 30m/3m/60s with -long)")
	flagInputs          = flag.Int("inputs", 0, "network fuzz: inputs to send at most (default 3000, 500000 with -long)")
	flagSeed            = flag.Uint64("seed", 0, "seed of every random choice (default: from the clock; always logged)")
	flagBrokerBin       = flag.String("broker-bin", "", "use this broker binary instead of building examples/broker")
	flagBrokerRace      = flag.Bool("broker-race", false, "build the broker with the race detector")
	flagKeep            = flag.Bool("keep", false, "keep data directories and broker logs (their paths are logged)")
	flagOverloadClients = flag.Int("overload-clients", 8, "overload: producer clients (connections) of the load generator")
	flagOverloadStrict  = flag.Bool("overload.strict", true, "fail TestOverload when the broker's RSS exceeds buffer memory + 128 MiB (false only logs it)")
	flagReplay          = flag.Int("replay", -1, "network fuzz: send only input number N of -seed, -inputs times")
)

// longOr returns long under -long and short otherwise.
func longOr[T any](short, long T) T {
	if *flagLong {
		return long
	}
	return short
}

// iterations is the crash loop's SIGKILL count.
func iterations() int {
	if *flagIterations > 0 {
		return *flagIterations
	}
	return longOr(5, 100)
}

// duration is the time bound of a test's main phase: -duration if set,
// else the test's short or long default.
func duration(short, long time.Duration) time.Duration {
	if *flagDuration > 0 {
		return *flagDuration
	}
	return longOr(short, long)
}

// newRand returns a seeded generator for test t and logs the seed, so that
// a failure can be replayed with -seed.
func newRand(t testing.TB) (*rand.Rand, uint64) {
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -seed %d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed
}

// workDir is the scratch directory tree shared by the package's tests.
var workDir string

func TestMain(m *testing.M) {
	if path := os.Getenv(loadgenEnv); path != "" {
		os.Exit(loadgenMain(path))
	}
	flag.Parse()
	dir, err := os.MkdirTemp("", "chronik-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	if *flagKeep {
		fmt.Fprintln(os.Stderr, "reliability: kept", dir)
	} else {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// testDir returns a fresh directory for t: removed at the end of the run
// unless -keep is set.
func testDir(t testing.TB, name string) string {
	t.Helper()
	d, err := os.MkdirTemp(workDir, name+"-")
	if err != nil {
		t.Fatal(err)
	}
	if *flagKeep {
		t.Logf("data and logs in %s", d)
	}
	return d
}

// build is one go build run in the background, at most once per test
// binary.
type build struct {
	once sync.Once
	done chan struct{} // closed when the build ended
	path string
	err  error
	took time.Duration
}

func newBuild() *build { return &build{done: make(chan struct{})} }

var (
	brokerBuild  = newBuild() // examples/broker
	loadgenBuild = newBuild() // this test binary without the race detector
)

// start runs `go <args...> -o out pkg` in the background unless it ran.
func (b *build) start(out string, args ...string) {
	b.once.Do(func() {
		b.path = out
		go func() { // owned by b: ends with the build
			defer close(b.done)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, goTool(), args...)
			var buf bytes.Buffer
			cmd.Stdout, cmd.Stderr = &buf, &buf
			if err := cmd.Run(); err != nil {
				b.err = fmt.Errorf("go %v: %w\n%s", args, err, buf.String())
			}
			b.took = time.Since(start)
		}()
	})
}

// wait returns the built file, failing t if the build failed.
func (b *build) wait(t testing.TB, what string) string {
	t.Helper()
	<-b.done
	if b.err != nil {
		t.Fatal(b.err)
	}
	t.Logf("%s built in %v", what, b.took.Round(time.Millisecond))
	return b.path
}

// brokerBinary builds examples/broker once per test binary (or returns
// -broker-bin) and skips the test where the harness cannot run. It also
// starts building the load generator when TestOverload will need it, so
// that the two builds overlap.
func brokerBinary(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the reliability harness reads /proc and needs Linux")
	}
	if raceEnabled && willRun("TestOverload") {
		startLoadgenBuild()
	}
	if *flagBrokerBin != "" {
		return *flagBrokerBin
	}
	out := filepath.Join(workDir, "broker")
	// -race is explicit both ways, so that GOFLAGS cannot change it.
	args := []string{"build", "-o", out, fmt.Sprintf("-race=%v", *flagBrokerRace)}
	brokerBuild.start(out, append(args, "github.com/chronik-go/chronik/examples/broker")...)
	return brokerBuild.wait(t, "broker binary")
}

// startLoadgenBuild starts building this package's test binary without
// the race detector.
func startLoadgenBuild() {
	out := filepath.Join(workDir, "loadgen.test")
	loadgenBuild.start(out, "test", "-c", "-race=false", "-o", out, "github.com/chronik-go/chronik/reliability")
}

// loadgenBinary returns a test binary of this package without the race
// detector, to run as TestOverload's load generator: this one when it has
// no race detector, else one built once.
func loadgenBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return exe
	}
	startLoadgenBuild()
	return loadgenBuild.wait(t, "load generator (test binary without -race)")
}

// willRun reports whether -run selects the top-level test name.
func willRun(name string) bool {
	f := flag.Lookup("test.run")
	if f == nil || f.Value.String() == "" {
		return true
	}
	pat, _, _ := strings.Cut(f.Value.String(), "/")
	ok, err := regexp.MatchString(pat, name)
	return err != nil || ok
}

// goTool returns the go command: `go test` puts GOROOT/bin first on PATH.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// openLog creates a broker log file in dir shared by every run of a test.
func openLog(t testing.TB, dir string) *syncWriter {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "broker.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &syncWriter{w: f}
}
