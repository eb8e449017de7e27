package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync/atomic"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// Register every URL scheme OpenBlob accepts.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// contentType is the MIME type of every object OpenBlob's store writes.
// Setting it also stops gocloud from buffering the first 512 bytes to sniff one.
const contentType = "application/octet-stream"

// listPageSize is the page size List asks the backend for: 1000 is the
// most S3 (ListObjectsV2 MaxKeys) returns in one page, and GCS and Azure
// accept it, so every backend pages at the same size.
const listPageSize = 1000

// blobStore is the ObjectStore returned by OpenBlob.
type blobStore struct {
	bucket *blob.Bucket
	closed atomic.Bool
}

// OpenBlob opens the bucket named by a gocloud.dev/blob URL as an
// ObjectStore. Every scheme gocloud ships is registered:
//
//	file:///abs/dir?create_dir=true                  local directory
//	mem://                                           process memory
//	s3://bucket?region=R[&endpoint=URL&use_path_style=true]
//	gs://bucket                                      (STORAGE_EMULATOR_HOST honoured)
//	azblob://container[?localemu=true&domain=H:P&protocol=http]
//
// Credentials come from the environment the way each cloud SDK reads them
// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a profile, Google application
// default credentials, AZURE_STORAGE_ACCOUNT/AZURE_STORAGE_KEY or Azure
// identity); OpenBlob never logs them, and its errors name only the scheme
// and bucket of url. The bucket must already exist: gocloud cannot create
// one. OpenBlob does not contact the backend; the first call does.
//
// With file:// OpenBlob sets metadata=skip unless the URL sets metadata:
// gocloud otherwise keeps a ".attrs" sidecar per object that is rewritten
// in place, so a Get racing an overwrite could fail to decode it. The file
// driver stages each object in os.TempDir and renames it into place, which
// fails across file systems: add no_tmp_dir=true when the directory is on
// another file system (staged "<key>.<hex>.tmp" files are then visible to
// List while a Put is in flight). It does not fsync. Its List walks the
// directory tree, which is lexical order except where a path segment that
// holds a character below '/' (such as "a-1") sits beside a directory of the
// same stem ("a/"); such keys may list out of order or, past 1000 keys, be
// skipped. Keys of the form "<dir>/<digits>.<ext>" are never affected.
//
// With s3:// OpenBlob sets response_checksum_validation=when_required
// unless the URL sets it: S3 returns no checksum for a ranged GET, and the
// AWS SDK would otherwise log a line to stderr for each one (and some
// S3-compatible servers return the whole object's checksum for a range,
// which the SDK then rejects). chronik's objects carry their own CRCs. For
// servers that mishandle the SDK's upload checksums, add
// request_checksum_calculation=when_required.
func OpenBlob(ctx context.Context, rawURL string) (ObjectStore, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("storage: open bucket: unparsable URL: %w", err)
	}
	switch u.Scheme {
	case "file":
		setDefaultParam(u, "metadata", "skip")
	case "s3":
		setDefaultParam(u, "response_checksum_validation", "when_required")
	}
	b, err := blob.DefaultURLMux().OpenBucketURL(ctx, u)
	if err != nil {
		// Only scheme and bucket: query parameters might hold secrets.
		return nil, fmt.Errorf("storage: open %s://%s: %w", u.Scheme, u.Host, err)
	}
	return &blobStore{bucket: b}, nil
}

// setDefaultParam sets the query parameter key of u to value unless the URL
// already sets it.
func setDefaultParam(u *url.URL, key, value string) {
	q := u.Query()
	if _, set := q[key]; !set {
		q.Set(key, value)
		u.RawQuery = q.Encode()
	}
}

// Put streams r into a blob.Writer. On any failure it cancels the writer's
// context before closing it, which gocloud defines as aborting the write:
// the previous object, if any, stays in place.
func (s *blobStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if size < 0 {
		return opErr("put", key, fmt.Errorf("negative size %d", size))
	}
	if err := s.check(ctx); err != nil {
		return opErr("put", key, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: contentType})
	if err != nil {
		return s.wrap(ctx, "put", key, err)
	}
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		_ = w.Close()
		if s.closed.Load() {
			err = ErrClosed
		}
		return opErr("put", key, fmt.Errorf("after %d of %d bytes: %w", n, size, err))
	}
	if err := w.Close(); err != nil {
		return s.wrap(ctx, "put", key, err)
	}
	return nil
}

// Get opens a ranged reader. S3 and Azure answer a range that starts at or
// past the end with 416 (Range Not Satisfiable); on any failure other than
// not-found Get asks for the object's size and, when the range starts at or
// past the end, returns an empty reader as the contract requires.
func (s *blobStore) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, opErr("get", key, fmt.Errorf("negative offset %d", offset))
	}
	if err := s.check(ctx); err != nil {
		return nil, opErr("get", key, err)
	}
	r, err := s.bucket.NewRangeReader(ctx, key, offset, length, nil)
	if err == nil {
		return r, nil
	}
	if gcerrors.Code(err) != gcerrors.NotFound && ctx.Err() == nil && !s.closed.Load() {
		attrs, aerr := s.bucket.Attributes(ctx, key)
		switch {
		case aerr == nil && offset >= attrs.Size:
			return io.NopCloser(strings.NewReader("")), nil
		case aerr != nil && gcerrors.Code(aerr) == gcerrors.NotFound:
			err = aerr
		}
	}
	return nil, s.wrap(ctx, "get", key, err)
}

// List walks the bucket page by page (ListPage), in the backend's lexical
// key order. Pseudo-directories never appear: no delimiter is set.
func (s *blobStore) List(ctx context.Context, prefix string, fn func(ObjectInfo) error) error {
	if err := s.check(ctx); err != nil {
		return opErr("list", prefix, err)
	}
	opts := &blob.ListOptions{Prefix: prefix}
	token := blob.FirstPageToken
	for {
		objs, next, err := s.bucket.ListPage(ctx, token, listPageSize, opts)
		if err != nil {
			return s.wrap(ctx, "list", prefix, err)
		}
		for _, o := range objs {
			if o.IsDir {
				continue
			}
			if err := fn(ObjectInfo{Key: o.Key, Size: o.Size, ModTime: o.ModTime}); err != nil {
				return err
			}
		}
		if len(next) == 0 {
			return nil
		}
		if err := s.check(ctx); err != nil {
			return opErr("list", prefix, err)
		}
		token = next
	}
}

// Delete removes key; the backend's not-found answer is success.
func (s *blobStore) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx); err != nil {
		return opErr("delete", key, err)
	}
	err := s.bucket.Delete(ctx, key)
	if err == nil || gcerrors.Code(err) == gcerrors.NotFound {
		return nil
	}
	return s.wrap(ctx, "delete", key, err)
}

// Close closes the bucket once; later calls return ErrClosed.
func (s *blobStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return opErr("close", "", ErrClosed)
	}
	if err := s.bucket.Close(); err != nil {
		return opErr("close", "", err)
	}
	return nil
}

func (s *blobStore) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

// wrap turns a gocloud error into an OpError whose cause is ErrNotFound,
// ErrClosed or the context's error when one of those explains it, and the
// backend's error otherwise.
func (s *blobStore) wrap(ctx context.Context, op, key string, err error) error {
	switch {
	case s.closed.Load():
		return opErr(op, key, ErrClosed)
	case gcerrors.Code(err) == gcerrors.NotFound:
		return opErr(op, key, fmt.Errorf("%w (%v)", ErrNotFound, err))
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return opErr(op, key, fmt.Errorf("%w (%v)", ctx.Err(), err))
	}
	return opErr(op, key, err)
}
