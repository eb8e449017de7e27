package index

import "syscall"

// releaseMapped drops the resident pages of a read-only shared file
// mapping from the process (MADV_DONTNEED); its contents stay in the page
// cache and are mapped again when read.
func releaseMapped(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
