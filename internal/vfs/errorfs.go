package vfs

import (
	"os"
	"sync"
)

// Op names a kind of file-system operation a Fault applies to.
type Op int

// The operations an ErrorFS can fail.
const (
	OpWrite    Op = iota // File.Write
	OpSync               // File.Sync
	OpSyncDir            // FS.SyncDir
	OpOpen               // FS.OpenFile
	OpRename             // FS.Rename (matched on the old path)
	OpRemove             // FS.Remove
	OpTruncate           // File.Truncate
	OpRead               // File.ReadAt
	numOps
)

var opNames = [...]string{"write", "sync", "syncdir", "open", "rename", "remove", "truncate", "read"}

// String returns the operation's lower-case name.
func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "op?"
}

// Fault describes operations an ErrorFS fails.
type Fault struct {
	Op    Op
	Match func(name string) bool // which files; nil matches every file
	After int                    // let this many matching operations succeed first
	Count int                    // then fail this many; <= 0 fails every later one
	Err   error                  // the error returned; nil means ErrInjected
	// Keep, for OpWrite only, is how many bytes of the buffer reach the file
	// before the write fails: a torn write (e.g. with Err = syscall.ENOSPC).
	Keep int
}

type faultState struct {
	Fault
	seen, failed int
}

// ErrorFS wraps an FS and fails chosen operations: the next N writes or
// fsyncs of some files, with ENOSPC or any error, optionally writing part of
// the buffer first. It is safe for concurrent use.
type ErrorFS struct {
	base FS

	mu     sync.Mutex // guards faults and counts
	faults []*faultState
	counts [numOps]int
}

// NewErrorFS returns an ErrorFS over base with no fault armed.
func NewErrorFS(base FS) *ErrorFS { return &ErrorFS{base: base} }

// Inject arms f. Several faults may be armed at once; the first one that
// matches an operation decides.
func (e *ErrorFS) Inject(f Fault) {
	e.mu.Lock()
	e.faults = append(e.faults, &faultState{Fault: f})
	e.mu.Unlock()
}

// Reset disarms every fault.
func (e *ErrorFS) Reset() {
	e.mu.Lock()
	e.faults = nil
	e.mu.Unlock()
}

// Count returns how many operations of kind op were attempted so far.
func (e *ErrorFS) Count(op Op) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counts[op]
}

// Failed returns how many operations the armed faults have failed so far.
func (e *ErrorFS) Failed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, f := range e.faults {
		n += f.failed
	}
	return n
}

// check counts op on name and returns the fault that fails it, if any.
func (e *ErrorFS) check(op Op, name string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.counts[op]++
	for _, f := range e.faults {
		if f.Op != op || (f.Match != nil && !f.Match(name)) {
			continue
		}
		f.seen++
		if f.seen <= f.After {
			continue
		}
		if f.Count > 0 && f.failed >= f.Count {
			continue
		}
		f.failed++
		c := f.Fault
		if c.Err == nil {
			c.Err = ErrInjected
		}
		return &c
	}
	return nil
}

func pathErr(op, name string, err error) error { return &os.PathError{Op: op, Path: name, Err: err} }

// OpenFile opens through the wrapped FS unless an OpOpen fault matches.
func (e *ErrorFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if f := e.check(OpOpen, name); f != nil {
		return nil, pathErr("open", name, f.Err)
	}
	file, err := e.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &errorFile{File: file, fs: e, name: name}, nil
}

// Remove removes through the wrapped FS unless an OpRemove fault matches.
func (e *ErrorFS) Remove(name string) error {
	if f := e.check(OpRemove, name); f != nil {
		return pathErr("remove", name, f.Err)
	}
	return e.base.Remove(name)
}

// Rename renames through the wrapped FS unless an OpRename fault matches oldpath.
func (e *ErrorFS) Rename(oldpath, newpath string) error {
	if f := e.check(OpRename, oldpath); f != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: f.Err}
	}
	return e.base.Rename(oldpath, newpath)
}

// MkdirAll is never failed.
func (e *ErrorFS) MkdirAll(path string, perm os.FileMode) error { return e.base.MkdirAll(path, perm) }

// ReadDir is never failed.
func (e *ErrorFS) ReadDir(name string) ([]os.DirEntry, error) { return e.base.ReadDir(name) }

// Stat is never failed.
func (e *ErrorFS) Stat(name string) (os.FileInfo, error) { return e.base.Stat(name) }

// SyncDir syncs through the wrapped FS unless an OpSyncDir fault matches.
func (e *ErrorFS) SyncDir(name string) error {
	if f := e.check(OpSyncDir, name); f != nil {
		return pathErr("syncdir", name, f.Err)
	}
	return e.base.SyncDir(name)
}

type errorFile struct {
	File
	fs   *ErrorFS
	name string
}

func (f *errorFile) Write(p []byte) (int, error) {
	if fault := f.fs.check(OpWrite, f.name); fault != nil {
		keep := min(max(fault.Keep, 0), len(p))
		n := 0
		if keep > 0 {
			n, _ = f.File.Write(p[:keep])
		}
		return n, pathErr("write", f.name, fault.Err)
	}
	return f.File.Write(p)
}

func (f *errorFile) Sync() error {
	if fault := f.fs.check(OpSync, f.name); fault != nil {
		return pathErr("sync", f.name, fault.Err)
	}
	return f.File.Sync()
}

func (f *errorFile) Truncate(size int64) error {
	if fault := f.fs.check(OpTruncate, f.name); fault != nil {
		return pathErr("truncate", f.name, fault.Err)
	}
	return f.File.Truncate(size)
}

func (f *errorFile) ReadAt(p []byte, off int64) (int, error) {
	if fault := f.fs.check(OpRead, f.name); fault != nil {
		return 0, pathErr("read", f.name, fault.Err)
	}
	return f.File.ReadAt(p, off)
}
