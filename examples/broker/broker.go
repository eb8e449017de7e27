package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/chronik-go/chronik/index"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chronik-go/chronik/idempotence"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/txn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// addrs are the addresses the broker actually listens on, sent to run's
// ready channel once both listeners accept connections.
type addrs struct {
	Kafka string // host:port of the Kafka listener
	HTTP  string // host:port of the HTTP listener; "" when disabled
}

// broker is one running broker: the library components a host wires
// together plus the Kafka APIs a produce-only library leaves to its host.
type broker struct {
	cfg        config
	logger     *slog.Logger
	meta       *metadata.Bolt
	store      storage.ObjectStore // nil when the object-store tier is disabled
	handler    *produce.Handler
	txn        *txn.Coordinator  // transactions, and every group's committed offsets
	groups     *groupCoordinator // consumer group membership
	registry   *prometheus.Registry
	advertised hostPort
	clusterID  string
	apis       []apiRange // what ApiVersions advertises, by API key
	pids       *idempotence.IDAllocator
	index      *index.Bluge    // the search index
	pipeline   *index.Pipeline // feeds the index from the partition logs
	data       notifier        // woken when produce requests complete
	ready      atomic.Bool
}

// shutdownTimeout bounds how long the HTTP server waits for requests in
// flight at shutdown.
const shutdownTimeout = 5 * time.Second

// run starts a broker with cfg, sends its addresses to ready (if not nil)
// once it accepts connections, and serves until ctx is cancelled. Then it
// stops accepting, lets every connection finish the requests it already
// read, flushes and closes the partition logs, and returns. It returns an
// error if the broker cannot start or a component fails to close cleanly.
func run(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- addrs) (err error) {
	b, err := open(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.close()) }()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("broker: kafka listener: %w", err)
	}
	defer ln.Close()
	if b.advertised, err = advertisedAddr(cfg.AdvertisedAddr, ln.Addr()); err != nil {
		return fmt.Errorf("broker: advertised address: %w", err)
	}
	var httpLn net.Listener
	if cfg.HTTP != "" {
		if httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return fmt.Errorf("broker: http listener: %w", err)
		}
		defer httpLn.Close()
	}

	var wg sync.WaitGroup
	srv := &http.Server{Handler: b.httpHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if httpLn != nil {
		wg.Add(1)
		go func() { // owned by run: ends at srv.Shutdown
			defer wg.Done()
			if err := srv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("http server stopped", "err", err)
			}
		}()
	}

	var conns sync.WaitGroup
	acceptDone := make(chan struct{})
	go func() { // owned by run: ends when ln is closed
		defer close(acceptDone)
		b.accept(ctx, ln, &conns)
	}()

	a := addrs{Kafka: ln.Addr().String()}
	if httpLn != nil {
		a.HTTP = httpLn.Addr().String()
	}
	b.ready.Store(true)
	logger.Info("broker ready", "kafka", a.Kafka, "advertised", fmt.Sprintf("%s:%d", b.advertised.Host, b.advertised.Port),
		"http", a.HTTP, "data", cfg.DataDir, "storage", storageLabel(cfg.Storage), "node", cfg.NodeID, "cluster", b.clusterID)
	if ready != nil {
		select {
		case ready <- a:
		case <-ctx.Done():
		}
	}

	<-ctx.Done()
	logger.Info("broker stopping: no new connections, finishing requests in flight")
	b.ready.Store(false)
	ln.Close()
	<-acceptDone
	conns.Wait() // every ServeConn returns once its dispatched requests are answered
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown", "err", err)
		srv.Close()
	}
	wg.Wait()
	logger.Info("broker stopped accepting; flushing partition logs")
	return nil
}

