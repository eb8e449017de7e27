package reliability

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// readyLine is the broker's log line once it accepts connections
// (examples/broker run: msg="broker ready" kafka=... advertised=... http=...).
var readyLine = regexp.MustCompile(`msg="broker ready" kafka=(\S+) advertised=\S+ http=(\S*)`)

// cleanStopLine is logged by the broker when every component closed cleanly.
const cleanStopLine = `msg="broker stopped cleanly"`

// tailLines is how many of the last stderr lines a process keeps for error
// messages.
const tailLines = 40

// brokerProcess is one run of the broker binary. Its stderr is copied line
// by line to a log shared by every run of the same test and scanned for the
// ready line and for panics.
type brokerProcess struct {
	cmd    *exec.Cmd
	out    *stderrWatch
	kafka  string        // Kafka listener host:port from the ready line
	http   string        // HTTP listener host:port from the ready line
	exited chan struct{} // closed once Wait returned; waitErr is then set
	// waitErr is the process's exit status (nil for status 0).
	waitErr error
}

// brokerCmd is how to run the broker: its binary and flags.
type brokerCmd struct {
	bin  string
	args []string
}

// startBroker runs the broker, copying its stderr to log (which may be
// shared by several runs), and waits up to readyTimeout for the ready line.
// If ctx ends or the process exits first, it is killed and an error with the
// last stderr lines is returned.
func startBroker(ctx context.Context, bc brokerCmd, log *syncWriter, readyTimeout time.Duration) (*brokerProcess, error) {
	p, err := launchBroker(bc, log)
	if err != nil {
		return nil, err
	}
	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case m := <-p.out.ready:
		p.kafka, p.http = m[0], m[1]
		return p, nil
	case <-p.exited:
		return nil, fmt.Errorf("reliability: broker pid %d exited before ready (%v):\n%s", p.pid(), p.waitErr, p.out.tail())
	case <-timer.C:
		p.kill()
		return nil, fmt.Errorf("reliability: broker pid %d not ready after %v:\n%s", p.pid(), readyTimeout, p.out.tail())
	case <-ctx.Done():
		p.kill()
		return nil, fmt.Errorf("reliability: start broker: %w", ctx.Err())
	}
}

// launchBroker runs the broker and returns at once, without waiting for
// the ready line (so that a caller can also kill the broker while it
// recovers its data).
func launchBroker(bc brokerCmd, log *syncWriter) (*brokerProcess, error) {
	p := &brokerProcess{exited: make(chan struct{}), out: newStderrWatch(log)}
	p.cmd = exec.Command(bc.bin, bc.args...)
	p.cmd.Stdout = io.Discard
	p.cmd.Stderr = p.out
	p.cmd.SysProcAttr = childAttr()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("reliability: start broker: %w", err)
	}
	go func() { // owned by p: ends once the process has exited and its stderr is drained
		p.waitErr = p.cmd.Wait()
		p.out.flush()
		close(p.exited)
	}()
	return p, nil
}

// pid is the process id.
func (p *brokerProcess) pid() int { return p.cmd.Process.Pid }

// alive reports whether the process has not exited.
func (p *brokerProcess) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to be reaped.
func (p *brokerProcess) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// terminate sends SIGTERM and waits up to timeout for a clean exit: status
// 0 and the broker's clean-stop log line. On timeout the process is killed.
func (p *brokerProcess) terminate(timeout time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("reliability: SIGTERM broker pid %d: %w", p.pid(), err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("reliability: broker pid %d still running %v after SIGTERM:\n%s", p.pid(), timeout, p.out.tail())
	}
	if p.waitErr != nil {
		return fmt.Errorf("reliability: broker pid %d exited with %v after SIGTERM:\n%s", p.pid(), p.waitErr, p.out.tail())
	}
	if !p.out.sawCleanStop() {
		return fmt.Errorf("reliability: broker pid %d exited without %s:\n%s", p.pid(), cleanStopLine, p.out.tail())
	}
	return nil
}

// panics returns the stderr lines that mention a panic.
func (p *brokerProcess) panics() []string { return p.out.panicLines() }

// tail returns the last lines the process wrote to stderr.
func (p *brokerProcess) tail() string { return p.out.tail() }

// stderrWatch is the broker's stderr: it copies complete lines to the shared
// log, remembers the last few, sends the ready line's addresses once, and
// collects lines mentioning a panic.
type stderrWatch struct {
	log   *syncWriter
	ready chan [2]string // buffered; receives the addresses of the ready line once

	mu        sync.Mutex // guards the fields below
	partial   []byte     // an incomplete last line
	last      []string   // ring of the last tailLines lines, oldest first
	panicked  []string
	readySent bool
	cleanStop bool
}

func newStderrWatch(log *syncWriter) *stderrWatch {
	return &stderrWatch{log: log, ready: make(chan [2]string, 1)}
}

