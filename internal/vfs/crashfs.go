package vfs

import (
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// KeepFunc decides, at a crash, how many of a file's unsynced appended
// bytes survive: a number in [0, unsynced]. name is the file's durable path.
type KeepFunc func(name string, unsynced int) int

// KeepNone drops every unsynced byte: a power loss right after the last fsync.
func KeepNone(string, int) int { return 0 }

// KeepAll keeps every unsynced byte of files whose directory entry is durable.
func KeepAll(_ string, unsynced int) int { return unsynced }

// KeepRandom keeps a uniformly random prefix of each file's unsynced bytes,
// which usually cuts a file in the middle of a record batch.
func KeepRandom(r *rand.Rand) KeepFunc {
	var mu sync.Mutex
	return func(_ string, unsynced int) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(unsynced + 1)
	}
}

// CrashFS is an in-memory FS that tracks what an fsync made durable: per
// file, the bytes covered by File.Sync; per directory, the entries (created,
// renamed, removed files) covered by SyncDir. Crash returns a new CrashFS
// holding only that durable state, plus the unsynced appended bytes a
// KeepFunc chooses to keep; the old one fails every later call with
// ErrCrashed, as do its open handles. Directories made by MkdirAll are
// durable at once. It is safe for concurrent use.
type CrashFS struct {
	mu      sync.Mutex
	dead    bool
	dirs    map[string]bool
	files   map[string]*inode // the namespace processes see
	durable map[string]*inode // the namespace a crash leaves
	now     func() time.Time

	ops     int      // mutating operations performed
	crashAt int      // crash before mutating operation crashAt+1; < 0 never
	keep    KeepFunc // for the automatic crash
	crashed *CrashFS // the state left by the automatic crash
}

// inode is one file's content. data is what processes read; the durable
// content is snap when a change below syncedLen happened since the last
// sync, else data[:syncedLen].
type inode struct {
	data      []byte
	syncedLen int
	snap      []byte
	modTime   time.Time
}

func (n *inode) durableData() []byte {
	if n.snap != nil {
		return n.snap
	}
	return n.data[:n.syncedLen]
}

// beforeChange preserves the durable content before bytes below off change.
func (n *inode) beforeChange(off int) {
	if n.snap == nil && off < n.syncedLen {
		n.snap = append([]byte(nil), n.data[:n.syncedLen]...)
	}
}

// NewCrashFS returns an empty CrashFS whose file times come from now (nil
// means time.Now).
func NewCrashFS(now func() time.Time) *CrashFS {
	if now == nil {
		now = time.Now
	}
	return &CrashFS{
		dirs:    map[string]bool{"/": true, ".": true},
		files:   map[string]*inode{},
		durable: map[string]*inode{},
		now:     now,
		crashAt: -1,
	}
}

// CrashAfter arms an automatic crash: after n more mutating operations
// (write, sync, directory sync, file creation, truncate, rename, remove) the
// next one fails with ErrCrashed and the file system dies as Crash(keep)
// does; Crashed then returns the surviving state.
func (c *CrashFS) CrashAfter(n int, keep KeepFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.crashAt = c.ops + n
	c.keep = keep
}

// Ops returns the number of mutating operations performed so far.
func (c *CrashFS) Ops() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops
}

// Crashed returns the state an automatic crash left, or nil if none happened.
func (c *CrashFS) Crashed() *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

// Crash simulates a machine crash: c dies and the returned CrashFS holds the
// durable state plus the unsynced bytes keep allows (nil means KeepNone).
func (c *CrashFS) Crash(keep KeepFunc) *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashLocked(keep)
}

// Kill simulates the death of the process only: c dies and the returned
// CrashFS holds everything written, synced or not, under the current names.
func (c *CrashFS) Kill() *CrashFS {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.fresh()
	for name, ino := range c.files {
		n.files[name] = &inode{data: append([]byte(nil), ino.data...), modTime: ino.modTime}
	}
	n.syncAllLocked()
	c.dead = true
	return n
}

func (c *CrashFS) fresh() *CrashFS {
	n := NewCrashFS(c.now)
	for d := range c.dirs {
		n.dirs[d] = true
	}
	return n
}

// syncAllLocked makes every file and entry durable (the state after a reboot
// is on disk).
func (c *CrashFS) syncAllLocked() {
	for name, ino := range c.files {
		ino.syncedLen, ino.snap = len(ino.data), nil
		c.durable[name] = ino
	}
}

