package vfs

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func mustWrite(t *testing.T, f File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, fsys FS, name string) string {
	t.Helper()
	b, err := ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exercise runs the same sequence against any FS and checks what a process
// sees (no crash involved).
func exercise(t *testing.T, fsys FS, dir string) {
	if err := fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "a", "f.log")
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "hello ")
	mustWrite(t, f, "world")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 6); n != 5 || (err != nil && err != io.EOF) || string(buf) != "world" {
		t.Fatalf("ReadAt = %d %v %q", n, err, buf)
	}
	if n, err := f.ReadAt(buf, 8); n != 3 || err != io.EOF {
		t.Fatalf("short ReadAt = %d %v", n, err)
	}
	if err := f.Truncate(5); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "!") // O_APPEND writes at the new end
	if st, err := f.Stat(); err != nil || st.Size() != 6 {
		t.Fatalf("Stat = %v %v", st, err)
	}
	if f.Name() != name {
		t.Fatalf("Name = %q", f.Name())
	}
	if _, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("O_EXCL on existing file: %v", err)
	}
	if got := readAll(t, fsys, name); got != "hello!" {
		t.Fatalf("content %q", got)
	}
	if err := fsys.Rename(name, filepath.Join(dir, "a", "g.log")); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name after rename: %v", err)
	}
	// Unlinked files stay readable through open handles.
	if err := fsys.Remove(filepath.Join(dir, "a", "g.log")); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.ReadAt(buf[:5], 0); n != 5 || string(buf) != "hello" {
		t.Fatalf("read after unlink: %q", buf)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(fsys, filepath.Join(dir, "a", "w"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fsys.SyncDir(filepath.Join(dir, "a")); err != nil {
		t.Fatal(err)
	}
	ents, err := fsys.ReadDir(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "b,w" {
		t.Fatalf("ReadDir = %v", names)
	}
	if _, err := fsys.OpenFile(filepath.Join(dir, "missing"), os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: %v", err)
	}
}

func TestOS(t *testing.T) { exercise(t, OS, t.TempDir()) }

func TestCrashFSBehavesLikeOS(t *testing.T) { exercise(t, NewCrashFS(nil), "/d") }

func TestErrorFSPassesThrough(t *testing.T) { exercise(t, NewErrorFS(OS), t.TempDir()) }

func TestCrashKeepsOnlySyncedData(t *testing.T) {
	c := NewCrashFS(nil)
	c.MkdirAll("/d", 0o755)
	f, _ := c.OpenFile("/d/x", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	mustWrite(t, f, "durable")
	f.Sync()
	c.SyncDir("/d")
	mustWrite(t, f, "-unsynced")
	// A file created and synced, but whose entry was never made durable.
	g, _ := c.OpenFile("/d/new", os.O_RDWR|os.O_CREATE, 0o644)
	mustWrite(t, g, "lost")
	g.Sync()

	after := c.Crash(KeepNone)
	if got := readAll(t, after, "/d/x"); got != "durable" {
		t.Fatalf("after crash %q", got)
	}
	if _, err := after.Stat("/d/new"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("undurable entry survived: %v", err)
	}
	// The old file system and its handles are dead.
	if _, err := f.Write([]byte("z")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("write after crash: %v", err)
	}
	if _, err := c.Stat("/d/x"); !errors.Is(err, ErrCrashed) {
		t.Fatalf("stat after crash: %v", err)
	}
}

func TestCrashKeepAllAndRandomPrefix(t *testing.T) {
	build := func() *CrashFS {
		c := NewCrashFS(nil)
		c.MkdirAll("/d", 0o755)
		f, _ := c.OpenFile("/d/x", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
		mustWrite(t, f, "0123")
		f.Sync()
		c.SyncDir("/d")
		mustWrite(t, f, "456789")
		return c
	}
	if got := readAll(t, build().Crash(KeepAll), "/d/x"); got != "0123456789" {
		t.Fatalf("KeepAll: %q", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[int]bool{}
	for range 200 {
		got := readAll(t, build().Crash(KeepRandom(r)), "/d/x")
		if !strings.HasPrefix("0123456789", got) || len(got) < 4 {
			t.Fatalf("KeepRandom: %q", got)
		}
		seen[len(got)] = true
	}
	if len(seen) != 7 {
		t.Fatalf("KeepRandom produced lengths %v, want all of 4..10", seen)
	}
}

func TestCrashUnsyncedTruncateAndRename(t *testing.T) {
	c := NewCrashFS(nil)
	c.MkdirAll("/d", 0o755)
	f, _ := c.OpenFile("/d/x", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	mustWrite(t, f, "abcdef")
	f.Sync()
	c.SyncDir("/d")
	f.Truncate(2)
	mustWrite(t, f, "ZZ")
	// Atomic replace: tmp written and synced, renamed, directory not synced.
	WriteFile(c, "/d/y.tmp", []byte("new"), 0o644)
	c.Rename("/d/y.tmp", "/d/y")
	after := c.Crash(KeepAll)
	if got := readAll(t, after, "/d/x"); got != "abcdef" {
		t.Fatalf("unsynced truncate survived: %q", got)
	}
	if _, err := after.Stat("/d/y"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("unsynced rename survived: %v", err)
	}

	c2 := after
	WriteFile(c2, "/d/y.tmp", []byte("new"), 0o644)
	c2.Rename("/d/y.tmp", "/d/y")
	c2.Remove("/d/x")
	c2.SyncDir("/d")
	after2 := c2.Crash(nil)
	if got := readAll(t, after2, "/d/y"); got != "new" {
		t.Fatalf("synced rename: %q", got)
	}
	if _, err := after2.Stat("/d/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("synced remove undone: %v", err)
	}
}

func TestKillKeepsEverything(t *testing.T) {
	c := NewCrashFS(nil)
	c.MkdirAll("/d", 0o755)
	f, _ := c.OpenFile("/d/x", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	mustWrite(t, f, "page cache")
	after := c.Kill()
	if got := readAll(t, after, "/d/x"); got != "page cache" {
		t.Fatalf("after kill %q", got)
	}
	// What survived a kill is on disk after the next crash too.
	if got := readAll(t, after.Crash(nil), "/d/x"); got != "page cache" {
		t.Fatalf("after kill and crash %q", got)
	}
}

func TestCrashAfterCountsOperations(t *testing.T) {
	c := NewCrashFS(nil)
	c.MkdirAll("/d", 0o755)
	f, _ := c.OpenFile("/d/x", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644) // op 1
	c.SyncDir("/d")                                                      // op 2
	c.CrashAfter(2, KeepAll)
	mustWrite(t, f, "a") // op 3
	f.Sync()             // op 4
	if _, err := f.Write([]byte("b")); !errors.Is(err, ErrCrashed) {
		t.Fatalf("write at crash point: %v", err)
	}
	if c.Ops() != 4 {
		t.Fatalf("Ops = %d", c.Ops())
	}
	after := c.Crashed()
	if after == nil {
		t.Fatal("no crash state")
	}
	if got := readAll(t, after, "/d/x"); got != "a" {
		t.Fatalf("after automatic crash %q", got)
	}
}

func TestErrorFSFaults(t *testing.T) {
	base := NewCrashFS(nil)
	base.MkdirAll("/d", 0o755)
	e := NewErrorFS(base)
	isLog := func(name string) bool { return strings.HasSuffix(name, ".log") }
	e.Inject(Fault{Op: OpWrite, Match: isLog, After: 1, Count: 1, Err: syscall.ENOSPC, Keep: 3})
	e.Inject(Fault{Op: OpSync, Count: 2})
	f, err := e.OpenFile("/d/a.log", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, f, "first")
	n, err := f.Write([]byte("second"))
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("torn write = %d, %v", n, err)
	}
	mustWrite(t, f, "third") // the fault is used up
	if got := readAll(t, base, "/d/a.log"); got != "firstsecthird" {
		t.Fatalf("content %q", got)
	}
	for i := range 2 {
		if err := f.Sync(); !errors.Is(err, ErrInjected) {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("third sync: %v", err)
	}
	if e.Count(OpSync) != 3 || e.Failed() != 3 {
		t.Fatalf("Count = %d, Failed = %d", e.Count(OpSync), e.Failed())
	}
	// Non-matching files are unaffected; Reset disarms everything.
	e.Inject(Fault{Op: OpWrite, Match: isLog})
	g, _ := e.OpenFile("/d/b.idx", os.O_RDWR|os.O_CREATE, 0o644)
	mustWrite(t, g, "ok")
	if _, err := f.Write([]byte("x")); !errors.Is(err, ErrInjected) {
		t.Fatalf("Count 0 should fail every write: %v", err)
	}
	e.Reset()
	mustWrite(t, f, "x")
	for _, op := range []Op{OpOpen, OpRename, OpRemove, OpSyncDir, OpTruncate, OpRead} {
		e.Inject(Fault{Op: op, Count: 1})
	}
	if _, err := e.OpenFile("/d/c", os.O_RDWR|os.O_CREATE, 0o644); !errors.Is(err, ErrInjected) {
		t.Fatalf("open: %v", err)
	}
	if err := e.Rename("/d/b.idx", "/d/c.idx"); !errors.Is(err, ErrInjected) {
		t.Fatalf("rename: %v", err)
	}
	if err := e.Remove("/d/b.idx"); !errors.Is(err, ErrInjected) {
		t.Fatalf("remove: %v", err)
	}
	if err := e.SyncDir("/d"); !errors.Is(err, ErrInjected) {
		t.Fatalf("syncdir: %v", err)
	}
	if err := f.Truncate(0); !errors.Is(err, ErrInjected) {
		t.Fatalf("truncate: %v", err)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("read: %v", err)
	}
	if OpRead.String() != "read" || Op(99).String() != "op?" {
		t.Fatal("Op.String")
	}
}

func TestReadFileRoundTrip(t *testing.T) {
	c := NewCrashFS(nil)
	c.MkdirAll("/d", 0o755)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	if err := WriteFile(c, "/d/f", data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(c, "/d/f")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile: %v", err)
	}
}
