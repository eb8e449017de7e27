package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startInProcessProfile starts a CPU profile of this process into path
// (the in-process workloads: P6 indexing, P8 queries) and returns the
// function that stops it and writes the file. An empty path profiles
// nothing.
func startInProcessProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("profile %s: %w", path, err)
		}
		return nil
	}, nil
}