func (c *CrashFS) crashLocked(keep KeepFunc) *CrashFS {
	if c.dead {
		if c.crashed != nil {
			return c.crashed
		}
	}
	if keep == nil {
		keep = KeepNone
	}
	n := c.fresh()
	names := make([]string, 0, len(c.durable))
	for name := range c.durable {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ino := c.durable[name]
		d := append([]byte(nil), ino.durableData()...)
		if ino.snap == nil {
			if unsynced := len(ino.data) - ino.syncedLen; unsynced > 0 {
				k := min(max(keep(name, unsynced), 0), unsynced)
				d = append(d, ino.data[ino.syncedLen:ino.syncedLen+k]...)
			}
		}
		n.files[name] = &inode{data: d, modTime: ino.modTime}
	}
	n.syncAllLocked()
	c.dead = true
	c.crashed = n
	return n
}

// mutate counts a mutating operation and performs the automatic crash when
// it is due. It returns ErrCrashed when the file system is dead.
func (c *CrashFS) mutate() error {
	if c.dead {
		return ErrCrashed
	}
	if c.crashAt >= 0 && c.ops >= c.crashAt {
		c.crashLocked(c.keep)
		return ErrCrashed
	}
	c.ops++
	return nil
}

func clean(name string) string { return filepath.Clean(name) }

func (c *CrashFS) parentExists(name string) bool { return c.dirs[filepath.Dir(name)] }

// OpenFile opens or creates an in-memory file.
func (c *CrashFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	name = clean(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, pathErr("open", name, ErrCrashed)
	}
	if c.dirs[name] {
		return nil, pathErr("open", name, fs.ErrInvalid)
	}
	ino, ok := c.files[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, pathErr("open", name, fs.ErrExist)
	case !ok && flag&os.O_CREATE == 0:
		return nil, pathErr("open", name, fs.ErrNotExist)
	case !ok:
		if !c.parentExists(name) {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		if err := c.mutate(); err != nil {
			return nil, pathErr("open", name, err)
		}
		ino = &inode{modTime: c.now()}
		c.files[name] = ino
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable && len(ino.data) > 0 {
		if err := c.mutate(); err != nil {
			return nil, pathErr("open", name, err)
		}
		ino.beforeChange(0)
		ino.data = ino.data[:0]
		ino.modTime = c.now()
	}
	return &memFile{fs: c, ino: ino, name: name, flag: flag}, nil
}

// Remove unlinks a file (open handles keep reading it) or an empty directory.
func (c *CrashFS) Remove(name string) error {
	name = clean(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return pathErr("remove", name, ErrCrashed)
	}
	if c.dirs[name] {
		prefix := name + string(filepath.Separator)
		for f := range c.files {
			if strings.HasPrefix(f, prefix) {
				return pathErr("remove", name, fs.ErrExist)
			}
		}
		for d := range c.dirs {
			if strings.HasPrefix(d, prefix) {
				return pathErr("remove", name, fs.ErrExist)
			}
		}
		delete(c.dirs, name)
		return nil
	}
	if _, ok := c.files[name]; !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if err := c.mutate(); err != nil {
		return pathErr("remove", name, err)
	}
	delete(c.files, name)
	return nil
}

// Rename moves a file, replacing newpath.
func (c *CrashFS) Rename(oldpath, newpath string) error {
	oldpath, newpath = clean(oldpath), clean(newpath)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: ErrCrashed}
	}
	ino, ok := c.files[oldpath]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if !c.parentExists(newpath) || c.dirs[newpath] {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrInvalid}
	}
	if err := c.mutate(); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	delete(c.files, oldpath)
	c.files[newpath] = ino
	return nil
}

// MkdirAll creates a directory and its parents, durably at once.
func (c *CrashFS) MkdirAll(path string, perm os.FileMode) error {
	path = clean(path)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return pathErr("mkdir", path, ErrCrashed)
	}
	for p := path; ; p = filepath.Dir(p) {
		if _, isFile := c.files[p]; isFile {
			return pathErr("mkdir", p, fs.ErrExist)
		}
		c.dirs[p] = true
		if filepath.Dir(p) == p {
			break
		}
	}
	return nil
}

