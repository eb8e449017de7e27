package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func tempBolt(t *testing.T) (*Bolt, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metadata.db")
	b, err := OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	return b, path
}

// rawUpdate edits the closed store file at path directly.
func rawUpdate(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBoltRejectsCorruptRecords(t *testing.T) {
	cases := []struct {
		name          string
		bucket, key   string
		value         []byte
		wantBucketKey string
	}{
		{"topic version", "topics", "orders", append([]byte{2}, `{"name":"orders"}`...), "topics/orders"},
		{"topic empty", "topics", "orders", []byte{}, "topics/orders"},
		{"topic bad json", "topics", "orders", []byte("\x01{"), "topics/orders"},
		{"topic renamed", "topics", "orders", nil, "topics/orders"}, // filled below: a record naming another topic
		{"producer ids", "producer_ids", "next", []byte{1, 2, 3}, "producer_ids/next"},
		{"producer ids negative", "producer_ids", "next", encodeProducerID(-5), "producer_ids/next"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, path := tempBolt(t)
			if _, err := b.CreateTopic(t.Context(), "orders", 1, nil, nil); err != nil {
				t.Fatal(err)
			}
			tp, _ := b.Topic("orders")
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			value := c.value
			if value == nil {
				other := tp
				other.Name = "payments"
				value = encodeTopic(other)
			}
			rawUpdate(t, path, func(tx *bolt.Tx) error {
				return tx.Bucket([]byte(c.bucket)).Put([]byte(c.key), value)
			})
			_, err := OpenBolt(path, 1)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("OpenBolt over a corrupt record: %v, want a *CorruptError", err)
			}
			if got := ce.Bucket + "/" + ce.Key; got != c.wantBucketKey {
				t.Errorf("CorruptError names %s, want %s", got, c.wantBucketKey)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			// The failed open released the file.
			b2, err := openAfterRepair(t, path, c.bucket, c.key)
			if err != nil {
				t.Fatalf("reopen after removing the bad record: %v", err)
			}
			b2.Close()
		})
	}
}

func openAfterRepair(t *testing.T, path, bucket, key string) (*Bolt, error) {
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Delete([]byte(key)) })
	return OpenBolt(path, 1)
}

func TestBoltRejectsUnknownLayout(t *testing.T) {
	b, path := tempBolt(t)
	b.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyLayout, []byte{9}) })
	_, err := OpenBolt(path, 1)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Key != "layout" {
		t.Fatalf("OpenBolt of layout 9: %v, want a *CorruptError on meta/layout", err)
	}
}

func TestBoltCorruptKeyValue(t *testing.T) {
	b, path := tempBolt(t)
	if err := b.Put(t.Context(), "txn", "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	b.Close()
	rawUpdate(t, path, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketKV).Bucket([]byte("txn")).Put([]byte("k"), []byte{7, 'v'})
	})
	b, err := OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	check := func(what string, err error) {
		t.Helper()
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Bucket != "kv/txn" || ce.Key != "k" {
			t.Errorf("%s of a corrupt record: %v, want a *CorruptError on kv/txn k", what, err)
		}
	}
	_, _, err = b.Get(t.Context(), "txn", "k")
	check("Get", err)
	_, err = b.List(t.Context(), "txn", "")
	check("List", err)
	_, err = b.CompareAndSwap(t.Context(), "txn", "k", nil, nil)
	check("CompareAndSwap", err)
}

func TestBoltLockedFile(t *testing.T) {
	saved := openTimeout
	openTimeout = 50 * time.Millisecond
	defer func() { openTimeout = saved }()
	b, path := tempBolt(t)
	defer b.Close()
	start := time.Now()
	_, err := OpenBolt(path, 1)
	if err == nil || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second OpenBolt of an open file: %v, want a lock error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("lock error took %v", d)
	}
}

func TestBoltOpenErrors(t *testing.T) {
	if _, err := OpenBolt(filepath.Join(t.TempDir(), "x.db"), -1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative default node: %v", err)
	}
	if _, err := OpenBolt(filepath.Join(t.TempDir(), "missing-dir", "x.db"), 0); err == nil {
		t.Error("OpenBolt in a missing directory succeeded")
	}
	notDB := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("garbage!"), 2048), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenBolt(notDB, 0); err == nil {
		t.Error("OpenBolt of a file that is not a bbolt database succeeded")
	}
}

