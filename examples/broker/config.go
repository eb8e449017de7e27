package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chronik-go/chronik/internal/membudget"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
)

// config is everything the broker is started with: the command-line flags,
// parsed and checked.
type config struct {
	Listen         string // Kafka listener address (host:port; port 0 picks one)
	AdvertisedAddr string // host:port put in Metadata; "" = the actual listen address
	HTTP           string // HTTP listener address; "" or "none" disables it
	DataDir        string // root of the broker's files
	Storage        string // object store URL for sealed segments; "none" disables the tier
	NodeID         int32
	Partitions     int32 // partitions of auto-created topics
	AutoCreate     bool  // create unknown topics named in Metadata requests
	LogLevel       slog.Level

	// Handler is the produce handler's configuration (DataDir and NodeID
	// are filled in from the fields above).
	Handler produce.Config

	// Index tunes the search index (index_flags.go).
	Index indexConfig

	// IdleTimeout closes client connections idle this long (Kafka's
	// connections.max.idle.ms); 0 keeps them open (-connections-max-idle).
	IdleTimeout time.Duration

	// FetchMemory bounds the record bytes of Fetch responses being
	// assembled at once, across connections; it also caps one response,
	// as Kafka's fetch.max.bytes does (-fetch-memory).
	FetchMemory int64
	// MemoryLimit is the Go runtime's soft memory limit: memoryLimitAuto
	// derives it from the memory budgets (memoryLimitFor), memoryLimitOff
	// leaves the runtime's own (GOMEMLIMIT, or none) (-memory-limit).
	MemoryLimit int64
	// fetchMem is the FetchMemory budget every fetch of the broker
	// reserves from, made by finish.
	fetchMem *membudget.Budget

	// The transaction coordinator's settings (txn.Options).
	TxnMaxTimeout    time.Duration // largest transaction timeout a producer may ask for
	TxnAbortInterval time.Duration // how often transactions past their timeout are aborted

	// The group coordinator's settings (groupConfig).
	GroupMinSession   time.Duration // smallest session timeout JoinGroup accepts
	GroupMaxSession   time.Duration // largest session timeout JoinGroup accepts
	GroupInitialDelay time.Duration // how long the first rebalance of an empty group waits for more members

	// CrashAfterCommitMarkers is a test hook, never a flag: when positive
	// the process kills itself with SIGKILL right after its Nth COMMIT
	// marker is durable, writing markers one at a time, so that a test can
	// stop a commit between its PrepareCommit record and its last marker.
	// It is read from the environment variable crashHookEnv.
	CrashAfterCommitMarkers int
}

// crashHookEnv names the environment variable of the CrashAfterCommitMarkers
// test hook.
const crashHookEnv = "CHRONIK_BROKER_CRASH_AFTER_COMMIT_MARKERS"

// Layout of the data directory.
const (
	metadataFile = "metadata.db" // the bbolt metadata store
	logsDir      = "logs"        // one directory per topic-partition
	objectsDir   = "objects"     // the default file:// object store
)

// defaultConfig returns the flag defaults.
func defaultConfig() config {
	return config{
		Listen:     "127.0.0.1:9092",
		HTTP:       "127.0.0.1:8080",
		DataDir:    "./data",
		NodeID:     1,
		Partitions: 1,
		AutoCreate: true,
		LogLevel:   slog.LevelInfo,
		Handler:    brokerHandlerConfig(),
		Index:      defaultIndexConfig(),

		IdleTimeout: produce.DefaultIdleTimeout,
		FetchMemory: defaultFetchMemory,
		MemoryLimit: memoryLimitAuto,

		TxnMaxTimeout:    txn.DefaultMaxTransactionTimeout,
		TxnAbortInterval: txn.DefaultAbortTimedOutInterval,

		GroupMinSession:   defaultGroupMinSession,
		GroupMaxSession:   defaultGroupMaxSession,
		GroupInitialDelay: defaultGroupInitialDelay,
	}
}

