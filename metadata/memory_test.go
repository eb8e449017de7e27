package metadata_test

import (
	"testing"

	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/metadata/metadatatest"
)

func TestMemoryConformance(t *testing.T) {
	metadatatest.Run(t, func(*testing.T) metadata.Store { return metadata.NewMemory(0) }, nil)
}

func TestMemoryDefaultNode(t *testing.T) {
	m := metadata.NewMemory(7)
	defer m.Close()
	tp, err := m.CreateTopic(t.Context(), "t", 2, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range tp.Partitions {
		if p.Leader != 7 || len(p.Replicas) != 1 || p.Replicas[0] != 7 {
			t.Errorf("partition %+v, want node 7 alone", p)
		}
	}
}

func TestNewMemoryNegativeNodePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMemory(-1) did not panic")
		}
	}()
	metadata.NewMemory(-1)
}
