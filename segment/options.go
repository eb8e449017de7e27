package segment

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/chronik-go/chronik/internal/vfs"
)

// Defaults of Options, Kafka's where Kafka has the setting.
const (
	DefaultSegmentBytes           = 1 << 30            // segment.bytes
	DefaultSegmentAge             = 7 * 24 * time.Hour // segment.ms
	DefaultIndexIntervalBytes     = 4096               // index.interval.bytes
	DefaultBloomFalsePositiveRate = 0.01               // per segment
	DefaultRetentionCheckInterval = 5 * time.Minute    // log.retention.check.interval.ms
	DefaultArchiveRetryMin        = 100 * time.Millisecond
	DefaultArchiveRetryMax        = 30 * time.Second
	maxSegmentBytes               = math.MaxInt32 // positions are 32-bit, as in Kafka
)

// Options configures a Log. The zero value of each field selects its default.
type Options struct {
	// FS is the file system; default vfs.OS.
	FS vfs.FS
	// SegmentBytes rolls the active segment when the next batch would make
	// it larger (Kafka segment.bytes, default 1 GiB, at most 2 GiB - 1).
	// A batch larger than this is refused with BatchTooLargeError.
	SegmentBytes int64
	// SegmentAge rolls the active segment when its first batch's
	// maxTimestamp (its creation time if it has none) is older than this
	// (Kafka segment.ms, default 7 days). Checked on Append.
	SegmentAge time.Duration
	// IndexIntervalBytes is the byte distance between sparse offset and time
	// index entries (Kafka index.interval.bytes, default 4096).
	IndexIntervalBytes int
	// BloomFalsePositiveRate is the key bloom filter's false-positive rate
	// per segment, in (0, 0.5] (default 0.01).
	BloomFalsePositiveRate float64
	// FlushBytes starts an fsync once this many unsynced bytes accumulated,
	// even if nobody waits. 0 = no such trigger.
	FlushBytes int
	// FlushInterval starts an fsync at most this long after the first
	// unsynced byte, even if nobody waits. 0 = only on demand and at Close.
	FlushInterval time.Duration
	// RetentionBytes is the size the log is trimmed to by deleting its
	// oldest sealed segments (Kafka retention.bytes). With an Archiver it
	// covers the remote and local segments together. 0 or -1 = unlimited.
	RetentionBytes int64
	// RetentionAge deletes sealed segments whose newest batch is older than
	// this (Kafka retention.ms). With an Archiver it covers the remote and
	// local segments together. <= 0 = unlimited.
	RetentionAge time.Duration
	// LocalRetentionBytes, with an Archiver, bounds the local copies: the
	// oldest archived local segments are deleted beyond it (Kafka
	// local.retention.bytes). 0 = same as RetentionBytes, -1 = unlimited.
	LocalRetentionBytes int64
	// LocalRetentionAge, with an Archiver, deletes archived local segments
	// older than this (Kafka local.retention.ms). 0 = same as RetentionAge,
	// < 0 = unlimited.
	LocalRetentionAge time.Duration
	// RetentionCheckInterval is how often retention runs besides after each
	// roll and upload (Kafka log.retention.check.interval.ms, default 5 min).
	RetentionCheckInterval time.Duration
	// Archiver is the optional object-store tier for sealed segments.
	Archiver Archiver
	// ArchiveRetryMin and ArchiveRetryMax bound the exponential backoff
	// between failed Archive attempts (defaults 100 ms and 30 s).
	ArchiveRetryMin, ArchiveRetryMax time.Duration
	// Logger receives warnings (failed uploads, rebuilt indexes); default
	// discards.
	Logger *slog.Logger
	// OnEvent, if set, is told about segment creation, rolls, recovery
	// truncation, rebuilt indexes, uploads and deletions.
	OnEvent func(Event)
	// Now is the clock for timestamps compared with batch times (roll by
	// age, retention by time); default time.Now.
	Now func() time.Time
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = vfs.OS
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentBytes < 0 || o.SegmentBytes > maxSegmentBytes {
		return o, fmt.Errorf("segment: SegmentBytes %d outside (0, %d]", o.SegmentBytes, maxSegmentBytes)
	}
	if o.SegmentAge == 0 {
		o.SegmentAge = DefaultSegmentAge
	}
	if o.SegmentAge < 0 {
		return o, fmt.Errorf("segment: negative SegmentAge %v", o.SegmentAge)
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	if o.IndexIntervalBytes < 0 {
		return o, fmt.Errorf("segment: negative IndexIntervalBytes %d", o.IndexIntervalBytes)
	}
	if o.BloomFalsePositiveRate == 0 {
		o.BloomFalsePositiveRate = DefaultBloomFalsePositiveRate
	}
	if !(o.BloomFalsePositiveRate > 0 && o.BloomFalsePositiveRate <= 0.5) {
		return o, fmt.Errorf("segment: BloomFalsePositiveRate %v outside (0, 0.5]", o.BloomFalsePositiveRate)
	}
	if o.FlushBytes < 0 || o.FlushInterval < 0 {
		return o, fmt.Errorf("segment: negative FlushBytes or FlushInterval")
	}
	if o.RetentionBytes == 0 || o.RetentionBytes < -1 {
		if o.RetentionBytes < -1 {
			return o, fmt.Errorf("segment: RetentionBytes %d below -1", o.RetentionBytes)
		}
		o.RetentionBytes = -1
	}
	switch {
	case o.LocalRetentionBytes == 0:
		o.LocalRetentionBytes = o.RetentionBytes
	case o.LocalRetentionBytes < -1:
		return o, fmt.Errorf("segment: LocalRetentionBytes %d below -1", o.LocalRetentionBytes)
	}
	if o.LocalRetentionAge == 0 {
		o.LocalRetentionAge = o.RetentionAge
	}
	if o.RetentionCheckInterval == 0 {
		o.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	if o.RetentionCheckInterval < 0 {
		return o, fmt.Errorf("segment: negative RetentionCheckInterval")
	}
	if o.ArchiveRetryMin == 0 {
		o.ArchiveRetryMin = DefaultArchiveRetryMin
	}
	if o.ArchiveRetryMax == 0 {
		o.ArchiveRetryMax = DefaultArchiveRetryMax
	}
	if o.ArchiveRetryMin < 0 || o.ArchiveRetryMax < o.ArchiveRetryMin {
		return o, fmt.Errorf("segment: archive backoff [%v, %v] invalid", o.ArchiveRetryMin, o.ArchiveRetryMax)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