// parseFlags parses the command line into a config. Usage and errors go to
// out; flag.ErrHelp is returned for -help.
func parseFlags(args []string, out io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: broker [flags]\n\n"+
			"A single-node Kafka-compatible broker built on chronik: Kafka clients\n"+
			"produce and consume with their default settings.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	h := &cfg.Handler
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "Kafka listener `address` (host:port; port 0 picks a free port)")
	fs.StringVar(&cfg.AdvertisedAddr, "advertised-addr", "", "`host:port` clients are told to connect to in Metadata responses (default: the actual listen address)")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "HTTP listener `address` (\"none\" disables it) for GET /healthz, GET /metrics, key lookups GET /{topic}/_key/{key}, and the search API: GET|POST /{topic}/_search (?q= or an Elasticsearch body), GET|POST /{topic}/_count, GET /{topic}/_doc/{id}, POST /{topic}/_rebuild, GET /_cat/indices")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data `directory`: metadata.db, logs/, index/ (with indexing on) and, by default, objects/")
	fs.StringVar(&cfg.Storage, "storage", "", "object store `URL` that sealed segments are archived to, e.g. s3://bucket?region=us-east-1 (default file://<abs data>/"+objectsDir+"?create_dir=true; \"none\" disables the tier)")
	nodeID := fs.Int("node-id", int(cfg.NodeID), "this broker's node `id`")
	partitions := fs.Int("partitions", int(cfg.Partitions), "partition `count` of auto-created topics")
	fs.BoolVar(&cfg.AutoCreate, "auto-create-topics", cfg.AutoCreate, "create unknown topics when a client's Metadata request allows it (Kafka auto.create.topics.enable)")
	fs.BoolVar(&h.EnableIdempotence, "enable-idempotence", h.EnableIdempotence, "check producer ids, epochs and sequences as Kafka does; when false InitProducerId is not offered and producer-id batches are appended unchecked")
	fs.BoolVar(&h.EnableTransactions, "enable-transactions", h.EnableTransactions, "accept transactional batches (when false they get TRANSACTIONAL_ID_AUTHORIZATION_FAILED)")
	fs.BoolVar(&h.EnableIndexing, "enable-indexing", h.EnableIndexing, "index every record of topics without a search.enabled config in the Bluge search index (topics can still opt in or out with search.enabled)")
	fs.IntVar(&h.MaxInFlightRequests, "max-in-flight", h.MaxInFlightRequests, "requests of one connection read ahead while earlier ones are answered")
	fs.Var(byteSizeInt{&h.BatchSize}, "batch-size", "unsynced `bytes` of a partition after which it is fsynced even when no acks=all request waits (suffixes KiB, MiB, GiB)")
	fs.DurationVar(&h.Linger, "linger", h.Linger, "longest a partition keeps written data unsynced when no acks=all request waits")
	fs.StringVar(&h.CompressionType, "compression-type", h.CompressionType, "`codec` for topics whose compression.type is producer: producer keeps the client's codec; none, gzip, snappy, lz4 or zstd recompress")
	fs.DurationVar(&h.RequestTimeout, "request-timeout", h.RequestTimeout, "longest a produce request waits for buffer memory and, with acks=all, for durability")
	fs.Var(byteSize{&h.BufferMemory}, "buffer-memory", "most record `bytes` requests in flight may hold at once (suffixes KiB, MiB, GiB)")
	fs.DurationVar(&cfg.IdleTimeout, "connections-max-idle", cfg.IdleTimeout, "close client connections with no request or response for this `duration` (Kafka connections.max.idle.ms); 0 keeps them open")
	fs.Var(byteSize{&cfg.FetchMemory}, "fetch-memory", "most record `bytes` of Fetch responses assembled at once, across connections; also the largest response (Kafka fetch.max.bytes)")
	fs.Var(memoryLimitFlag{&cfg.MemoryLimit}, "memory-limit", "Go soft memory `limit`: auto (derived from -buffer-memory and -fetch-memory), off (GOMEMLIMIT or none), or bytes")
	fs.DurationVar(&cfg.TxnMaxTimeout, "transaction-max-timeout", cfg.TxnMaxTimeout, "largest transaction timeout InitProducerId accepts (Kafka transaction.max.timeout.ms)")
	fs.DurationVar(&cfg.TxnAbortInterval, "transaction-abort-interval", cfg.TxnAbortInterval, "how often transactions older than their timeout are aborted (Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms)")
	fs.DurationVar(&cfg.GroupMinSession, "group-min-session-timeout", cfg.GroupMinSession, "smallest consumer session timeout JoinGroup accepts (Kafka group.min.session.timeout.ms)")
	fs.DurationVar(&cfg.GroupMaxSession, "group-max-session-timeout", cfg.GroupMaxSession, "largest consumer session timeout JoinGroup accepts (Kafka group.max.session.timeout.ms)")
	fs.DurationVar(&cfg.GroupInitialDelay, "group-initial-rebalance-delay", cfg.GroupInitialDelay, "how long the first rebalance of an empty group waits for more members (Kafka group.initial.rebalance.delay.ms)")
	cfg.Index.registerFlags(fs)
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := cfg.LogLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, fmt.Errorf("-log-level: %w", err)
	}
	if *nodeID < 0 || *nodeID > 1<<31-1 {
		return cfg, fmt.Errorf("-node-id %d: must be between 0 and 2147483647", *nodeID)
	}
	cfg.NodeID = int32(*nodeID)
	if *partitions < 1 || *partitions > metadata.MaxPartitions {
		return cfg, fmt.Errorf("-partitions %d: must be between 1 and %d", *partitions, metadata.MaxPartitions)
	}
	cfg.Partitions = int32(*partitions)
	if v := os.Getenv(crashHookEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return cfg, fmt.Errorf("%s=%q: not a marker count", crashHookEnv, v)
		}
		cfg.CrashAfterCommitMarkers = n
	}
	return cfg, cfg.finish()
}

