package main

import (
	"bytes"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"testing"
)

func TestMemoryFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FetchMemory != defaultFetchMemory || cfg.MemoryLimit != memoryLimitAuto {
		t.Fatalf("defaults: fetch memory %d, memory limit %d", cfg.FetchMemory, cfg.MemoryLimit)
	}
	if cfg.fetchMem == nil || cfg.fetchMem.Limit() != defaultFetchMemory {
		t.Fatalf("defaults: no fetch memory budget of %d bytes", defaultFetchMemory)
	}
	if want := cfg.Handler.BufferMemory + 2*defaultFetchMemory + memoryBase; memoryLimitFor(&cfg) != want {
		t.Fatalf("derived limit %d, want %d", memoryLimitFor(&cfg), want)
	}
	for _, c := range []struct {
		args  []string
		fetch int64
		limit int64
	}{
		{[]string{"-fetch-memory", "16MiB", "-memory-limit", "off"}, 16 << 20, memoryLimitOff},
		{[]string{"-fetch-memory", "64KiB", "-memory-limit", "512MiB"}, 64 << 10, 512 << 20},
		{[]string{"-memory-limit", "auto"}, defaultFetchMemory, memoryLimitAuto},
	} {
		cfg, err := parseFlags(c.args, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if cfg.FetchMemory != c.fetch || cfg.fetchMem.Limit() != c.fetch || cfg.MemoryLimit != c.limit {
			t.Errorf("%q: fetch memory %d, memory limit %d", c.args, cfg.FetchMemory, cfg.MemoryLimit)
		}
		// The flag prints as it was given.
		if got, want := (memoryLimitFlag{&cfg.MemoryLimit}).String(), c.args[len(c.args)-1]; got != want {
			t.Errorf("%q: -memory-limit prints as %q", c.args, got)
		}
	}
	for _, args := range [][]string{
		{"-fetch-memory", "1KiB"},
		{"-memory-limit", "lots"},
		{"-memory-limit", "512KiB"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg, err := parseFlags([]string{"-buffer-memory", "16MiB", "-fetch-memory", "4MiB"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOMEMLIMIT", "")
	applyMemoryLimit(&cfg, logger)
	if got, want := debug.SetMemoryLimit(-1), int64(16<<20+8<<20+memoryBase); got != want {
		t.Fatalf("derived limit %d, want %d", got, want)
	}
	if !strings.Contains(logs.String(), "limit="+formatBytes(16<<20+8<<20+memoryBase)) {
		t.Fatalf("the limit in force is not logged: %s", logs.String())
	}

	cfg.MemoryLimit = 300 << 20
	applyMemoryLimit(&cfg, logger)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("explicit limit %d", got)
	}

	// Off, and auto with GOMEMLIMIT set, leave the runtime's limit alone.
	cfg.MemoryLimit = memoryLimitOff
	applyMemoryLimit(&cfg, logger)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("-memory-limit off changed the limit to %d", got)
	}
	t.Setenv("GOMEMLIMIT", "300MiB")
	cfg.MemoryLimit = memoryLimitAuto
	applyMemoryLimit(&cfg, logger)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("auto with GOMEMLIMIT set changed the limit to %d", got)
	}
}