// Write implements io.Writer for exec.Cmd's stderr copier.
func (w *stderrWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) == 0 {
		w.partial = nil
	}
	return len(b), nil
}

// flush handles an unterminated last line once the process has exited.
func (w *stderrWatch) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.partial) > 0 {
		w.line(string(w.partial))
		w.partial = nil
	}
}

// line handles one complete line; w.mu is held.
func (w *stderrWatch) line(s string) {
	if w.log != nil {
		_, _ = w.log.Write([]byte(s + "\n"))
	}
	if len(w.last) == tailLines {
		w.last = append(w.last[:0], w.last[1:]...)
	}
	w.last = append(w.last, s)
	if strings.Contains(strings.ToLower(s), "panic") {
		w.panicked = append(w.panicked, s)
	}
	if strings.Contains(s, cleanStopLine) {
		w.cleanStop = true
	}
	if !w.readySent {
		if m := readyLine.FindStringSubmatch(s); m != nil {
			w.readySent = true
			w.ready <- [2]string{m[1], m[2]}
		}
	}
}

func (w *stderrWatch) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.last, "\n")
}

func (w *stderrWatch) panicLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.panicked...)
}

func (w *stderrWatch) sawCleanStop() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cleanStop
}

// syncWriter serializes writes to an io.Writer shared by several processes'
// stderr copiers.
type syncWriter struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

// Write implements io.Writer.
func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// freeLoopbackAddr returns a 127.0.0.1 address whose port was free a moment
// ago, for a broker that must listen on the same port across restarts.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("reliability: pick a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("reliability: pick a free port: %w", err)
	}
	return addr, nil
}

// errNoProcfs is returned where /proc/PID/status lacks a memory line.
var errNoProcfs = errors.New("reliability: no memory line in /proc/PID/status")

// procMem is a process's resident memory from /proc/PID/status, in bytes.
type procMem struct {
	RSS  int64 // VmRSS: every resident page
	Anon int64 // RssAnon: anonymous pages (the Go heap, stacks); the rest is mapped files and shared memory
}

// readRSS returns the resident set size of process pid in bytes (VmRSS).
func readRSS(pid int) (int64, error) {
	m, err := readMem(pid)
	return m.RSS, err
}

// readMem reads the resident memory of process pid.
func readMem(pid int) (procMem, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procMem{}, fmt.Errorf("reliability: read memory of pid %d: %w", pid, err)
	}
	return parseStatusMem(b)
}

// parseStatusMem reads the VmRSS and RssAnon lines ("VmRSS:	   40436
// kB") of a /proc/PID/status file.
func parseStatusMem(status []byte) (procMem, error) {
	var m procMem
	found := 0
	for line := range bytes.SplitSeq(status, []byte{'\n'}) {
		var dst *int64
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if ok {
			dst = &m.RSS
		} else if rest, ok = bytes.CutPrefix(line, []byte("RssAnon:")); ok {
			dst = &m.Anon
		} else {
			continue
		}
		f := strings.Fields(string(rest))
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("reliability: status line %q: want \"<n> kB\"", line)
		}
		var kb int64
		if _, err := fmt.Sscan(f[0], &kb); err != nil || kb < 0 {
			return m, fmt.Errorf("reliability: status line %q: %v", line, err)
		}
		*dst = kb << 10
		found++
	}
	if found != 2 {
		return m, errNoProcfs
	}
	return m, nil
}

// rssSampler reads a process's resident memory at a fixed interval and
// keeps the largest values overall and per named phase.
type rssSampler struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex // guards the fields below
	max      procMem
	samples  int
	phase    string             // the current phase; "" before the first split
	phaseMax map[string]procMem // largest values per phase
	err      error              // first read error
}

// sampleRSS starts sampling pid every interval until stopRSS.
func sampleRSS(pid int, interval time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stop: make(chan struct{}), done: make(chan struct{}), phaseMax: map[string]procMem{}}
	go func() { // owned by s: ends at stopRSS
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	m, err := readMem(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.samples++
	s.max = maxMem(s.max, m)
	s.phaseMax[s.phase] = maxMem(s.phaseMax[s.phase], m)
}

// maxMem is the field-wise maximum.
func maxMem(a, b procMem) procMem {
	return procMem{RSS: max(a.RSS, b.RSS), Anon: max(a.Anon, b.Anon)}
}

// split takes one sample, then attributes later samples to phase.
func (s *rssSampler) split(phase string) {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = phase
}

// phaseMem returns the largest values sampled during phase.
func (s *rssSampler) phaseMem(phase string) procMem {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.phaseMax[phase]
}

// stopRSS ends sampling and returns the largest values seen, the number of
// samples and the first read error.
func (s *rssSampler) stopRSS() (peak procMem, samples int, err error) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, s.samples, s.err
}
