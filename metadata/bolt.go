package metadata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Bucket and key names of the bbolt file (docs/format.md, "metadata store").
var (
	bucketMeta        = []byte("meta")
	bucketTopics      = []byte("topics")
	bucketProducerIDs = []byte("producer_ids")
	bucketKV          = []byte("kv")
	keyLayout         = []byte("layout")
	keyNextPID        = []byte("next")
)

// openTimeout bounds the wait for the file lock another open store holds.
var openTimeout = 2 * time.Second

// Bolt is a durable Store in one bbolt file. Each write is one bbolt
// read-write transaction, fsync'd before the method returns. Topics are also
// kept as an in-memory snapshot, rebuilt from the file on open, so Topic and
// Topics never touch the disk.
//
// Topic writes serialise on the table's write lock (cancellable) and then on
// bbolt's writer lock; key-value and producer-id writes take only bbolt's,
// which cannot be interrupted by ctx. bbolt locks the file, so one process
// opens it at a time; brokers in that process share the *Bolt.
type Bolt struct {
	tb   *table
	db   *bolt.DB
	path string
}

var _ Store = (*Bolt)(nil)

// OpenBolt opens or creates the store file at path. defaultNode places topics
// created without replicas and must not be negative. Opening fails with a
// *CorruptError if a topic or producer-id record cannot be decoded, and
// after two seconds if another open store holds the file's lock.
func OpenBolt(path string, defaultNode int32) (*Bolt, error) {
	if defaultNode < 0 {
		return nil, fmt.Errorf("metadata: open %s: %w: negative default node id %d", path, ErrInvalidArgument, defaultNode)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("metadata: open %s: the file is locked by another open store: %w", path, err)
		}
		return nil, fmt.Errorf("metadata: open %s: %w", path, err)
	}
	b := &Bolt{db: db, path: path}
	b.tb = newTable(defaultNode, b.persistTopic)
	topics, err := b.init()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("metadata: open %s: %w", path, err), db.Close())
	}
	b.tb.load(topics)
	return b, nil
}

// init creates the buckets of a new file, checks the layout version of an
// existing one and reads every topic.
func (b *Bolt) init() ([]Topic, error) {
	err := b.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch v := meta.Get(keyLayout); {
		case v == nil:
			if err := meta.Put(keyLayout, []byte{layoutV1}); err != nil {
				return err
			}
		case len(v) != 1 || v[0] != layoutV1:
			return &CorruptError{Bucket: string(bucketMeta), Key: string(keyLayout),
				Err: fmt.Errorf("unsupported layout %v: this version reads layout %d", v, layoutV1)}
		}
		for _, name := range [][]byte{bucketTopics, bucketProducerIDs, bucketKV} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var topics []Topic
	err = b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketProducerIDs).Get(keyNextPID); v != nil {
			if _, err := decodeProducerID(v); err != nil {
				return &CorruptError{Bucket: string(bucketProducerIDs), Key: string(keyNextPID), Err: err}
			}
		}
		return tx.Bucket(bucketTopics).ForEach(func(k, v []byte) error {
			t, err := decodeTopic(string(k), v)
			if err != nil {
				return &CorruptError{Bucket: string(bucketTopics), Key: string(k), Err: err}
			}
			topics = append(topics, t)
			return nil
		})
	})
	return topics, err
}

// Path returns the file the store was opened from.
func (b *Bolt) Path() string { return b.path }

// persistTopic writes (or, for a deletion notice, deletes) a topic record.
func (b *Bolt) persistTopic(t Topic) error {
	return b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketTopics)
		if t.Deleted() {
			return bk.Delete([]byte(t.Name))
		}
		return bk.Put([]byte(t.Name), encodeTopic(t))
	})
}

// CreateTopic implements Store.
func (b *Bolt) CreateTopic(ctx context.Context, name string, partitions int32, replicas []int32, config map[string]string) (Topic, error) {
	return b.tb.createTopic(ctx, name, partitions, replicas, config)
}

