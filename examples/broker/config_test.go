package main

import (
	"bytes"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFlagDefaults(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("./data")
	h := cfg.Handler
	switch {
	case cfg.Listen != "127.0.0.1:9092", cfg.HTTP != "127.0.0.1:8080", cfg.AdvertisedAddr != "":
		t.Errorf("addresses %q %q %q", cfg.Listen, cfg.HTTP, cfg.AdvertisedAddr)
	case cfg.DataDir != abs || h.DataDir != filepath.Join(abs, "logs"):
		t.Errorf("data %q, handler data %q", cfg.DataDir, h.DataDir)
	case cfg.Storage != "file://"+filepath.ToSlash(filepath.Join(abs, "objects"))+"?create_dir=true":
		t.Errorf("storage %q", cfg.Storage)
	case cfg.NodeID != 1 || h.NodeID != 1 || cfg.Partitions != 1 || !cfg.AutoCreate:
		t.Errorf("node %d/%d partitions %d auto-create %v", cfg.NodeID, h.NodeID, cfg.Partitions, cfg.AutoCreate)
	case !h.EnableIdempotence || !h.EnableTransactions || !h.EnableIndexing:
		t.Errorf("idempotence %v transactions %v indexing %v", h.EnableIdempotence, h.EnableTransactions, h.EnableIndexing)
	case cfg.TxnMaxTimeout != 15*time.Minute || cfg.TxnAbortInterval != 10*time.Second:
		t.Errorf("transaction timeouts %v %v", cfg.TxnMaxTimeout, cfg.TxnAbortInterval)
	case cfg.GroupMinSession != 6*time.Second || cfg.GroupMaxSession != 30*time.Minute || cfg.GroupInitialDelay != 3*time.Second:
		t.Errorf("group settings %v %v %v", cfg.GroupMinSession, cfg.GroupMaxSession, cfg.GroupInitialDelay)
	case h.MaxInFlightRequests != 5 || h.BatchSize != 1<<20 || h.Linger != 5*time.Millisecond || h.CompressionType != "producer" || h.RequestTimeout != 30*time.Second || h.BufferMemory != 64<<20:
		t.Errorf("handler config %+v", h)
	}
}

func TestFlagsParsed(t *testing.T) {
	var out bytes.Buffer
	cfg, err := parseFlags([]string{
		"-listen", "127.0.0.1:0", "-advertised-addr", "broker.local:9092", "-http", "none", "-data", "/tmp/x",
		"-storage", "mem://", "-node-id", "3", "-partitions", "6", "-auto-create-topics=false",
		"-enable-idempotence=false", "-enable-transactions=false", "-max-in-flight", "1", "-batch-size", "256KiB",
		"-linger", "20ms", "-compression-type", "zstd", "-request-timeout", "5s", "-buffer-memory", "1GiB", "-log-level", "debug",
		"-transaction-max-timeout", "1m", "-transaction-abort-interval", "250ms", "-group-min-session-timeout", "1s",
		"-group-max-session-timeout", "2m", "-group-initial-rebalance-delay", "0s",
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Handler
	if cfg.HTTP != "" || cfg.Storage != "mem://" || cfg.NodeID != 3 || h.NodeID != 3 || cfg.Partitions != 6 || cfg.AutoCreate ||
		h.EnableIdempotence || h.EnableTransactions || h.MaxInFlightRequests != 1 || h.BatchSize != 256<<10 ||
		h.Linger != 20*time.Millisecond || h.CompressionType != "zstd" || h.RequestTimeout != 5*time.Second ||
		h.BufferMemory != 1<<30 || cfg.LogLevel.String() != "DEBUG" || cfg.AdvertisedAddr != "broker.local:9092" ||
		cfg.TxnMaxTimeout != time.Minute || cfg.TxnAbortInterval != 250*time.Millisecond || cfg.GroupMinSession != time.Second ||
		cfg.GroupMaxSession != 2*time.Minute || cfg.GroupInitialDelay != 0 || cfg.CrashAfterCommitMarkers != 0 {
		t.Fatalf("parsed %+v", cfg)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-partitions", "0"},
		{"-node-id", "-1"},
		{"-listen", "nowhere"},
		{"-advertised-addr", "host"},
		{"-advertised-addr", "host:0"},
		{"-http", "x"},
		{"-buffer-memory", "lots"},
		{"-buffer-memory", "512KiB"}, // below the handler's 1 MiB minimum
		{"-compression-type", "brotli"},
		{"-max-in-flight", "0"},
		{"-enable-idempotence=false"}, // transactions need idempotence
		{"-log-level", "loud"},
		{"-transaction-max-timeout", "0s"},
		{"-transaction-max-timeout", "1000h"}, // above MaxInt32 ms
		{"-transaction-abort-interval", "0s"},
		{"-group-min-session-timeout", "0s"},
		{"-group-min-session-timeout", "10s", "-group-max-session-timeout", "5s"},
		{"-group-initial-rebalance-delay", "-1s"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"-help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v", err)
	}
	for _, name := range []string{"listen", "advertised-addr", "http", "data", "storage", "node-id", "partitions",
		"auto-create-topics", "enable-idempotence", "enable-transactions", "enable-indexing", "max-in-flight",
		"batch-size", "linger", "compression-type", "request-timeout", "buffer-memory", "log-level",
		"transaction-max-timeout", "transaction-abort-interval", "group-min-session-timeout",
		"group-max-session-timeout", "group-initial-rebalance-delay", "connections-max-idle"} {
		if !strings.Contains(out.String(), "  -"+name) {
			t.Errorf("-help does not document -%s", name)
		}
	}
}

func TestByteSizes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "64MiB": 64 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "7B": 7, " 2 MiB ": 2 << 20} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "MiB", "9999999999999GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
	for n, want := range map[int64]string{0: "0", 1 << 20: "1MiB", 3 << 30: "3GiB", 3072: "3KiB", 1536: "1536"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestCrashHookFromEnvironment: the test hook is read from the
// environment only, and a malformed value is refused.
func TestCrashHookFromEnvironment(t *testing.T) {
	t.Setenv(crashHookEnv, "2")
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || cfg.CrashAfterCommitMarkers != 2 {
		t.Fatalf("hook %d, %v", cfg.CrashAfterCommitMarkers, err)
	}
	t.Setenv(crashHookEnv, "soon")
	if _, err := parseFlags(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), crashHookEnv) {
		t.Fatalf("malformed hook accepted: %v", err)
	}
}