// ReadDir lists the files and directories directly inside name, by name.
func (c *CrashFS) ReadDir(name string) ([]os.DirEntry, error) {
	name = clean(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, pathErr("readdir", name, ErrCrashed)
	}
	if !c.dirs[name] {
		return nil, pathErr("readdir", name, fs.ErrNotExist)
	}
	var out []os.DirEntry
	for f, ino := range c.files {
		if filepath.Dir(f) == name {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: filepath.Base(f), size: int64(len(ino.data)), mod: ino.modTime}))
		}
	}
	for d := range c.dirs {
		if d != name && filepath.Dir(d) == name {
			out = append(out, fs.FileInfoToDirEntry(fileInfo{name: filepath.Base(d), dir: true}))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// Stat describes a file or directory.
func (c *CrashFS) Stat(name string) (os.FileInfo, error) {
	name = clean(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return nil, pathErr("stat", name, ErrCrashed)
	}
	if c.dirs[name] {
		return fileInfo{name: filepath.Base(name), dir: true}, nil
	}
	ino, ok := c.files[name]
	if !ok {
		return nil, pathErr("stat", name, fs.ErrNotExist)
	}
	return fileInfo{name: filepath.Base(name), size: int64(len(ino.data)), mod: ino.modTime}, nil
}

// SyncDir makes the current entries of directory name durable.
func (c *CrashFS) SyncDir(name string) error {
	name = clean(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return pathErr("syncdir", name, ErrCrashed)
	}
	if !c.dirs[name] {
		return pathErr("syncdir", name, fs.ErrNotExist)
	}
	if err := c.mutate(); err != nil {
		return pathErr("syncdir", name, err)
	}
	for f := range c.durable {
		if filepath.Dir(f) == name {
			if _, ok := c.files[f]; !ok {
				delete(c.durable, f)
			}
		}
	}
	for f, ino := range c.files {
		if filepath.Dir(f) == name {
			c.durable[f] = ino
		}
	}
	return nil
}

type fileInfo struct {
	name string
	size int64
	mod  time.Time
	dir  bool
}

func (fi fileInfo) Name() string { return fi.name }
func (fi fileInfo) Size() int64  { return fi.size }
func (fi fileInfo) Mode() fs.FileMode {
	if fi.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (fi fileInfo) ModTime() time.Time { return fi.mod }
func (fi fileInfo) IsDir() bool        { return fi.dir }
func (fi fileInfo) Sys() any           { return nil }

type memFile struct {
	fs     *CrashFS
	ino    *inode
	name   string
	flag   int
	pos    int
	closed bool
}

func (f *memFile) check(op string) error {
	if f.fs.dead {
		return pathErr(op, f.name, ErrCrashed)
	}
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.flag&os.O_WRONLY != 0 {
		return 0, pathErr("read", f.name, fs.ErrPermission)
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fs.ErrInvalid)
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write"); err != nil {
		return 0, err
	}
	if f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return 0, pathErr("write", f.name, fs.ErrPermission)
	}
	if err := f.fs.mutate(); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	ino := f.ino
	if f.flag&os.O_APPEND != 0 {
		f.pos = len(ino.data)
	}
	ino.beforeChange(f.pos)
	if f.pos > len(ino.data) {
		ino.data = append(ino.data, make([]byte, f.pos-len(ino.data))...)
	}
	end := f.pos + len(p)
	if end > len(ino.data) {
		ino.data = append(ino.data[:f.pos], p...)
	} else {
		copy(ino.data[f.pos:], p)
	}
	f.pos = end
	ino.modTime = f.fs.now()
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync"); err != nil {
		return err
	}
	if err := f.fs.mutate(); err != nil {
		return pathErr("sync", f.name, err)
	}
	f.ino.syncedLen, f.ino.snap = len(f.ino.data), nil
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate"); err != nil {
		return err
	}
	if size < 0 || f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return pathErr("truncate", f.name, fs.ErrInvalid)
	}
	if err := f.fs.mutate(); err != nil {
		return pathErr("truncate", f.name, err)
	}
	ino := f.ino
	if int(size) < len(ino.data) {
		ino.beforeChange(int(size))
		ino.data = ino.data[:size]
	} else {
		ino.data = append(ino.data, make([]byte, int(size)-len(ino.data))...)
	}
	ino.modTime = f.fs.now()
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	return fileInfo{name: filepath.Base(f.name), size: int64(len(f.ino.data)), mod: f.ino.modTime}, nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}
