package metadata_test

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/chronik-go/chronik/metadata"
)

func TestDefaultTopicConfig(t *testing.T) {
	c := metadata.DefaultTopicConfig()
	want := map[string]string{
		"compression.type":                "producer",
		"message.timestamp.type":          "CreateTime",
		"message.timestamp.before.max.ms": "9223372036854775807",
		"message.timestamp.after.max.ms":  "9223372036854775807",
		"max.message.bytes":               "1048588",
		"min.insync.replicas":             "1",
		"segment.bytes":                   "1073741824",
		"segment.ms":                      "604800000",
		"retention.ms":                    "604800000",
		"retention.bytes":                 "-1",
		"local.retention.ms":              "-2",
		"local.retention.bytes":           "-2",
		"cleanup.policy":                  "delete",
		"search.enabled":                  "",
		"search.fields":                   "",
	}
	if got := c.Map(); !maps.Equal(got, want) {
		t.Errorf("DefaultTopicConfig().Map() =\n%v\nwant Kafka 3.x defaults\n%v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if got, err := metadata.ParseTopicConfig(nil); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("ParseTopicConfig(nil) = %+v, %v; want the defaults", got, err)
	}
	if names := metadata.ConfigNames(); !slices.Equal(names, slices.Sorted(maps.Keys(want))) {
		t.Errorf("ConfigNames = %v", names)
	}
	if c.Compacted() {
		t.Error("the default policy is not compacted")
	}
}

func ptr[T any](v T) *T { return &v }

// Every key parses, lands in its field, and round-trips through Map.
func TestParseTopicConfigKeys(t *testing.T) {
	cases := []struct {
		key, value string
		canonical  string // what Map reports; "" = value unchanged
		check      func(c metadata.TopicConfig) bool
	}{
		{"compression.type", "producer", "", func(c metadata.TopicConfig) bool { return c.CompressionType == "producer" }},
		{"compression.type", "uncompressed", "", func(c metadata.TopicConfig) bool { return c.CompressionType == "uncompressed" }},
		{"compression.type", "gzip", "", func(c metadata.TopicConfig) bool { return c.CompressionType == "gzip" }},
		{"compression.type", "snappy", "", func(c metadata.TopicConfig) bool { return c.CompressionType == "snappy" }},
		{"compression.type", "lz4", "", func(c metadata.TopicConfig) bool { return c.CompressionType == "lz4" }},
		{"compression.type", " zstd ", "zstd", func(c metadata.TopicConfig) bool { return c.CompressionType == "zstd" }},
		{"message.timestamp.type", "CreateTime", "", func(c metadata.TopicConfig) bool { return c.TimestampType == "CreateTime" }},
		{"message.timestamp.type", "LogAppendTime", "", func(c metadata.TopicConfig) bool { return c.TimestampType == "LogAppendTime" }},
		{"message.timestamp.before.max.ms", "0", "", func(c metadata.TopicConfig) bool { return c.TimestampBeforeMaxMs == 0 }},
		{"message.timestamp.before.max.ms", "3600000", "", func(c metadata.TopicConfig) bool { return c.TimestampBeforeMaxMs == 3600000 }},
		{"message.timestamp.after.max.ms", "+3600000", "3600000", func(c metadata.TopicConfig) bool { return c.TimestampAfterMaxMs == 3600000 }},
		{"message.timestamp.after.max.ms", "9223372036854775807", "", func(c metadata.TopicConfig) bool { return c.TimestampAfterMaxMs == math.MaxInt64 }},
		{"max.message.bytes", "0", "", func(c metadata.TopicConfig) bool { return c.MaxMessageBytes == 0 }},
		{"max.message.bytes", "2147483647", "", func(c metadata.TopicConfig) bool { return c.MaxMessageBytes == math.MaxInt32 }},
		{"min.insync.replicas", "2", "", func(c metadata.TopicConfig) bool { return c.MinInsyncReplicas == 2 }},
		{"segment.bytes", "14", "", func(c metadata.TopicConfig) bool { return c.SegmentBytes == 14 }},
		{"segment.bytes", "2147483647", "", func(c metadata.TopicConfig) bool { return c.SegmentBytes == math.MaxInt32 }},
		{"segment.ms", "1", "", func(c metadata.TopicConfig) bool { return c.SegmentMs == 1 }},
		{"retention.ms", "-1", "", func(c metadata.TopicConfig) bool { return c.RetentionMs == -1 }},
		{"retention.ms", "0", "", func(c metadata.TopicConfig) bool { return c.RetentionMs == 0 }},
		{"retention.bytes", "-1", "", func(c metadata.TopicConfig) bool { return c.RetentionBytes == -1 }},
		{"retention.bytes", "-42", "", func(c metadata.TopicConfig) bool { return c.RetentionBytes == -42 }},
		{"retention.bytes", "1099511627776", "", func(c metadata.TopicConfig) bool { return c.RetentionBytes == 1<<40 }},
		{"local.retention.ms", "-2", "", func(c metadata.TopicConfig) bool { return c.LocalRetentionMs == -2 }},
		{"local.retention.ms", "0", "", func(c metadata.TopicConfig) bool { return c.LocalRetentionMs == 0 }},
		{"local.retention.bytes", "-1", "", func(c metadata.TopicConfig) bool { return c.LocalRetentionBytes == -1 }},
		{"local.retention.bytes", "1048576", "", func(c metadata.TopicConfig) bool { return c.LocalRetentionBytes == 1<<20 }},
		{"cleanup.policy", "delete", "", func(c metadata.TopicConfig) bool { return c.CleanupPolicy == "delete" && !c.Compacted() }},
		{"cleanup.policy", "compact", "", func(c metadata.TopicConfig) bool { return c.CleanupPolicy == "compact" && c.Compacted() }},
		{"cleanup.policy", "delete, compact", "compact,delete", func(c metadata.TopicConfig) bool { return c.Compacted() }},
		{"cleanup.policy", "compact,delete", "", func(c metadata.TopicConfig) bool { return c.Compacted() }},
		{"search.enabled", "true", "", func(c metadata.TopicConfig) bool { return c.SearchEnabled != nil && *c.SearchEnabled }},
		{"search.enabled", "False", "false", func(c metadata.TopicConfig) bool { return c.SearchEnabled != nil && !*c.SearchEnabled }},
		{"search.enabled", "", "", func(c metadata.TopicConfig) bool { return c.SearchEnabled == nil }},
		{"search.fields", "user", "", func(c metadata.TopicConfig) bool { return slices.Equal(c.SearchFields, []string{"user"}) }},
		{"search.fields", " user , headers.trace-id,value.amount ", "user,headers.trace-id,value.amount",
			func(c metadata.TopicConfig) bool {
				return slices.Equal(c.SearchFields, []string{"user", "headers.trace-id", "value.amount"})
			}},
		{"search.fields", "", "", func(c metadata.TopicConfig) bool { return c.SearchFields == nil }},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.key] = true
		c, err := metadata.ParseTopicConfig(map[string]string{tc.key: tc.value})
		if err != nil {
			t.Errorf("%s=%q: %v", tc.key, tc.value, err)
			continue
		}
		if !tc.check(c) {
			t.Errorf("%s=%q parsed to %+v", tc.key, tc.value, c)
		}
		canonical := tc.canonical
		if canonical == "" {
			canonical = tc.value
		}
		m := c.Map()
		if m[tc.key] != canonical {
			t.Errorf("%s=%q: Map reports %q, want %q", tc.key, tc.value, m[tc.key], canonical)
		}
		back, err := metadata.ParseTopicConfig(m)
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%s=%q: ParseTopicConfig(Map()) = %+v, %v; want %+v", tc.key, tc.value, back, err, c)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s=%q: Validate: %v", tc.key, tc.value, err)
		}
	}
	for _, k := range metadata.ConfigNames() {
		if !covered[k] {
			t.Errorf("config key %s has no case", k)
		}
	}
}

