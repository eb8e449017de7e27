package metadata

import (
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Topic config keys chronik understands, with Kafka's names. Any other key is
// rejected with a *ConfigError, never ignored.
const (
	ConfigCompressionType      = "compression.type"
	ConfigTimestampType        = "message.timestamp.type"
	ConfigTimestampBeforeMaxMs = "message.timestamp.before.max.ms"
	ConfigTimestampAfterMaxMs  = "message.timestamp.after.max.ms"
	ConfigMaxMessageBytes      = "max.message.bytes"
	ConfigMinInsyncReplicas    = "min.insync.replicas"
	ConfigSegmentBytes         = "segment.bytes"
	ConfigSegmentMs            = "segment.ms"
	ConfigRetentionMs          = "retention.ms"
	ConfigRetentionBytes       = "retention.bytes"
	ConfigLocalRetentionMs     = "local.retention.ms"
	ConfigLocalRetentionBytes  = "local.retention.bytes"
	ConfigCleanupPolicy        = "cleanup.policy"
	ConfigSearchEnabled        = "search.enabled"
	ConfigSearchFields         = "search.fields"
)

// Values of compression.type (Kafka's BrokerCompressionType names).
const (
	CompressionProducer     = "producer" // keep the producer's codec
	CompressionUncompressed = "uncompressed"
	CompressionGzip         = "gzip"
	CompressionSnappy       = "snappy"
	CompressionLz4          = "lz4"
	CompressionZstd         = "zstd"
)

// Values of message.timestamp.type.
const (
	TimestampCreateTime    = "CreateTime"
	TimestampLogAppendTime = "LogAppendTime"
)

// Values of cleanup.policy; the combined form is CleanupCompact + "," +
// CleanupDelete.
const (
	CleanupDelete  = "delete"
	CleanupCompact = "compact"
)

// Kafka 3.x defaults (org.apache.kafka.common.config.TopicConfig and
// LogConfig).
const (
	DefaultMaxMessageBytes = 1048588      // 1 MiB + the 12-byte log overhead
	DefaultSegmentBytes    = 1 << 30      // 1 GiB
	DefaultSegmentMs       = 7 * 86400000 // 7 days
	DefaultRetentionMs     = 7 * 86400000 // 7 days
	DefaultRetentionBytes  = -1           // no size limit
	DefaultLocalRetention  = -2           // local.retention.ms/bytes: as retention.ms/bytes
	minSegmentBytes        = 14           // LegacyRecord.RECORD_OVERHEAD_V0, Kafka 3.x's lower bound
)

// TopicConfig is a topic's effective configuration, every field set.
type TopicConfig struct {
	CompressionType      string // compression.type: producer, uncompressed, gzip, snappy, lz4 or zstd
	TimestampType        string // message.timestamp.type: CreateTime or LogAppendTime
	TimestampBeforeMaxMs int64  // message.timestamp.before.max.ms, >= 0
	TimestampAfterMaxMs  int64  // message.timestamp.after.max.ms, >= 0
	MaxMessageBytes      int32  // max.message.bytes, >= 0: largest batch including the 12-byte log overhead
	MinInsyncReplicas    int    // min.insync.replicas, 1..MaxInt32
	SegmentBytes         int64  // segment.bytes, 14..MaxInt32 (an INT in Kafka)
	SegmentMs            int64  // segment.ms, >= 1
	RetentionMs          int64  // retention.ms, >= -1 (-1 = keep forever)
	RetentionBytes       int64  // retention.bytes, any value (negative = no limit)
	LocalRetentionMs     int64  // local.retention.ms, >= -2 (-2 = as retention.ms, -1 = keep forever): archived segments' local copies (KIP-405)
	LocalRetentionBytes  int64  // local.retention.bytes, >= -2 (-2 = as retention.bytes, -1 = no limit)
	CleanupPolicy        string // cleanup.policy: "delete", "compact" or "compact,delete"
	SearchEnabled        *bool  // search.enabled; nil leaves the choice to the handler's default
	SearchFields         []string
}

// DefaultTopicConfig returns Kafka's topic defaults. Both timestamp windows
// are math.MaxInt64 as in Kafka 3.x (Kafka 4.0 lowered
// message.timestamp.after.max.ms to one hour); search settings are unset.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{
		CompressionType:      CompressionProducer,
		TimestampType:        TimestampCreateTime,
		TimestampBeforeMaxMs: math.MaxInt64,
		TimestampAfterMaxMs:  math.MaxInt64,
		MaxMessageBytes:      DefaultMaxMessageBytes,
		MinInsyncReplicas:    1,
		SegmentBytes:         DefaultSegmentBytes,
		SegmentMs:            DefaultSegmentMs,
		RetentionMs:          DefaultRetentionMs,
		RetentionBytes:       DefaultRetentionBytes,
		LocalRetentionMs:     DefaultLocalRetention,
		LocalRetentionBytes:  DefaultLocalRetention,
		CleanupPolicy:        CleanupDelete,
	}
}