// A write that fails to persist must not reach readers or watchers.
func TestBoltFailedWriteIsNotPublished(t *testing.T) {
	b, _ := tempBolt(t)
	defer b.Close()
	if _, err := b.CreateTopic(t.Context(), "kept", 1, nil, nil); err != nil {
		t.Fatal(err)
	}
	notices := make(chan Topic, 10)
	cancel := b.Watch(func(tp Topic) { notices <- tp })
	defer cancel()
	before := b.Topics()
	// Fail the next persist the way a full or broken disk would.
	persist := b.tb.persist
	b.tb.persist = func(Topic) error { return errors.New("injected write failure") }
	if _, err := b.CreateTopic(t.Context(), "lost", 1, nil, nil); err == nil || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("CreateTopic over a failing disk: %v", err)
	}
	if err := b.SetLeader(t.Context(), "kept", 0, 1); err == nil {
		t.Fatal("SetLeader over a failing disk succeeded")
	}
	if got := b.Topics(); !reflect.DeepEqual(got, before) {
		t.Fatalf("failed writes reached the snapshot: %+v", got)
	}
	b.tb.persist = persist
	if _, err := b.CreateTopic(t.Context(), "lost", 1, nil, nil); err != nil {
		t.Fatalf("CreateTopic once the disk works: %v", err)
	}
	select {
	case tp := <-notices:
		if tp.Name != "lost" {
			t.Errorf("first watch notice is for %q, want only the successful create of lost", tp.Name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch notice for the successful create")
	}
	b.Close() // waits for the watcher goroutine
	if len(notices) != 0 {
		t.Errorf("%d extra watch notices", len(notices))
	}
}

// Closing the database underneath the store (as a crash of the file would)
// turns every write into ErrClosed instead of a panic.
func TestBoltDatabaseClosedUnderneath(t *testing.T) {
	b, _ := tempBolt(t)
	defer b.Close()
	if err := b.db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateTopic(t.Context(), "t", 1, nil, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("CreateTopic: %v, want ErrClosed", err)
	}
	if _, ok := b.Topic("t"); ok {
		t.Error("a failed create is visible")
	}
	if err := b.Put(t.Context(), "ns", "k", nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Put: %v, want ErrClosed", err)
	}
	if _, err := b.AllocateProducerIDs(t.Context(), 1); !errors.Is(err, ErrClosed) {
		t.Errorf("AllocateProducerIDs: %v, want ErrClosed", err)
	}
}

func TestBoltProducerIDsStartAtZeroAndPersist(t *testing.T) {
	b, path := tempBolt(t)
	first, err := b.AllocateProducerIDs(t.Context(), 1000)
	if err != nil || first != 0 {
		t.Fatalf("first block starts at %d (%v), want 0 as in Kafka", first, err)
	}
	b.Close()
	b, err = OpenBolt(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if first, err := b.AllocateProducerIDs(t.Context(), 1); err != nil || first != 1000 {
		t.Fatalf("after reopen the next block starts at %d (%v), want 1000", first, err)
	}
	// The last id is math.MaxInt64 - 1; asking past it fails and allocates nothing.
	rawNext := encodeProducerID(1<<63 - 10)
	if err := b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketProducerIDs).Put(keyNextPID, rawNext) }); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AllocateProducerIDs(t.Context(), 10); !errors.Is(err, ErrProducerIDsExhausted) {
		t.Fatalf("allocating past MaxInt64: %v, want ErrProducerIDsExhausted", err)
	}
	if first, err := b.AllocateProducerIDs(t.Context(), 9); err != nil || first != 1<<63-10 {
		t.Fatalf("allocating the last 9 ids: %d, %v", first, err)
	}
}

func TestMemoryProducerIDsExhausted(t *testing.T) {
	m := NewMemory(0)
	defer m.Close()
	m.nextPID = 1<<63 - 4 // math.MaxInt64 - 3: three ids left
	if _, err := m.AllocateProducerIDs(t.Context(), 4); !errors.Is(err, ErrProducerIDsExhausted) {
		t.Fatalf("allocating past MaxInt64: %v", err)
	}
	if first, err := m.AllocateProducerIDs(t.Context(), 3); err != nil || first != 1<<63-4 {
		t.Fatalf("allocating the last ids: %d, %v", first, err)
	}
}