func TestParseTopicConfigAllKeysAtOnce(t *testing.T) {
	m := map[string]string{
		"compression.type": "lz4", "message.timestamp.type": "LogAppendTime",
		"message.timestamp.before.max.ms": "1000", "message.timestamp.after.max.ms": "2000",
		"max.message.bytes": "500", "min.insync.replicas": "3", "segment.bytes": "1048576",
		"segment.ms": "60000", "retention.ms": "120000", "retention.bytes": "1000000",
		"local.retention.ms": "60000", "local.retention.bytes": "4096",
		"cleanup.policy": "compact", "search.enabled": "true", "search.fields": "a,b",
	}
	c, err := metadata.ParseTopicConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	want := metadata.TopicConfig{
		CompressionType: "lz4", TimestampType: "LogAppendTime", TimestampBeforeMaxMs: 1000, TimestampAfterMaxMs: 2000,
		MaxMessageBytes: 500, MinInsyncReplicas: 3, SegmentBytes: 1048576, SegmentMs: 60000, RetentionMs: 120000,
		RetentionBytes: 1000000, LocalRetentionMs: 60000, LocalRetentionBytes: 4096,
		CleanupPolicy: "compact", SearchEnabled: ptr(true), SearchFields: []string{"a", "b"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed %+v, want %+v", c, want)
	}
	if got := c.Map(); !maps.Equal(got, m) {
		t.Fatalf("Map = %v, want %v", got, m)
	}
}

func TestParseTopicConfigRejects(t *testing.T) {
	cases := []struct{ key, value string }{
		{"compression.type", "GZIP"}, // Kafka's check is case-sensitive
		{"compression.type", "brotli"},
		{"compression.type", ""},
		{"message.timestamp.type", "createtime"},
		{"message.timestamp.type", "NoTime"},
		{"message.timestamp.before.max.ms", "-1"},
		{"message.timestamp.before.max.ms", "9223372036854775808"},
		{"message.timestamp.after.max.ms", "1h"},
		{"max.message.bytes", "-1"},
		{"max.message.bytes", "2147483648"},
		{"max.message.bytes", "1e6"},
		{"min.insync.replicas", "0"},
		{"min.insync.replicas", "2147483648"},
		{"segment.bytes", "13"},
		{"segment.bytes", "2147483648"}, // an INT in Kafka
		{"segment.ms", "0"},
		{"retention.ms", "-2"},
		{"retention.ms", "1.5"},
		{"retention.bytes", "lots"},
		{"local.retention.ms", "-3"},
		{"local.retention.bytes", "-3"},
		{"retention.bytes", "0x10"},
		{"cleanup.policy", ""},
		{"cleanup.policy", "Delete"},
		{"cleanup.policy", "delete,,compact"},
		{"cleanup.policy", "delete,archive"},
		{"search.enabled", "yes"},
		{"search.enabled", "1"},
		{"search.fields", "a,,b"},
		{"search.fields", "a, "},
		{"search.fields", "a,b,a"},
	}
	for _, tc := range cases {
		_, err := metadata.ParseTopicConfig(map[string]string{tc.key: tc.value})
		var ce *metadata.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, metadata.ErrInvalidConfig) {
			t.Errorf("%s=%q: error %v, want a *ConfigError", tc.key, tc.value, err)
			continue
		}
		if ce.Key != tc.key || ce.Value != tc.value || ce.Reason == "" {
			t.Errorf("%s=%q: ConfigError %+v does not say where", tc.key, tc.value, ce)
		}
		if !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s=%q: message %q does not name the key", tc.key, tc.value, err)
		}
	}
}

