package main

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"strings"
)

// The broker's memory budgets. Each bounds what one path holds at once:
// buffer memory the produce requests being read and appended
// (produce.Config.BufferMemory), fetch memory the Fetch responses being
// assembled, and the indexing pipeline's buffer memory the records being
// indexed (index.PipelineOptions.BufferMemory, its default). What the
// process needs beyond them is a fixed base (the runtime, open logs and
// indexes, the binary's own data) and what each path allocates around the
// bytes it holds.
const (
	defaultFetchMemory = 2 << 20
	minFetchMemory     = 64 << 10

	// memoryBase is the allowance the derived memory limit adds to the
	// budgets: the live heap of an idle broker (about 10 MiB), the
	// indexer's working memory for its buffer memory (analysis and
	// segment building take a few times the records' bytes), encoded
	// responses on their way to the sockets, and room for garbage
	// between collections.
	memoryBase = 64 << 20
)

// Values of config.MemoryLimit besides a byte count.
const (
	memoryLimitAuto int64 = 0  // derived from the budgets
	memoryLimitOff  int64 = -1 // the runtime's own: GOMEMLIMIT, or none
)

// memoryLimitFor is the soft memory limit derived from c's budgets: buffer
// memory, twice the fetch memory (a response's reads and its encoding
// exist together), and memoryBase. The garbage collector then works
// harder as the heap nears it, instead of letting garbage grow with the
// live heap (GOGC's default doubling), which under load is most of the
// process's memory.
func memoryLimitFor(c *config) int64 {
	return c.Handler.BufferMemory + 2*c.FetchMemory + memoryBase
}

// applyMemoryLimit sets the Go runtime's soft memory limit as c asks:
// derived from the budgets unless the GOMEMLIMIT environment variable is
// set, an explicit byte count, or left alone. It logs the limit in force.
func applyMemoryLimit(c *config, logger *slog.Logger) {
	switch {
	case c.MemoryLimit > 0:
		debug.SetMemoryLimit(c.MemoryLimit)
	case c.MemoryLimit == memoryLimitAuto && os.Getenv("GOMEMLIMIT") == "":
		debug.SetMemoryLimit(memoryLimitFor(c))
	}
	limit := debug.SetMemoryLimit(-1) // reads the limit in force
	if limit == math.MaxInt64 {
		logger.Info("no Go memory limit")
		return
	}
	logger.Info("Go memory limit", "bytes", limit, "limit", formatBytes(limit))
}

// memoryLimitFlag is the flag.Value of -memory-limit: "auto", "off" or a
// byte count.
type memoryLimitFlag struct{ p *int64 }

func (f memoryLimitFlag) String() string {
	if f.p == nil {
		return ""
	}
	switch *f.p {
	case memoryLimitAuto:
		return "auto"
	case memoryLimitOff:
		return "off"
	}
	return formatBytes(*f.p)
}

func (f memoryLimitFlag) Set(s string) error {
	switch strings.TrimSpace(s) {
	case "auto":
		*f.p = memoryLimitAuto
		return nil
	case "off":
		*f.p = memoryLimitOff
		return nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return fmt.Errorf("%w, auto or off", err)
	}
	if n < 1<<20 {
		return fmt.Errorf("%q is below 1MiB", s)
	}
	*f.p = n
	return nil
}