// goldenTopic is the fixed topic of testdata/topic-v1.golden.
func goldenTopic(t *testing.T) Topic {
	t.Helper()
	overrides := map[string]string{ConfigCleanupPolicy: "compact", ConfigSearchEnabled: "true", ConfigSearchFields: "user,amount"}
	cfg, err := ParseTopicConfig(overrides)
	if err != nil {
		t.Fatal(err)
	}
	return Topic{
		Name: "orders",
		ID:   [16]byte{0x1f, 0x2e, 0x3d, 0x4c, 0x5b, 0x6a, 0x47, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01},
		Partitions: []PartitionInfo{
			{Partition: 0, Leader: 1, LeaderEpoch: 0, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
			{Partition: 1, Leader: -1, LeaderEpoch: 7, Replicas: []int32{2, 1}, ISR: []int32{2}},
		},
		Config:    cfg,
		Overrides: cfg.overrides(overrides),
	}
}

func TestTopicRecordGolden(t *testing.T) {
	tp := goldenTopic(t)
	got := encodeTopic(tp)
	path := filepath.Join("testdata", "topic-v1.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("topic record changed:\n got %q\nwant %q\n(a format change needs a new version byte; rerun with -update only for a deliberate one)", got, want)
	}
	back, err := decodeTopic("orders", want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tp) {
		t.Fatalf("decoded golden record = %+v, want %+v", back, tp)
	}
}

func TestDecodeTopicRejects(t *testing.T) {
	good := string(encodeTopic(goldenTopic(t))[1:])
	cases := map[string]string{
		"unknown field":      strings.Replace(good, `"name"`, `"extra":1,"name"`, 1),
		"trailing data":      good + "{}",
		"short id":           strings.Replace(good, `"1f2e`, `"`, 1),
		"bad partition num":  strings.Replace(good, `"partition":1`, `"partition":5`, 1),
		"leader not replica": strings.Replace(good, `"leader":1`, `"leader":9`, 1),
		"duplicate replica":  strings.Replace(good, `"replicas":[1,2]`, `"replicas":[1,1]`, 1),
		"isr not replicas":   strings.Replace(good, `"isr":[2]`, `"isr":[3]`, 1),
		"negative epoch":     strings.Replace(good, `"leader_epoch":7`, `"leader_epoch":-7`, 1),
		"bad config":         strings.Replace(good, `"cleanup.policy":"compact"`, `"cleanup.policy":"never"`, 1),
		"unknown config":     strings.Replace(good, `"cleanup.policy"`, `"flush.ms"`, 1),
		"epoch overflow":     strings.Replace(good, `"leader_epoch":7`, `"leader_epoch":2147483648`, 1),
	}
	for name, body := range cases {
		if body == good {
			t.Fatalf("%s: the edit did not apply", name)
		}
		if _, err := decodeTopic("orders", append([]byte{topicV1}, body...)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	empty := topicRecordV1{Name: "orders", ID: "1f2e3d4c5b6a478899aabbccddeeff01", Partitions: []partitionRecordV1{}}
	body, err := json.Marshal(empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decodeTopic("orders", append([]byte{topicV1}, body...)); err == nil {
		t.Error("a record without partitions decoded")
	}
	if _, err := decodeTopic("payments", []byte("\x01"+good)); err == nil {
		t.Error("a record under the wrong key decoded")
	}
}

func TestKVRecordRoundTrip(t *testing.T) {
	for _, v := range [][]byte{{}, []byte("x"), bytes.Repeat([]byte{0}, 300)} {
		enc := encodeKV(v)
		if enc[0] != kvV1 {
			t.Fatalf("version byte %d", enc[0])
		}
		got, err := decodeKV(enc)
		if err != nil || !bytes.Equal(got, v) || got == nil {
			t.Fatalf("decodeKV(encodeKV(%q)) = %q, %v", v, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {}, {0}, {2, 'x'}} {
		if _, err := decodeKV(bad); err == nil {
			t.Errorf("decodeKV(%v) accepted", bad)
		}
	}
}

// FuzzDecodeTopic: decoding never panics, and whatever decodes re-encodes
// to a record that decodes to the same topic.
func FuzzDecodeTopic(f *testing.F) {
	f.Add([]byte(nil))
	f.Add([]byte{topicV1})
	f.Fuzz(func(t *testing.T, data []byte) {
		tp, err := decodeTopic("orders", data)
		if err != nil {
			return
		}
		if tp.Deleted() || tp.Name != "orders" {
			t.Fatalf("decoded an impossible topic %+v", tp)
		}
		again, err := decodeTopic("orders", encodeTopic(tp))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, tp) {
			t.Fatalf("round trip changed the topic:\n%+v\n%+v", again, tp)
		}
	})
}