// open opens the metadata store, the object store, the produce handler,
// the transaction coordinator (which writes its markers through the
// handler and answers the handler's transaction verifications) and the
// group coordinator.
func open(ctx context.Context, cfg config, logger *slog.Logger) (_ *broker, err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: data directory: %w", err)
	}
	b := &broker{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.close())
		}
	}()
	if b.meta, err = metadata.OpenBolt(filepath.Join(cfg.DataDir, metadataFile), cfg.NodeID); err != nil {
		return nil, fmt.Errorf("broker: metadata store: %w", err)
	}
	if b.clusterID, err = loadClusterID(ctx, b.meta); err != nil {
		return nil, err
	}
	ver := &verifier{}
	notify := &indexNotifier{}
	opts := []produce.Option{produce.WithLogger(logger), produce.WithTxnVerifier(ver), produce.WithIndexer(notify)}
	if cfg.Storage != "none" {
		if b.store, err = storage.OpenBlob(ctx, cfg.Storage); err != nil {
			return nil, fmt.Errorf("broker: object store: %w", err)
		}
		opts = append(opts, produce.WithArchiver(newArchiverFactory(b.store)))
	}
	if b.handler, err = produce.New(cfg.Handler, b.meta, opts...); err != nil {
		return nil, fmt.Errorf("broker: produce handler: %w", err)
	}
	if b.index, err = index.OpenBluge(filepath.Join(cfg.DataDir, indexDir), cfg.Index.blugeOptions(logger)); err != nil {
		return nil, fmt.Errorf("broker: search index: %w", err)
	}
	popts := cfg.Index.pipelineOptions(cfg.Handler.EnableIndexing, logger)
	popts.OnLag = func(_ string, _ int32, lag time.Duration) {
		b.handler.Metrics().ObserveIndexingLag(lag)
	}
	b.pipeline, err = index.NewPipeline(b.index, b.meta, popts)
	if err != nil {
		return nil, fmt.Errorf("broker: indexing pipeline: %w", err)
	}
	notify.p.Store(b.pipeline)
	if err := b.pipeline.Start(b.handler); err != nil {
		return nil, fmt.Errorf("broker: indexing pipeline: %w", err)
	}
	b.pids = idempotence.NewIDAllocator(b.meta)
	markers := &markerWriter{h: b.handler, crashAfter: cfg.CrashAfterCommitMarkers, logger: logger}
	if cfg.CrashAfterCommitMarkers > 0 {
		logger.Warn("test hook armed: the broker kills itself after a COMMIT marker", "env", crashHookEnv, "after", cfg.CrashAfterCommitMarkers)
	}
	b.txn, err = txn.New(b.meta, b.pids, markers, txn.Options{
		MaxTransactionTimeout: cfg.TxnMaxTimeout,
		AbortTimedOutInterval: cfg.TxnAbortInterval,
		PartitionExists:       b.partitionExists,
		Logger:                logger,
	})
	if err != nil {
		return nil, fmt.Errorf("broker: transaction coordinator: %w", err)
	}
	ver.c.Store(b.txn)
	b.groups = newGroupCoordinator(groupConfig{
		MinSession: cfg.GroupMinSession, MaxSession: cfg.GroupMaxSession,
		InitialDelay: cfg.GroupInitialDelay, Logger: logger,
	})
	b.groups.start()
	b.apis = advertisedAPIs(cfg.Handler.EnableIdempotence, cfg.Handler.EnableTransactions)
	b.registry.MustRegister(b.handler.Metrics().Collectors()...)
	b.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return b, nil
}

// close stops the group coordinator (answering parked JoinGroup and
// SyncGroup requests) and the transaction coordinator (its cleanup and any
// marker writing; transactions left in a Prepare state are completed at
// the next start), then flushes and closes the handler (every partition
// log), the object store and the metadata store.
func (b *broker) close() error {
	var errs []error
	if b.groups != nil {
		b.groups.close()
	}
	if b.txn != nil {
		if err := b.txn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close transaction coordinator: %w", err))
		}
	}
	if b.pipeline != nil {
		if err := b.pipeline.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close indexing pipeline: %w", err))
		}
	}
	if b.index != nil {
		if err := b.index.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close search index: %w", err))
		}
	}
	if b.handler != nil {
		if err := b.handler.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close produce handler: %w", err))
		}
	}
	if b.store != nil {
		if err := b.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close object store: %w", err))
		}
	}
	if b.meta != nil {
		if err := b.meta.Close(); err != nil {
			errs = append(errs, fmt.Errorf("broker: close metadata store: %w", err))
		}
	}
	if len(errs) == 0 {
		b.logger.Info("broker stopped cleanly")
	}
	return errors.Join(errs...)
}