func TestParseTopicConfigUnknownKeys(t *testing.T) {
	for _, key := range []string{"", "retention", "Retention.ms", "retention.ms ", "flush.ms",
		"message.timestamp.difference.max.ms", "unclean.leader.election.enable", "search.enable"} {
		_, err := metadata.ParseTopicConfig(map[string]string{key: "1"})
		var ce *metadata.ConfigError
		if !errors.As(err, &ce) || ce.Key != key {
			t.Errorf("unknown key %q: %v, want a *ConfigError naming it", key, err)
			continue
		}
		if want := "unknown topic config name: " + key; err.Error() != want {
			t.Errorf("unknown key %q: message %q, want Kafka's %q", key, err, want)
		}
	}
	// With several bad entries the first in key order is reported.
	_, err := metadata.ParseTopicConfig(map[string]string{"zzz": "1", "aaa": "1", "retention.ms": "x"})
	var ce *metadata.ConfigError
	if !errors.As(err, &ce) || ce.Key != "aaa" {
		t.Errorf("several bad keys: %v, want the first in order (aaa)", err)
	}
}

func TestTopicConfigValidate(t *testing.T) {
	bad := []func(c *metadata.TopicConfig){
		func(c *metadata.TopicConfig) { c.CompressionType = "" },
		func(c *metadata.TopicConfig) { c.TimestampType = "Now" },
		func(c *metadata.TopicConfig) { c.TimestampAfterMaxMs = -1 },
		func(c *metadata.TopicConfig) { c.MaxMessageBytes = -1 },
		func(c *metadata.TopicConfig) { c.MinInsyncReplicas = 0 },
		func(c *metadata.TopicConfig) { c.SegmentBytes = 1 << 31 },
		func(c *metadata.TopicConfig) { c.SegmentMs = 0 },
		func(c *metadata.TopicConfig) { c.RetentionMs = -5 },
		func(c *metadata.TopicConfig) { c.CleanupPolicy = "" },
		func(c *metadata.TopicConfig) { c.SearchFields = []string{"a", ""} },
	}
	for i, mutate := range bad {
		c := metadata.DefaultTopicConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, metadata.ErrInvalidConfig) {
			t.Errorf("case %d: Validate(%+v) = %v, want ErrInvalidConfig", i, c, err)
		}
	}
}

// FuzzParseTopicConfig: parsing one entry never panics, and a config that
// parses round-trips through Map.
func FuzzParseTopicConfig(f *testing.F) {
	f.Add("retention.ms", "1000")
	f.Add("cleanup.policy", "compact,delete")
	f.Add("search.fields", "a,b")
	f.Fuzz(func(t *testing.T, key, value string) {
		c, err := metadata.ParseTopicConfig(map[string]string{key: value})
		if err != nil {
			if !errors.Is(err, metadata.ErrInvalidConfig) {
				t.Fatalf("error %v is not ErrInvalidConfig", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config does not validate: %v", err)
		}
		back, err := metadata.ParseTopicConfig(c.Map())
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, c)
		}
	})
}
