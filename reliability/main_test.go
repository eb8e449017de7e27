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
	"runtime"
	"sync"
	"testing"
	"time"
)

// Flags of the long runs, e.g.
//
//	go test ./reliability -run CrashLoop -iterations 100 -duration 20m -timeout 0
//	go test ./reliability -long -v -timeout 0
var (
	flagLong        = flag.Bool("long", false, "use the long-run defaults of every test (RELIABILITY.md)")
	flagIterations  = flag.Int("iterations", 0, "crash loop: SIGKILLs to deliver (default 6, 100 with -long)")
	flagDuration    = flag.Duration("duration", 0, "time bound of each test's main phase: crash loop, network fuzzing, overload (defaults 25s/6s/10s, 30m/3m/60s with -long)")
	flagInputs      = flag.Int("inputs", 0, "network fuzz: malformed inputs to send at most (default 3000, 500000 with -long)")
	flagSeed        = flag.Uint64("seed", 0, "seed of every random choice (default: from the clock; always logged)")
	flagBrokerBin   = flag.String("broker-bin", "", "use this broker binary instead of building examples/broker")
	flagBrokerRace  = flag.Bool("broker-race", false, "build the broker with the race detector")
	flagKeep        = flag.Bool("keep", false, "keep data directories and broker logs (their paths are logged)")
	flagStrictClose = flag.Bool("strict-close", false, "network fuzz: fail when a connection the broker closes loses the responses to requests sent before the malformed one (a known defect, see RELIABILITY.md)")
	flagReplay      = flag.Int("replay", -1, "network fuzz: send only input number N of -seed, -inputs times")
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
	return longOr(6, 100)
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

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildTime time.Duration
)

// brokerBinary builds examples/broker once per test binary (or returns
// -broker-bin) and skips the test where the harness cannot run.
func brokerBinary(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the reliability harness reads /proc and needs Linux")
	}
	if *flagBrokerBin != "" {
		return *flagBrokerBin
	}
	buildOnce.Do(func() {
		start := time.Now()
		buildBin = filepath.Join(workDir, "broker")
		args := []string{"build", "-o", buildBin}
		if *flagBrokerRace {
			args = append(args, "-race")
		}
		args = append(args, "github.com/chronik-go/chronik/examples/broker")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			buildErr = fmt.Errorf("go %v: %w\n%s", args, err, out.String())
		}
		buildTime = time.Since(start)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	t.Logf("broker binary built in %v", buildTime.Round(time.Millisecond))
	return buildBin
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
