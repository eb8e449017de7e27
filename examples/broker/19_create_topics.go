package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config sources of a CreateTopics v5+ response (DescribeConfigsResponse
// ConfigSource).
const (
	sourceTopicConfig   int8 = 1 // DYNAMIC_TOPIC_CONFIG: set on the topic
	sourceDefaultConfig int8 = 5 // DEFAULT_CONFIG
)

// createTopics answers CreateTopics (key 19) v0-v7. Each topic succeeds or
// fails on its own, with Kafka's codes: INVALID_REQUEST for a name given
// twice or for an assignment together with a count, INVALID_TOPIC_EXCEPTION,
// TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR (this
// single node holds one replica), INVALID_REPLICA_ASSIGNMENT and
// INVALID_CONFIG (unknown keys included). validate_only runs every check
// and creates nothing. v5+ responses describe the resulting configuration.
func (b *broker) createTopics(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	seen := make(map[string]int, len(req.Topics))
	for _, t := range req.Topics {
		seen[t.Topic]++
	}
	resp := kmsg.NewPtrCreateTopicsResponse()
	for _, rt := range req.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		var code errcode.Code
		var msg string
		if seen[rt.Topic] > 1 {
			code, msg = errcode.InvalidRequest, fmt.Sprintf("Create topics request from client contains a duplicate topic %s.", rt.Topic)
		} else {
			code, msg = b.createTopic(ctx, rt, req.ValidateOnly, &t)
		}
		t.ErrorCode = int16(code)
		if code != errcode.None && hdr.APIVersion >= 1 {
			t.ErrorMessage = &msg
		}
		resp.Topics = append(resp.Topics, t)
	}
	return respond(hdr, resp), nil
}

// createTopic checks and creates (unless validateOnly) one topic, filling
// the v5+ fields of t on success.
func (b *broker) createTopic(ctx context.Context, rt kmsg.CreateTopicsRequestTopic, validateOnly bool, t *kmsg.CreateTopicsResponseTopic) (errcode.Code, string) {
	if err := metadata.ValidateTopicName(rt.Topic); err != nil {
		return errcode.InvalidTopicException, err.Error()
	}
	if _, ok := b.meta.Topic(rt.Topic); ok {
		return errcode.TopicAlreadyExists, fmt.Sprintf("Topic '%s' already exists.", rt.Topic)
	}
	partitions, code, msg := b.partitionCount(rt)
	if code != errcode.None {
		return code, msg
	}
	configs := make(map[string]string, len(rt.Configs))
	for _, c := range rt.Configs {
		if c.Value == nil {
			return errcode.InvalidConfig, fmt.Sprintf("Null value not supported for topic configs: %s", c.Name)
		}
		configs[c.Name] = *c.Value
	}
	cfg, err := metadata.ParseTopicConfig(configs)
	if err != nil {
		return errcode.InvalidConfig, err.Error()
	}
	var created metadata.Topic
	if validateOnly {
		// What CreateTopic would also refuse: a name that collides with an
		// existing one once '.' and '_' are taken as equal (Kafka's rule).
		key := strings.ReplaceAll(rt.Topic, ".", "_")
		for _, other := range b.meta.Topics() {
			if strings.ReplaceAll(other.Name, ".", "_") == key {
				return errcode.InvalidTopicException, fmt.Sprintf("Topic '%s' collides with existing topic: %s", rt.Topic, other.Name)
			}
		}
		created = metadata.Topic{Name: rt.Topic, Config: cfg, Overrides: configs}
	} else {
		created, err = b.meta.CreateTopic(ctx, rt.Topic, partitions, []int32{b.cfg.NodeID}, configs)
		if err != nil {
			return metadata.ErrorCode(err), err.Error()
		}
		b.logger.Info("topic created", "topic", rt.Topic, "partitions", partitions, "configs", configs)
	}
	t.TopicID = created.ID
	t.NumPartitions = partitions
	t.ReplicationFactor = 1
	t.Configs = describeConfigs(created)
	return errcode.None, ""
}

// partitionCount returns the partition count a CreateTopics entry asks for,
// checking it against this single-node broker as Kafka's controller checks
// a topic creation (ReplicationControlManager.createTopic).
func (b *broker) partitionCount(rt kmsg.CreateTopicsRequestTopic) (int32, errcode.Code, string) {
	if len(rt.ReplicaAssignment) > 0 {
		if rt.NumPartitions != -1 || rt.ReplicationFactor != -1 {
			return 0, errcode.InvalidRequest, "A manual partition assignment was given together with a partition count or replication factor."
		}
		seen := make(map[int32]bool, len(rt.ReplicaAssignment))
		for _, a := range rt.ReplicaAssignment {
			if a.Partition < 0 || int(a.Partition) >= len(rt.ReplicaAssignment) || seen[a.Partition] {
				return 0, errcode.InvalidReplicaAssignment, fmt.Sprintf("Partitions of a manual assignment must be 0 to %d, each once; got %d.", len(rt.ReplicaAssignment)-1, a.Partition)
			}
			seen[a.Partition] = true
			if len(a.Replicas) != 1 || a.Replicas[0] != b.cfg.NodeID {
				return 0, errcode.InvalidReplicaAssignment, fmt.Sprintf("Partition %d is assigned to brokers %v; this cluster has only broker %d.", a.Partition, a.Replicas, b.cfg.NodeID)
			}
		}
		return int32(len(rt.ReplicaAssignment)), errcode.None, ""
	}
	partitions := rt.NumPartitions
	if partitions == -1 {
		partitions = b.cfg.Partitions // v4+: the broker default
	}
	if partitions <= 0 || partitions > metadata.MaxPartitions {
		return 0, errcode.InvalidPartitions, fmt.Sprintf("Number of partitions was set to an invalid value %d (must be 1 to %d).", rt.NumPartitions, metadata.MaxPartitions)
	}
	switch rf := rt.ReplicationFactor; {
	case rf == -1 || rf == 1:
	case rf <= 0:
		return 0, errcode.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value."
	default:
		return 0, errcode.InvalidReplicationFactor, fmt.Sprintf("Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only 1 broker(s) are registered.", rf, rf)
	}
	return partitions, errcode.None, ""
}

// describeConfigs lists every config of t, sorted by name, marking the
// ones set on the topic.
func describeConfigs(t metadata.Topic) []kmsg.CreateTopicsResponseTopicConfig {
	all := t.Config.Map()
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(names))
	for _, k := range names {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		v := all[k]
		c.Name, c.Value, c.Source = k, &v, sourceDefaultConfig
		if _, set := t.Overrides[k]; set {
			c.Source = sourceTopicConfig
		}
		out = append(out, c)
	}
	return out
}
