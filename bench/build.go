package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// profileHook is compiled into the broker binary, through go build
// -overlay, only when CPU profiles are wanted; the repository is not
// changed. With the environment variable set, SIGUSR1 starts a CPU profile
// and SIGUSR2 stops it, writes a heap profile beside it (path + ".heap")
// and renames the CPU profile into place, so that a profile covers exactly
// a run's produce phase.
const profileHook = `package main

import (
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func init() {
	path := os.Getenv("` + profileEnv + `")
	if path == "" {
		return
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var f *os.File
		for s := range sig {
			switch {
			case s == syscall.SIGUSR1 && f == nil:
				var err error
				if f, err = os.Create(path + ".tmp"); err != nil {
					f = nil
					continue
				}
				if pprof.StartCPUProfile(f) != nil {
					f.Close()
					f = nil
				}
			case s == syscall.SIGUSR2 && f != nil:
				pprof.StopCPUProfile()
				f.Close()
				if h, err := os.Create(path + ".heap"); err == nil {
					pprof.Lookup("heap").WriteTo(h, 0)
					h.Close()
				}
				os.Rename(path+".tmp", path)
				f = nil
			}
		}
	}()
}
`

// buildBroker builds the example broker from the repository at repo into
// dir, with the profiling hook when profile is set.
func buildBroker(ctx context.Context, repo, dir string, profile bool) (string, error) {
	bin := filepath.Join(dir, "broker")
	args := []string{"build", "-o", bin}
	if profile {
		hook := filepath.Join(dir, "profile_hook.go")
		if err := os.WriteFile(hook, []byte(profileHook), 0o644); err != nil {
			return "", fmt.Errorf("build broker: %w", err)
		}
		ov, err := json.Marshal(map[string]map[string]string{"Replace": {
			filepath.Join(repo, "examples", "broker", "zz_bench_profile_hook.go"): hook,
		}})
		if err != nil {
			return "", fmt.Errorf("build broker: %w", err)
		}
		ovPath := filepath.Join(dir, "overlay.json")
		if err := os.WriteFile(ovPath, ov, 0o644); err != nil {
			return "", fmt.Errorf("build broker: %w", err)
		}
		args = append(args, "-overlay", ovPath)
	}
	args = append(args, "./examples/broker")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build broker: go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// findRepo returns the root of the chronik repository: the nearest
// directory at or above start whose go.mod declares the library's module.
func findRepo(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil {
			if bytes.Contains(b, []byte("module github.com/chronik-go/chronik\n")) {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no chronik repository at or above %s (use -repo)", start)
		}
		dir = parent
	}
}

// benchLine matches a go test benchmark result with a throughput.
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) MB/s`)

// inProcessBenchtime is what each in-process benchmark run handles: 4096
// requests of 8 x 16 KiB, 512 MiB, as much as the page-cache limit writes,
// so that both stay below the kernel's dirty-page thresholds. Longer runs
// of a handler that keeps its data end up throttled to the disk's
// writeback rate (vm.dirty_ratio), which is not what P5 measures.
const inProcessBenchtime = "4096x"

// runInProcess runs the produce package's in-process benchmarks count
// times in the repository and returns MB/s per benchmark.
func runInProcess(ctx context.Context, repo string, count int, benchtime string) ([]inprocResult, error) {
	args := []string{"test", "-run", "^$", "-bench", "^(BenchmarkHandleProduce|BenchmarkZstdDecodeBaseline|BenchmarkWriteBaseline)$",
		"-benchtime", benchtime, "-count", strconv.Itoa(count), "./produce"}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, lastLines(out, 20))
	}
	var res []inprocResult
	idx := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		i, ok := idx[m[1]]
		if !ok {
			i = len(res)
			idx[m[1]] = i
			res = append(res, inprocResult{Name: m[1]})
		}
		res[i].MBPerSec = append(res[i].MBPerSec, v)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go %s printed no benchmark result:\n%s", strings.Join(args, " "), lastLines(out, 20))
	}
	return res, nil
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// profileTop writes `go tool pprof -top` of a profile next to it and
// returns its first lines. bin is the profiled binary; "" for a profile
// of this process, whose symbols the profile carries.
func profileTop(ctx context.Context, bin, profile string, lines int, extra ...string) (string, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=30"}, extra...)
	if bin != "" {
		args = append(args, bin)
	}
	args = append(args, profile)
	cmd := exec.CommandContext(ctx, "go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("pprof %s: %w\n%s", profile, err, lastLines(out, 5))
	}
	if err := os.WriteFile(profile+".top.txt", out, 0o644); err != nil {
		return "", err
	}
	all := strings.Split(string(out), "\n")
	if len(all) > lines {
		all = all[:lines]
	}
	return strings.Join(all, "\n"), nil
}
