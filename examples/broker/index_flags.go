package main

import (
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/chronik-go/chronik/index"
)

// indexConfig is the part of the broker's configuration that tunes its
// search index: how much of the machine indexing may use at once, and how
// often a partition that keeps up with its log is indexed.
type indexConfig struct {
	// Workers is index.PipelineOptions.Workers: goroutines indexing
	// partitions, one partition each at a time (-index-workers).
	Workers int
	// AnalysisWorkers is index.BlugeOptions.AnalysisWorkers: goroutines,
	// shared by all partitions, that map and analyse records
	// (-index-analysis-workers).
	AnalysisWorkers int
	// RefreshInterval is index.PipelineOptions.RefreshInterval: the
	// shortest time between two Index calls of a partition that keeps up
	// with its log (-index-refresh-interval); 0 indexes every append at
	// once.
	RefreshInterval time.Duration
	// MaxYield is index.PipelineOptions.MaxYield: the longest an Index
	// call waits for a burst of appends to end (-index-max-yield); 0
	// never waits.
	MaxYield time.Duration
}

// Defaults of the index flags. Indexing shares the machine with the
// produce path, which answers clients: half of GOMAXPROCS (at least one)
// indexing goroutines and as many analysis goroutines leave the other
// half to it (the library's defaults, GOMAXPROCS of each, let indexing
// take every core while it catches up). Bursts of appends are left to
// the produce path altogether for up to the max yield.
const (
	defaultIndexRefresh  = 100 * time.Millisecond
	defaultIndexMaxYield = 500 * time.Millisecond
	maxIndexWorkers      = 1024
)

// defaultIndexWorkers is the default of -index-workers and
// -index-analysis-workers.
func defaultIndexWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// defaultIndexConfig returns the index flags' defaults.
func defaultIndexConfig() indexConfig {
	return indexConfig{Workers: defaultIndexWorkers(), AnalysisWorkers: defaultIndexWorkers(),
		RefreshInterval: defaultIndexRefresh, MaxYield: defaultIndexMaxYield}
}

// registerFlags adds the index flags to fs, parsed into c.
func (c *indexConfig) registerFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Workers, "index-workers", c.Workers, "goroutines indexing partitions, each one partition at a time")
	fs.IntVar(&c.AnalysisWorkers, "index-analysis-workers", c.AnalysisWorkers, "goroutines, shared by all partitions, that analyse records for the search index")
	fs.DurationVar(&c.MaxYield, "index-max-yield", c.MaxYield, "longest an indexing pass waits while records are appended several times faster than the index takes them, so that indexing takes its CPU after such bursts rather than from them (0: never waits)")
	fs.DurationVar(&c.RefreshInterval, "index-refresh-interval", c.RefreshInterval, "shortest time between two indexing passes of a partition that keeps up with its log: appends meanwhile are indexed together (0: each at once)")
}

// check reports an index flag out of range.
func (c *indexConfig) check() error {
	if c.Workers < 1 || c.Workers > maxIndexWorkers {
		return fmt.Errorf("-index-workers %d: must be between 1 and %d", c.Workers, maxIndexWorkers)
	}
	if c.AnalysisWorkers < 1 || c.AnalysisWorkers > maxIndexWorkers {
		return fmt.Errorf("-index-analysis-workers %d: must be between 1 and %d", c.AnalysisWorkers, maxIndexWorkers)
	}
	if c.RefreshInterval < 0 || c.RefreshInterval > time.Minute {
		return fmt.Errorf("-index-refresh-interval %v: must be between 0s and 1m", c.RefreshInterval)
	}
	if c.MaxYield < 0 || c.MaxYield > time.Minute {
		return fmt.Errorf("-index-max-yield %v: must be between 0s and 1m", c.MaxYield)
	}
	return nil
}

// blugeOptions returns the Bluge index's options.
func (c *indexConfig) blugeOptions(logger *slog.Logger) index.BlugeOptions {
	return index.BlugeOptions{AnalysisWorkers: c.AnalysisWorkers, Logger: logger}
}

// pipelineOptions returns the pipeline's options, indexing topics
// without a search.enabled config when enableByDefault is set; the caller
// adds OnLag.
func (c *indexConfig) pipelineOptions(enableByDefault bool, logger *slog.Logger) index.PipelineOptions {
	return index.PipelineOptions{EnableByDefault: enableByDefault, Workers: c.Workers,
		RefreshInterval: orNone(c.RefreshInterval), MaxYield: orNone(c.MaxYield), Logger: logger}
}

// orNone maps a flag's 0 ("none") to the pipeline's negative "none" (its 0
// means its default).
func orNone(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
