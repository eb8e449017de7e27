package index

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestTopicNamedDeletedSurvivesRestart: a topic whose name ends in
// ".deleted" keeps its index across a reopen, while directories of topic
// indexes being deleted, of this version's form and of the earlier one,
// are removed on open.
func TestTopicNamedDeletedSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	x, err := OpenBluge(dir, BlugeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"logs.deleted", "gone"} {
		b := &Batch{Topic: topic, Partition: 0, Next: 1, Docs: []Document{{Offset: 0, Timestamp: 1, Value: []byte(`{"a":"b"}`)}}}
		if err := x.Index(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	topics := filepath.Join(dir, "topics")
	// What a crash in the middle of DeleteTopic leaves, in both forms.
	nanos := strconv.FormatInt(time.Now().UnixNano(), 36)
	leftovers := []string{"gone~" + nanos + "~deleted", "old." + nanos + ".deleted"}
	if err := os.Rename(filepath.Join(topics, "gone"), filepath.Join(topics, leftovers[0])); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(topics, leftovers[1]), 0o755); err != nil {
		t.Fatal(err)
	}

	x, err = OpenBluge(dir, BlugeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	for _, name := range leftovers {
		if _, err := os.Stat(filepath.Join(topics, name)); !os.IsNotExist(err) {
			t.Errorf("%s left after OpenBluge: %v", name, err)
		}
	}
	got, err := x.Topics()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"logs.deleted"}) {
		t.Fatalf("topics after reopen %v, want [logs.deleted]", got)
	}
	res, err := x.Search(ctx, "logs.deleted", &Request{Query: &MatchAllQuery{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 1 {
		t.Fatalf("%d documents of logs.deleted after reopen, want 1", res.Total)
	}

	if err := x.DeleteTopic(ctx, "logs.deleted"); err != nil {
		t.Fatal(err)
	}
	if got, _ := x.Topics(); len(got) != 0 {
		t.Fatalf("topics after DeleteTopic %v, want none", got)
	}
	ents, err := os.ReadDir(topics)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("%d entries under topics/ after DeleteTopic, want none", len(ents))
	}
}
