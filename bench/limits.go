package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// machine is what the report says about the machine a run used.
type machine struct {
	NumCPU     int
	GOMAXPROCS int
	CPU        string
	Kernel     string
	Go         string
	MemTotal   string
	Date       time.Time
	LoadStart  string // /proc/loadavg at the start
	LoadEnd    string // and at the end
	Commit     string // of the repository, "+dirty" when it has changes
}

// readMachine collects the machine facts known at the start of a run.
func readMachine(repo string) machine {
	m := machine{
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPU:        "unknown",
		Kernel:     strings.TrimSpace(readFileString("/proc/sys/kernel/osrelease")),
		Go:         runtime.Version(),
		Date:       time.Now().UTC(),
		LoadStart:  loadAverage(),
	}
	for _, line := range strings.Split(readFileString("/proc/cpuinfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
			break
		}
	}
	for _, line := range strings.Split(readFileString("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	if out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", repo, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
			m.Commit += "+dirty"
		}
	}
	return m
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	f := strings.Fields(readFileString("/proc/loadavg"))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func readFileString(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// limitSample is one measurement of a physical limit, in bytes per second.
type limitSample struct {
	BytesPerSec float64
	FsyncP50    time.Duration // for the fsync limit
}

// limits are the machine's physical limits measured in this run, each
// several times.
type limits struct {
	Fsync     []limitSample // 16 KiB writes, fsync every 1 MiB
	PageCache []limitSample // 16 KiB writes, no fsync
	TCP       []limitSample // loopback stream of 1 MiB writes
}

// median returns the median rate of samples, 0 when there are none.
func medianRate(s []limitSample) float64 {
	v := make([]float64, len(s))
	for i, x := range s {
		v[i] = x.BytesPerSec
	}
	return median(v)
}

// of returns the limit a workload is compared with, in bytes per second.
func (l *limits) of(k limitKind) float64 {
	switch k {
	case limitFsync:
		return medianRate(l.Fsync)
	case limitPageCache:
		pc, tcp := medianRate(l.PageCache), medianRate(l.TCP)
		if pc == 0 || (tcp > 0 && tcp < pc) {
			return tcp
		}
		return pc
	case limitTCP:
		return medianRate(l.TCP)
	}
	return 0
}

// measureLimits measures each limit reps times: fsyncBytes written with an
// fsync every 1 MiB and pageBytes written without, in 16 KiB writes to a
// file under dir, and tcpBytes streamed over loopback.
func measureLimits(ctx context.Context, dir string, reps int, fsyncBytes, pageBytes, tcpBytes int64) (limits, error) {
	var l limits
	for range reps {
		if err := ctx.Err(); err != nil {
			return l, err
		}
		s, err := seqWrite(dir, fsyncBytes, 1<<20)
		if err != nil {
			return l, err
		}
		l.Fsync = append(l.Fsync, s)
		if s, err = seqWrite(dir, pageBytes, 0); err != nil {
			return l, err
		}
		l.PageCache = append(l.PageCache, s)
		if s, err = loopbackStream(tcpBytes); err != nil {
			return l, err
		}
		l.TCP = append(l.TCP, s)
	}
	return l, nil
}

// seqWrite writes total bytes in 16 KiB writes to a new file in dir,
// calling fsync every syncEvery bytes (never when 0) and once at the end
// when syncing, and removes the file.
func seqWrite(dir string, total, syncEvery int64) (limitSample, error) {
	f, err := os.CreateTemp(dir, "limit-*.dat")
	if err != nil {
		return limitSample{}, fmt.Errorf("limits: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 16<<10)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	var syncs []time.Duration
	var unsynced int64
	start := time.Now()
	for written := int64(0); written < total; written += int64(len(buf)) {
		if _, err := f.Write(buf); err != nil {
			return limitSample{}, fmt.Errorf("limits: write %s: %w", f.Name(), err)
		}
		unsynced += int64(len(buf))
		if syncEvery > 0 && unsynced >= syncEvery {
			t := time.Now()
			if err := f.Sync(); err != nil {
				return limitSample{}, fmt.Errorf("limits: fsync %s: %w", f.Name(), err)
			}
			syncs = append(syncs, time.Since(t))
			unsynced = 0
		}
	}
	if syncEvery > 0 && unsynced > 0 {
		if err := f.Sync(); err != nil {
			return limitSample{}, fmt.Errorf("limits: fsync %s: %w", f.Name(), err)
		}
	}
	el := time.Since(start)
	s := limitSample{BytesPerSec: float64(total) / el.Seconds()}
	if len(syncs) > 0 {
		slices.Sort(syncs)
		s.FsyncP50 = syncs[len(syncs)/2]
	}
	return s, nil
}

// loopbackStream sends total bytes over a loopback TCP connection in 1 MiB
// writes to a reader that discards them, and checks every byte arrived.
func loopbackStream(total int64) (limitSample, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return limitSample{}, fmt.Errorf("limits: %w", err)
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() { // owned by loopbackStream: ends when the sender closes
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(io.Discard, c, make([]byte, 1<<20))
		got <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return limitSample{}, fmt.Errorf("limits: %w", err)
	}
	buf := make([]byte, 1<<20)
	start := time.Now()
	for sent := int64(0); sent < total; sent += int64(len(buf)) {
		if _, err := c.Write(buf); err != nil {
			c.Close()
			return limitSample{}, fmt.Errorf("limits: loopback write: %w", err)
		}
	}
	c.Close()
	n := <-got
	el := time.Since(start)
	want := (total + int64(len(buf)) - 1) / int64(len(buf)) * int64(len(buf))
	if n != want {
		return limitSample{}, fmt.Errorf("limits: loopback received %d bytes, sent %d", n, want)
	}
	return limitSample{BytesPerSec: float64(n) / el.Seconds()}, nil
}

// tempBase returns the directory runs keep their data in: dir when set,
// else a new directory under the system's temporary directory.
func tempBase(dir string) (string, func(), error) {
	if dir == "" {
		dir = os.TempDir()
	}
	base, err := os.MkdirTemp(dir, "chronik-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("temporary directory: %w", err)
	}
	abs, _ := filepath.Abs(base)
	return abs, func() { os.RemoveAll(abs) }, nil
}