// finish checks cfg and fills in the defaults that depend on other fields.
func (c *config) finish() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("-listen %q: %w", c.Listen, err)
	}
	if c.AdvertisedAddr != "" {
		if _, err := splitAdvertised(c.AdvertisedAddr); err != nil {
			return fmt.Errorf("-advertised-addr: %w", err)
		}
	}
	if c.HTTP == "none" {
		c.HTTP = ""
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			return fmt.Errorf("-http %q: %w", c.HTTP, err)
		}
	}
	if c.DataDir == "" {
		return errors.New("-data: a directory is required")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("-data %q: %w", c.DataDir, err)
	}
	c.DataDir = abs
	if c.Storage == "" {
		c.Storage = "file://" + filepath.ToSlash(filepath.Join(abs, objectsDir)) + "?create_dir=true"
	}
	if err := (txn.Options{MaxTransactionTimeout: c.TxnMaxTimeout, AbortTimedOutInterval: c.TxnAbortInterval}).Validate(); err != nil {
		return fmt.Errorf("-transaction-max-timeout or -transaction-abort-interval: %w", err)
	}
	if c.TxnMaxTimeout < time.Millisecond || c.TxnAbortInterval < time.Millisecond {
		return fmt.Errorf("-transaction-max-timeout %v and -transaction-abort-interval %v must be at least 1ms", c.TxnMaxTimeout, c.TxnAbortInterval)
	}
	if c.GroupMinSession < time.Millisecond || c.GroupMaxSession < c.GroupMinSession || c.GroupMaxSession > math.MaxInt32*time.Millisecond {
		return fmt.Errorf("-group-min-session-timeout %v and -group-max-session-timeout %v: need 1ms <= min <= max <= %v", c.GroupMinSession, c.GroupMaxSession, math.MaxInt32*time.Millisecond)
	}
	if c.GroupInitialDelay < 0 {
		return fmt.Errorf("-group-initial-rebalance-delay %v: must not be negative", c.GroupInitialDelay)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("-connections-max-idle %v: must not be negative", c.IdleTimeout)
	}
	if c.FetchMemory < minFetchMemory {
		return fmt.Errorf("-fetch-memory %d: must be at least %s", c.FetchMemory, formatBytes(minFetchMemory))
	}
	if err := c.Index.check(); err != nil {
		return err
	}
	c.fetchMem = membudget.New(c.FetchMemory)
	c.Handler.NodeID = c.NodeID
	c.Handler.DataDir = filepath.Join(abs, logsDir)
	if err := c.Handler.Validate(); err != nil {
		return err
	}
	return nil
}

// hostPort is an advertised listener address.
type hostPort struct {
	Host string
	Port int32
}

// splitAdvertised parses a host:port with a port in 1..65535.
func splitAdvertised(addr string) (hostPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return hostPort{}, fmt.Errorf("%q: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return hostPort{}, fmt.Errorf("%q: port must be between 1 and 65535", addr)
	}
	if host == "" {
		return hostPort{}, fmt.Errorf("%q: a host is required", addr)
	}
	return hostPort{Host: host, Port: int32(p)}, nil
}

// byteSize is a flag.Value for a byte count with an optional binary suffix.
type byteSize struct{ p *int64 }

func (b byteSize) String() string {
	if b.p == nil {
		return ""
	}
	return formatBytes(*b.p)
}

func (b byteSize) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b.p = n
	return nil
}

// byteSizeInt is byteSize for an int field.
type byteSizeInt struct{ p *int }

func (b byteSizeInt) String() string {
	if b.p == nil {
		return ""
	}
	return formatBytes(int64(*b.p))
}

func (b byteSizeInt) Set(s string) error {
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	if n > int64(^uint(0)>>1) {
		return fmt.Errorf("%q is too large", s)
	}
	*b.p = int(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// parseBytes parses "123", "64MiB", "1GiB" or "512KiB".
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count (e.g. 1048576, 512KiB, 64MiB)", s)
	}
	if n > (1<<63-1)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

// formatBytes prints n with the largest binary suffix that divides it.
func formatBytes(n int64) string {
	for _, u := range byteUnits[:3] {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// durationMs converts a Kafka millisecond count to a Duration.
func durationMs(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// brokerHandlerConfig is the library's default handler configuration with
// search indexing on: the example broker embeds a Bluge index.
func brokerHandlerConfig() produce.Config {
	c := produce.DefaultConfig()
	c.EnableIndexing = true
	return c
}