// Topic implements Store.
func (b *Bolt) Topic(name string) (Topic, bool) { return b.tb.topic(name) }

// Topics implements Store.
func (b *Bolt) Topics() []Topic { return b.tb.topics() }

// DeleteTopic implements Store.
func (b *Bolt) DeleteTopic(ctx context.Context, name string) error {
	return b.tb.deleteTopic(ctx, name)
}

// AlterTopicConfig implements Store.
func (b *Bolt) AlterTopicConfig(ctx context.Context, name string, config map[string]string) error {
	return b.tb.alterTopicConfig(ctx, name, config)
}

// CreatePartitions implements Store.
func (b *Bolt) CreatePartitions(ctx context.Context, name string, count int32) error {
	return b.tb.createPartitions(ctx, name, count)
}

// SetLeader implements Store.
func (b *Bolt) SetLeader(ctx context.Context, topic string, partition int32, leader int32) error {
	return b.tb.setLeader(ctx, topic, partition, leader)
}

// Watch implements Store.
func (b *Bolt) Watch(fn func(Topic)) (cancel func()) { return b.tb.hub.watch(fn) }

// AllocateProducerIDs implements Store: the next free id is read, advanced
// and fsync'd in one transaction before the block is handed out.
func (b *Bolt) AllocateProducerIDs(ctx context.Context, n int64) (int64, error) {
	fail := func(err error) (int64, error) {
		return -1, &KeyError{Op: "allocate producer ids", Err: err}
	}
	if err := b.begin(ctx); err != nil {
		return fail(err)
	}
	if n <= 0 {
		return fail(fmt.Errorf("%w: block size %d is not positive", ErrInvalidArgument, n))
	}
	var first int64
	err := b.update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketProducerIDs)
		first = 0
		if v := bk.Get(keyNextPID); v != nil {
			next, err := decodeProducerID(v)
			if err != nil {
				return &CorruptError{Bucket: string(bucketProducerIDs), Key: string(keyNextPID), Err: err}
			}
			first = next
		}
		if n > math.MaxInt64-first {
			return fmt.Errorf("%w: %d ids requested, %d left", ErrProducerIDsExhausted, n, math.MaxInt64-first)
		}
		return bk.Put(keyNextPID, encodeProducerID(first+n))
	})
	if err != nil {
		return fail(err)
	}
	return first, nil
}

// Get implements Store.
func (b *Bolt) Get(ctx context.Context, namespace, key string) ([]byte, bool, error) {
	if err := b.beginKey(ctx, namespace, key); err != nil {
		return nil, false, &KeyError{Op: "get", Namespace: namespace, Key: key, Err: err}
	}
	var (
		val   []byte
		found bool
	)
	err := b.view(func(tx *bolt.Tx) error {
		ns := tx.Bucket(bucketKV).Bucket([]byte(namespace))
		if ns == nil {
			return nil
		}
		raw := ns.Get([]byte(key))
		if raw == nil {
			return nil
		}
		v, err := decodeKV(raw)
		if err != nil {
			return kvCorrupt(namespace, key, err)
		}
		val, found = v, true
		return nil
	})
	if err != nil {
		return nil, false, &KeyError{Op: "get", Namespace: namespace, Key: key, Err: err}
	}
	return val, found, nil
}

// Put implements Store.
func (b *Bolt) Put(ctx context.Context, namespace, key string, value []byte) error {
	if err := b.beginKey(ctx, namespace, key); err != nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: err}
	}
	if err := validateValue(value); err != nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: err}
	}
	err := b.update(func(tx *bolt.Tx) error {
		ns, err := tx.Bucket(bucketKV).CreateBucketIfNotExists([]byte(namespace))
		if err != nil {
			return err
		}
		return ns.Put([]byte(key), encodeKV(value))
	})
	if err != nil {
		return &KeyError{Op: "put", Namespace: namespace, Key: key, Err: err}
	}
	return nil
}

// errNoChange rolls back a read-write transaction that found nothing to
// change, so it costs no fsync.
var errNoChange = errors.New("no change")