// ParseTopicConfig starts from DefaultTopicConfig and applies m, whose keys
// are Kafka config names. Values are trimmed of surrounding white space and
// parsed as Kafka's ConfigDef does (decimal integers, case-insensitive
// booleans, comma lists). The first bad entry in key order gives a
// *ConfigError (unwrapping to ErrInvalidConfig): an unknown key, a value of
// the wrong type, or one out of range. search.enabled accepts the empty
// value, meaning unset.
func ParseTopicConfig(m map[string]string) (TopicConfig, error) {
	c := DefaultTopicConfig()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := c.set(k, m[k]); err != nil {
			return TopicConfig{}, err
		}
	}
	return c, nil
}

// Map returns every config key with its value in canonical form, as
// DescribeConfigs reports them. ParseTopicConfig(c.Map()) equals c for any
// valid c. An unset search.enabled maps to the empty string.
func (c TopicConfig) Map() map[string]string {
	m := make(map[string]string, len(configKeys))
	for _, k := range configKeys {
		m[k.name] = k.format(&c)
	}
	return m
}

// Validate checks every field against the ranges ParseTopicConfig enforces,
// for configs built in code.
func (c TopicConfig) Validate() error {
	var scratch TopicConfig
	for _, k := range configKeys {
		if err := k.parse(&scratch, k.format(&c)); err != "" {
			return &ConfigError{Key: k.name, Value: k.format(&c), Reason: err}
		}
	}
	return nil
}

// Compacted reports whether cleanup.policy includes compact (then Kafka
// rejects records without a key).
func (c TopicConfig) Compacted() bool {
	return c.CleanupPolicy == CleanupCompact || c.CleanupPolicy == CleanupCompact+","+CleanupDelete
}

// ConfigNames returns the config keys chronik understands, sorted.
func ConfigNames() []string {
	names := make([]string, len(configKeys))
	for i, k := range configKeys {
		names[i] = k.name
	}
	sort.Strings(names)
	return names
}

func (c TopicConfig) clone() TopicConfig {
	if c.SearchEnabled != nil {
		v := *c.SearchEnabled
		c.SearchEnabled = &v
	}
	c.SearchFields = slices.Clone(c.SearchFields)
	return c
}

// overrides returns the normalised values of the keys in m, which c was
// parsed from.
func (c TopicConfig) overrides(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	all := c.Map()
	o := make(map[string]string, len(m))
	for k := range m {
		o[k] = all[k]
	}
	return o
}

func (c *TopicConfig) set(key, value string) error {
	for _, k := range configKeys {
		if k.name == key {
			if reason := k.parse(c, strings.TrimSpace(value)); reason != "" {
				return &ConfigError{Key: key, Value: value, Reason: reason}
			}
			return nil
		}
	}
	return &ConfigError{Key: key, Value: value, Reason: unknownConfigReason}
}

// configKey parses (returning "" or why the value is invalid) and formats one
// key. parse receives a trimmed value.
type configKey struct {
	name   string
	parse  func(c *TopicConfig, v string) string
	format func(c *TopicConfig) string
}

