// Package vfs is the file-system seam under the segment log.
//
// Production code uses OS, the real file system, whose File.Sync is an
// fdatasync where the platform has one and whose SyncDir makes a directory's
// entries (created, renamed, removed files) durable. Tests swap in ErrorFS,
// which fails chosen operations, and CrashFS, an in-memory file system that
// tracks which bytes and directory entries an fsync made durable and can
// "crash", keeping only those (plus, optionally, a prefix of the rest).
package vfs

import (
	"errors"
	"io"
	"os"
)

// FS is the set of file-system operations the segment log performs.
// Names are slash- or OS-separated paths as accepted by package os.
type FS interface {
	// OpenFile opens name like os.OpenFile. Supported flags: O_RDONLY,
	// O_WRONLY, O_RDWR, O_CREATE, O_EXCL, O_TRUNC, O_APPEND.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove deletes a file or an empty directory. Open handles stay usable.
	Remove(name string) error
	// Rename atomically replaces newpath with oldpath.
	Rename(oldpath, newpath string) error
	// MkdirAll creates a directory and any missing parents.
	MkdirAll(path string, perm os.FileMode) error
	// ReadDir lists a directory sorted by name.
	ReadDir(name string) ([]os.DirEntry, error)
	// Stat describes a file or directory.
	Stat(name string) (os.FileInfo, error)
	// SyncDir makes the directory's entries durable: files created, renamed
	// into or removed from it before the call survive a crash after it.
	SyncDir(name string) error
}

// File is an open file. Writes go to the current position, which O_APPEND
// keeps at the end of the file.
type File interface {
	io.ReaderAt
	io.Writer
	// Sync makes the file's data (and the size needed to read it back)
	// durable; it does not make a new file's directory entry durable.
	Sync() error
	// Truncate changes the file's size.
	Truncate(size int64) error
	// Stat describes the open file.
	Stat() (os.FileInfo, error)
	// Name returns the name the file was opened with.
	Name() string
	// Close releases the handle; later calls fail.
	Close() error
}

// ErrInjected is the default error an ErrorFS returns for an injected fault.
var ErrInjected = errors.New("vfs: injected fault")

// ErrCrashed is returned by every operation on a CrashFS that has crashed,
// and by every handle opened before the crash.
var ErrCrashed = errors.New("vfs: file system crashed")

// WriteFile creates or truncates name, writes data, syncs the file and
// closes it. It does not sync the directory.
func WriteFile(fs FS, name string, data []byte, perm os.FileMode) error {
	f, err := fs.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadFile returns the whole content of name.
func ReadFile(fs FS, name string) ([]byte, error) {
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, st.Size())
	n, err := f.ReadAt(buf, 0)
	if err == io.EOF && n == len(buf) {
		err = nil
	}
	return buf[:n], err
}