// Delete implements Store.
func (b *Bolt) Delete(ctx context.Context, namespace, key string) error {
	if err := b.beginKey(ctx, namespace, key); err != nil {
		return &KeyError{Op: "delete", Namespace: namespace, Key: key, Err: err}
	}
	err := b.update(func(tx *bolt.Tx) error {
		ns := tx.Bucket(bucketKV).Bucket([]byte(namespace))
		if ns == nil || ns.Get([]byte(key)) == nil {
			return errNoChange
		}
		return ns.Delete([]byte(key))
	})
	if err != nil && err != errNoChange {
		return &KeyError{Op: "delete", Namespace: namespace, Key: key, Err: err}
	}
	return nil
}

// CompareAndSwap implements Store.
func (b *Bolt) CompareAndSwap(ctx context.Context, namespace, key string, old, new []byte) (bool, error) {
	if err := b.beginKey(ctx, namespace, key); err != nil {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: err}
	}
	if err := validateValue(new); err != nil {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: err}
	}
	var swapped bool
	err := b.update(func(tx *bolt.Tx) error {
		swapped = false
		kv := tx.Bucket(bucketKV)
		ns := kv.Bucket([]byte(namespace))
		var (
			cur     []byte
			present bool
		)
		if ns != nil {
			if raw := ns.Get([]byte(key)); raw != nil {
				v, err := decodeKV(raw)
				if err != nil {
					return kvCorrupt(namespace, key, err)
				}
				cur, present = v, true
			}
		}
		if !casMatches(cur, present, old) {
			return errNoChange
		}
		swapped = true
		if new == nil {
			if !present {
				return errNoChange // old and new both nil on a missing key
			}
			return ns.Delete([]byte(key))
		}
		if ns == nil {
			var err error
			if ns, err = kv.CreateBucket([]byte(namespace)); err != nil {
				return err
			}
		}
		return ns.Put([]byte(key), encodeKV(new))
	})
	if err != nil && err != errNoChange {
		return false, &KeyError{Op: "compare-and-swap", Namespace: namespace, Key: key, Err: err}
	}
	return swapped, nil
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, namespace, prefix string) (map[string][]byte, error) {
	fail := func(err error) (map[string][]byte, error) {
		return nil, &KeyError{Op: "list", Namespace: namespace, Key: prefix, Err: err}
	}
	if err := b.begin(ctx); err != nil {
		return fail(err)
	}
	if err := validateNamespace(namespace); err != nil {
		return fail(err)
	}
	out := make(map[string][]byte)
	err := b.view(func(tx *bolt.Tx) error {
		ns := tx.Bucket(bucketKV).Bucket([]byte(namespace))
		if ns == nil {
			return nil
		}
		c := ns.Cursor()
		p := []byte(prefix)
		for k, raw := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, raw = c.Next() {
			v, err := decodeKV(raw)
			if err != nil {
				return kvCorrupt(namespace, string(k), err)
			}
			out[string(k)] = v
		}
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// Close implements Store: it stops watchers, waits for running writes and
// closes the file.
func (b *Bolt) Close() error {
	return b.tb.close(func() error {
		if err := b.db.Close(); err != nil {
			return fmt.Errorf("metadata: close %s: %w", b.path, err)
		}
		return nil
	})
}

func (b *Bolt) begin(ctx context.Context) error {
	if b.tb.closed.Load() {
		return ErrClosed
	}
	return ctx.Err()
}

func (b *Bolt) beginKey(ctx context.Context, namespace, key string) error {
	if err := b.begin(ctx); err != nil {
		return err
	}
	return validateKey(namespace, key)
}

// update runs fn in one read-write transaction; a transaction racing Close
// reports ErrClosed.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	return closedErr(b.db.Update(fn))
}

func (b *Bolt) view(fn func(*bolt.Tx) error) error {
	return closedErr(b.db.View(fn))
}

func closedErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func kvCorrupt(namespace, key string, err error) error {
	return &CorruptError{Bucket: string(bucketKV) + "/" + namespace, Key: key, Err: err}
}
