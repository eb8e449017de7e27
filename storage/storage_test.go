package storage_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/storagetest"
)

func TestMemoryConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return storage.NewMemory() })
}

func TestBlobMemConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return openBlob(t, "mem://") })
}

func TestBlobFileConformance(t *testing.T) {
	dir := t.TempDir()
	u := url.URL{Scheme: "file", Path: dir, RawQuery: "create_dir=true"}
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return openBlob(t, u.String()) })
}

// TestBlobS3Conformance runs the suite over the S3 driver against gofakes3,
// an in-process S3 server; the bucket is created on first use (auto-bucket).
func TestBlobS3Conformance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server()}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	t.Setenv("AWS_ACCESS_KEY_ID", "chronik-test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "chronik-test-secret")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	raw := "s3://chronik-test?endpoint=http://" + ln.Addr().String() + "&region=us-east-1&use_path_style=true"
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return openBlob(t, raw) })
}

func openBlob(t *testing.T, raw string) storage.ObjectStore {
	t.Helper()
	s, err := storage.OpenBlob(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
