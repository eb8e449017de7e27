package storage_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"gocloud.dev/blob"
	"google.golang.org/api/googleapi"

	"github.com/chronik-go/chronik/storage"
	"github.com/chronik-go/chronik/storage/storagetest"
)

// The tests below run the conformance suite against real servers: an S3
// implementation (versitygw), a GCS emulator (fake-gcs-server, with
// STORAGE_EMULATOR_HOST) and an Azure Blob emulator (azurite, with
// AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY). Each takes its bucket URL
// from an environment variable and creates the bucket when it is missing.
// Unset, the test skips, except under CI=true, where a missing server is a
// failure rather than a silent gap in coverage.

func TestBlobS3Integration(t *testing.T) {
	runIntegration(t, "CHRONIK_TEST_S3_URL", func(ctx context.Context, b *blob.Bucket, name string) error {
		var c *s3.Client
		if !b.As(&c) {
			return errors.New("bucket is not backed by an S3 client")
		}
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name})
		var owned *s3types.BucketAlreadyOwnedByYou
		var exists *s3types.BucketAlreadyExists
		if errors.As(err, &owned) || errors.As(err, &exists) {
			return nil
		}
		return err
	})
}

func TestBlobGCSIntegration(t *testing.T) {
	runIntegration(t, "CHRONIK_TEST_GCS_URL", func(ctx context.Context, b *blob.Bucket, name string) error {
		var c *gcs.Client
		if !b.As(&c) {
			return errors.New("bucket is not backed by a GCS client")
		}
		err := c.Bucket(name).Create(ctx, "chronik-test", nil)
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusConflict {
			return nil
		}
		return err
	})
}

func TestBlobAzureIntegration(t *testing.T) {
	runIntegration(t, "CHRONIK_TEST_AZURE_URL", func(ctx context.Context, b *blob.Bucket, _ string) error {
		var c *container.Client
		if !b.As(&c) {
			return errors.New("bucket is not backed by an Azure container client")
		}
		_, err := c.Create(ctx, nil)
		var re *azcore.ResponseError
		if errors.As(err, &re) && re.StatusCode == http.StatusConflict {
			return nil
		}
		return err
	})
}

// runIntegration runs the suite over the bucket URL in env var, first
// creating the bucket with create (which must treat "already exists" as
// success).
func runIntegration(t *testing.T, env string, create func(ctx context.Context, b *blob.Bucket, name string) error) {
	raw := os.Getenv(env)
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset under CI=true: the test script must start the server and export its bucket URL", env)
		}
		t.Skipf("%s is unset: set it to a bucket URL on a running server to run this suite", env)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s: %v", env, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := blob.OpenBucket(ctx, raw)
	if err != nil {
		t.Fatalf("open %s://%s: %v", u.Scheme, u.Host, err)
	}
	if err := create(ctx, b, u.Host); err != nil {
		t.Fatalf("create bucket %s://%s: %v", u.Scheme, u.Host, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return openBlob(t, raw) })
}