// accept serves every connection on ln with produce.ServeConn until ln is
// closed. conns counts the connection goroutines, which the caller waits
// for.
func (b *broker) accept(ctx context.Context, ln net.Listener, conns *sync.WaitGroup) {
	ccfg := b.handler.ConnConfig()
	ccfg.Logger = b.logger
	ccfg.IdleTimeout = b.cfg.IdleTimeout
	if ccfg.IdleTimeout == 0 {
		ccfg.IdleTimeout = -1 // the flag's 0: never close
	}
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http's server does.
			b.logger.Warn("accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		conns.Add(1)
		go func() { // one per client connection, owned by run through conns
			defer conns.Done()
			remote := c.RemoteAddr().String()
			b.logger.Debug("connection opened", "remote", remote)
			if err := produce.ServeConn(ctx, c, ccfg, b.dispatcher(clientHost(remote))); err != nil {
				// A request the broker does not serve says something about
				// the client worth an operator's attention; I/O errors do not.
				var ue *unsupportedError
				var de *decodeError
				if errors.As(err, &ue) || errors.As(err, &de) {
					b.logger.Info("connection closed", "remote", remote, "err", err)
				} else {
					b.logger.Debug("connection closed", "remote", remote, "err", err)
				}
				return
			}
			b.logger.Debug("connection closed", "remote", remote)
		}()
	}
}

// advertisedAddr returns the configured advertised address or, when none is
// set, the listener's actual address (its host replaced by the machine's
// host name when it listens on every interface).
func advertisedAddr(configured string, actual net.Addr) (hostPort, error) {
	if configured != "" {
		return splitAdvertised(configured)
	}
	tcp, ok := actual.(*net.TCPAddr)
	if !ok {
		return splitAdvertised(actual.String())
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		name, err := os.Hostname()
		if err != nil {
			return hostPort{}, fmt.Errorf("listening on every interface and no host name: set -advertised-addr: %w", err)
		}
		host = name
	}
	return hostPort{Host: host, Port: int32(tcp.Port)}, nil
}

// Where the cluster id is kept in the metadata store.
const (
	clusterNamespace = "broker"
	clusterIDKey     = "cluster.id"
)

// loadClusterID returns the cluster id kept in the metadata store, creating
// it on first start: 16 random bytes printed as Kafka prints a Uuid
// (URL-safe base64 without padding).
func loadClusterID(ctx context.Context, meta metadata.Store) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	fresh := []byte(base64.RawURLEncoding.EncodeToString(id[:]))
	if _, err := meta.CompareAndSwap(ctx, clusterNamespace, clusterIDKey, nil, fresh); err != nil {
		return "", fmt.Errorf("broker: cluster id: %w", err)
	}
	v, ok, err := meta.Get(ctx, clusterNamespace, clusterIDKey)
	if err != nil || !ok {
		return "", fmt.Errorf("broker: cluster id: read back: found=%v: %w", ok, err)
	}
	return string(v), nil
}

// storageLabel is the object store URL without its query, which may hold
// secrets, for logs.
func storageLabel(url string) string {
	for i := 0; i < len(url); i++ {
		if url[i] == '?' {
			return url[:i]
		}
	}
	return url
}

// notifier wakes fetch requests waiting for data (long polls) when produce
// requests complete, so that they need not wait for their next poll.
type notifier struct {
	mu sync.Mutex    // guards ch
	ch chan struct{} // closed and replaced by broadcast; nil when nobody waits
}

// wait returns a channel that is closed at the next broadcast.
func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

// broadcast wakes every waiter.
func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
}

// indexDir is the search index's directory inside the data directory.
const indexDir = "index"

// indexNotifier forwards the handler's append notifications to the
// indexing pipeline, which is created after the handler (it reads the
// handler's logs); notifications before that are dropped, and the pipeline
// catches up from its checkpoints when it starts.
type indexNotifier struct {
	p atomic.Pointer[index.Pipeline]
}

func (n *indexNotifier) Notify(topic string, partition int32, end int64) {
	if p := n.p.Load(); p != nil {
		p.Notify(topic, partition, end)
	}
}