var configKeys = []configKey{
	{ConfigCompressionType,
		func(c *TopicConfig, v string) string {
			// Kafka's validator is case-sensitive (ConfigDef.ValidString).
			switch v {
			case CompressionProducer, CompressionUncompressed, CompressionGzip, CompressionSnappy, CompressionLz4, CompressionZstd:
				c.CompressionType = v
				return ""
			}
			return "must be one of producer, uncompressed, gzip, snappy, lz4, zstd"
		},
		func(c *TopicConfig) string { return c.CompressionType }},
	{ConfigTimestampType,
		func(c *TopicConfig, v string) string {
			switch v {
			case TimestampCreateTime, TimestampLogAppendTime:
				c.TimestampType = v
				return ""
			}
			return "must be CreateTime or LogAppendTime"
		},
		func(c *TopicConfig) string { return c.TimestampType }},
	{ConfigTimestampBeforeMaxMs, longAtLeast(0, func(c *TopicConfig) *int64 { return &c.TimestampBeforeMaxMs }),
		formatLong(func(c *TopicConfig) int64 { return c.TimestampBeforeMaxMs })},
	{ConfigTimestampAfterMaxMs, longAtLeast(0, func(c *TopicConfig) *int64 { return &c.TimestampAfterMaxMs }),
		formatLong(func(c *TopicConfig) int64 { return c.TimestampAfterMaxMs })},
	{ConfigMaxMessageBytes,
		func(c *TopicConfig, v string) string {
			n, reason := parseInt(v, 32, 0)
			if reason == "" {
				c.MaxMessageBytes = int32(n)
			}
			return reason
		},
		formatLong(func(c *TopicConfig) int64 { return int64(c.MaxMessageBytes) })},
	{ConfigMinInsyncReplicas,
		func(c *TopicConfig, v string) string {
			n, reason := parseInt(v, 32, 1)
			if reason == "" {
				c.MinInsyncReplicas = int(n)
			}
			return reason
		},
		formatLong(func(c *TopicConfig) int64 { return int64(c.MinInsyncReplicas) })},
	{ConfigSegmentBytes,
		func(c *TopicConfig, v string) string {
			n, reason := parseInt(v, 32, minSegmentBytes)
			if reason == "" {
				c.SegmentBytes = n
			}
			return reason
		},
		formatLong(func(c *TopicConfig) int64 { return c.SegmentBytes })},
	{ConfigSegmentMs, longAtLeast(1, func(c *TopicConfig) *int64 { return &c.SegmentMs }),
		formatLong(func(c *TopicConfig) int64 { return c.SegmentMs })},
	{ConfigRetentionMs, longAtLeast(-1, func(c *TopicConfig) *int64 { return &c.RetentionMs }),
		formatLong(func(c *TopicConfig) int64 { return c.RetentionMs })},
	// Kafka puts no bound on retention.bytes: any negative value means no limit.
	{ConfigRetentionBytes, longAtLeast(math.MinInt64, func(c *TopicConfig) *int64 { return &c.RetentionBytes }),
		formatLong(func(c *TopicConfig) int64 { return c.RetentionBytes })},
	// Kafka's LogConfig: local.retention.ms and .bytes are LONGs at least -2.
	{ConfigLocalRetentionMs, longAtLeast(-2, func(c *TopicConfig) *int64 { return &c.LocalRetentionMs }),
		formatLong(func(c *TopicConfig) int64 { return c.LocalRetentionMs })},
	{ConfigLocalRetentionBytes, longAtLeast(-2, func(c *TopicConfig) *int64 { return &c.LocalRetentionBytes }),
		formatLong(func(c *TopicConfig) int64 { return c.LocalRetentionBytes })},
	{ConfigCleanupPolicy,
		func(c *TopicConfig, v string) string {
			var compact, del bool
			for _, item := range strings.Split(v, ",") {
				switch strings.TrimSpace(item) {
				case CleanupCompact:
					compact = true
				case CleanupDelete:
					del = true
				default:
					return "must be delete, compact, or both as a comma list"
				}
			}
			switch {
			case compact && del:
				c.CleanupPolicy = CleanupCompact + "," + CleanupDelete
			case compact:
				c.CleanupPolicy = CleanupCompact
			default:
				c.CleanupPolicy = CleanupDelete
			}
			return ""
		},
		func(c *TopicConfig) string { return c.CleanupPolicy }},
	{ConfigSearchEnabled,
		func(c *TopicConfig, v string) string {
			// Booleans parse as in Kafka's ConfigDef: true or false, any case.
			switch {
			case v == "":
				c.SearchEnabled = nil
			case strings.EqualFold(v, "true"):
				t := true
				c.SearchEnabled = &t
			case strings.EqualFold(v, "false"):
				f := false
				c.SearchEnabled = &f
			default:
				return "must be true or false (or empty for the default)"
			}
			return ""
		},
		func(c *TopicConfig) string {
			if c.SearchEnabled == nil {
				return ""
			}
			return strconv.FormatBool(*c.SearchEnabled)
		}},
	{ConfigSearchFields,
		func(c *TopicConfig, v string) string {
			if v == "" {
				c.SearchFields = nil
				return ""
			}
			items := strings.Split(v, ",")
			fields := make([]string, 0, len(items))
			for _, item := range items {
				f := strings.TrimSpace(item)
				if f == "" {
					return "empty field name in comma list"
				}
				if slices.Contains(fields, f) {
					return "field " + strconv.Quote(f) + " listed twice"
				}
				fields = append(fields, f)
			}
			c.SearchFields = fields
			return ""
		},
		func(c *TopicConfig) string { return strings.Join(c.SearchFields, ",") }},
}

// parseInt parses a decimal integer of the given bit size that must be at
// least lo, as Kafka's ConfigDef parses INT and LONG with Range.atLeast.
func parseInt(v string, bits int, lo int64) (int64, string) {
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		if bits == 32 {
			return 0, "must be a 32-bit integer"
		}
		return 0, "must be a 64-bit integer"
	}
	if n < lo {
		return 0, "must be at least " + strconv.FormatInt(lo, 10)
	}
	return n, ""
}

func longAtLeast(lo int64, field func(*TopicConfig) *int64) func(*TopicConfig, string) string {
	return func(c *TopicConfig, v string) string {
		n, reason := parseInt(v, 64, lo)
		if reason == "" {
			*field(c) = n
		}
		return reason
	}
}

func formatLong(field func(*TopicConfig) int64) func(*TopicConfig) string {
	return func(c *TopicConfig) string { return strconv.FormatInt(field(c), 10) }
}
