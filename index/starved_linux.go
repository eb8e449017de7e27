package index

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// starved reports whether the process is too close to its limit of open
// file descriptors or of memory mappings to open the partition index in
// dir, which needs about one of each per file. Bluge reports such a
// failure (EMFILE, ENOMEM from mmap) as "none of the snapshots could be
// loaded", which would otherwise read as damaged files: an index that
// fails to open while starved is retried, never deleted. Failing to
// count (for want of a descriptor, say) counts as starved.
func starved(dir string) bool {
	files, err := os.ReadDir(dir)
	if err != nil {
		return true
	}
	need := uint64(2*len(files) + 64)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return true
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return true
	}
	if lim.Cur < uint64(len(fds))+need {
		return true
	}
	maxMaps, err := os.ReadFile("/proc/sys/vm/max_map_count")
	if err != nil {
		return false // no such limit to be near
	}
	limit, err := strconv.ParseUint(string(bytes.TrimSpace(maxMaps)), 10, 64)
	if err != nil {
		return false
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return true
	}
	defer f.Close()
	var maps uint64
	for sc := bufio.NewScanner(f); sc.Scan(); {
		maps++
	}
	return limit < maps+need
}
