package metadata_test

import (
	"path/filepath"
	"testing"

	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/metadata/metadatatest"
)

func openBolt(t *testing.T) *metadata.Bolt {
	t.Helper()
	b, err := metadata.OpenBolt(filepath.Join(t.TempDir(), "metadata.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBoltConformance(t *testing.T) {
	metadatatest.Run(t,
		func(t *testing.T) metadata.Store { return openBolt(t) },
		func(t *testing.T, old metadata.Store) metadata.Store {
			path := old.(*metadata.Bolt).Path()
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := metadata.OpenBolt(path, 0)
			if err != nil {
				t.Fatal(err)
			}
			return b
		})
}
