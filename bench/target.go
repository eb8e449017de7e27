package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// target is one broker a workload runs against: the example broker in its
// own process or kfake inside this one. It is the plug-in point that lets
// every workload drive both with the same client code.
type target interface {
	// Addr is the Kafka listener's host:port.
	Addr() string
	// PID is the broker's process id, 0 when it runs in this process.
	PID() int
	// Stop shuts the broker down, removes its data and reports an error if
	// it did not stop cleanly.
	Stop() error
}

// peerMode is how kfake keeps its data.
type peerMode int

const (
	peerNone     peerMode = iota // no peer run (the workload has no counterpart)
	peerMemory                   // in memory only
	peerSegments                 // kfake.DataDir: segment files, page cache only
	peerSync                     // kfake.DataDir + kfake.SyncWrites: fsync of segment and index file per batch
)

func (m peerMode) String() string {
	switch m {
	case peerMemory:
		return "kfake in memory"
	case peerSegments:
		return "kfake with segment files"
	case peerSync:
		return "kfake with fsync per batch"
	}
	return "no peer"
}

// kfakeTarget is a one-broker kfake cluster in this process.
type kfakeTarget struct {
	c   *kfake.Cluster
	dir string // data directory; "" in memory
}

// startKfake starts a one-broker kfake cluster on a loopback port, with a
// fresh data directory under base for the persistent modes.
func startKfake(mode peerMode, base string) (*kfakeTarget, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	t := &kfakeTarget{}
	if mode == peerSegments || mode == peerSync {
		dir, err := os.MkdirTemp(base, "kfake-")
		if err != nil {
			return nil, fmt.Errorf("kfake: data directory: %w", err)
		}
		t.dir = dir
		opts = append(opts, kfake.DataDir(dir))
		if mode == peerSync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		if t.dir != "" {
			os.RemoveAll(t.dir)
		}
		return nil, fmt.Errorf("kfake: %w", err)
	}
	t.c = c
	return t, nil
}

func (t *kfakeTarget) Addr() string { return t.c.ListenAddrs()[0] }

func (t *kfakeTarget) PID() int { return 0 }

func (t *kfakeTarget) Stop() error {
	t.c.Close()
	if t.dir != "" {
		if err := os.RemoveAll(t.dir); err != nil {
			return fmt.Errorf("kfake: remove data: %w", err)
		}
	}
	return nil
}

// chronikTarget is the example broker running as a child process with a
// fresh data directory.
type chronikTarget struct {
	cmd      *exec.Cmd
	dir      string
	addr     string // Kafka listener
	httpAddr string // HTTP listener
	log      *tailBuffer
	exited   chan struct{} // closed when the process has been waited for
	waitErr  error         // set before exited is closed
	profile  string        // CPU profile path when the binary has the profiling hook
}

// readyTimeout bounds how long the broker may take to print its ready line.
const readyTimeout = 60 * time.Second

// stopTimeout bounds a clean shutdown before the process is killed.
const stopTimeout = 60 * time.Second

// startChronik starts the broker binary on loopback ports chosen by the
// kernel with a fresh data directory under base, search indexing on or
// off, and the given extra flags, and waits for its "broker ready" log
// line, which names both addresses. profile, when set, is where the
// profiling hook writes a CPU profile.
func startChronik(ctx context.Context, bin, base string, indexing bool, extra []string, profile string) (*chronikTarget, error) {
	dir, err := os.MkdirTemp(base, "chronik-")
	if err != nil {
		return nil, fmt.Errorf("broker: data directory: %w", err)
	}
	// Search indexing is off except where a workload measures it (P6-P7):
	// kfake does not index, and P1-P5 and P9 measure the produce path
	// alone.
	args := append([]string{"-listen", "127.0.0.1:0", "-http", "127.0.0.1:0", "-data", dir, "-log-level", "info",
		"-enable-indexing=" + strconv.FormatBool(indexing)}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	if profile != "" {
		cmd.Env = append(cmd.Env, profileEnv+"="+profile)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("broker: %w", err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("broker: start %s: %w", bin, err)
	}
	t := &chronikTarget{cmd: cmd, dir: dir, log: newTailBuffer(40), exited: make(chan struct{}), profile: profile}
	ready := make(chan [2]string, 1)
	go func() { // owned by the target: ends when the process closes stderr
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			t.log.add(line)
			if !sent && strings.Contains(line, `msg="broker ready"`) {
				ready <- [2]string{logField(line, "kafka"), logField(line, "http")}
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
		t.waitErr = cmd.Wait()
		close(t.exited)
	}()
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case a := <-ready:
		t.addr, t.httpAddr = a[0], a[1]
		if t.addr == "" {
			t.kill()
			return nil, fmt.Errorf("broker: ready line without a kafka address: %s", t.log)
		}
		return t, nil
	case <-t.exited:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("broker exited before it was ready (%v): %s", t.waitErr, t.log)
	case <-timer.C:
		t.kill()
		return nil, fmt.Errorf("broker not ready after %v: %s", readyTimeout, t.log)
	case <-ctx.Done():
		t.kill()
		return nil, ctx.Err()
	}
}

// logField returns the value of key=value in a log/slog text line.
func logField(line, key string) string {
	i := strings.Index(line, " "+key+"=")
	if i < 0 {
		return ""
	}
	v := line[i+len(key)+2:]
	if j := strings.IndexByte(v, ' '); j >= 0 {
		v = v[:j]
	}
	return strings.Trim(v, `"`)
}

func (t *chronikTarget) Addr() string { return t.addr }

func (t *chronikTarget) PID() int { return t.cmd.Process.Pid }

// kill ends the process at once and removes its data.
func (t *chronikTarget) kill() {
	t.cmd.Process.Kill()
	<-t.exited
	os.RemoveAll(t.dir)
}

// Stop sends SIGTERM, waits for a clean exit (status 0) and removes the
// data directory; a broker that does not exit in time is killed.
func (t *chronikTarget) Stop() error {
	defer os.RemoveAll(t.dir)
	if err := t.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("broker: SIGTERM: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-t.exited:
	case <-timer.C:
		t.cmd.Process.Kill()
		<-t.exited
		return fmt.Errorf("broker did not stop within %v after SIGTERM: %s", stopTimeout, t.log)
	}
	if t.waitErr != nil {
		return fmt.Errorf("broker stopped uncleanly (%v): %s", t.waitErr, t.log)
	}
	return nil
}

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) < 1 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// tailBuffer keeps the last lines of a child's log for error messages.
type tailBuffer struct {
	mu    sync.Mutex // guards lines
	lines []string
	max   int
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) == b.max {
		copy(b.lines, b.lines[1:])
		b.lines = b.lines[:b.max-1]
	}
	b.lines = append(b.lines, line)
}

// String returns the kept lines, newest last.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) == 0 {
		return "(no log output)"
	}
	return "last log lines:\n" + strings.Join(b.lines, "\n")
}
