package main

import (
	"context"
	"errors"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Authorized-operation bit sets reported when a Metadata request asks for
// them (v8+). This broker has no authorizer, so every operation Kafka
// defines for the resource is allowed (AclOperation codes: READ 3, WRITE 4,
// CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12).
const (
	topicOperations   = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	clusterOperations = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12
)

// internalTopics are the topics Kafka marks internal in Metadata.
var internalTopics = map[string]bool{"__consumer_offsets": true, "__transaction_state": true}

// metadata answers Metadata (key 3) v0-v12: this node as the only broker
// and controller, and each topic's partitions with leaders, epochs,
// replicas and ISR from the MetadataStore. A null topic list (or, in v0, an
// empty one) asks for every topic. An unknown topic is created with
// -partitions partitions when -auto-create-topics is on and the request
// allows it (v4+ carries allow_auto_topic_creation; older versions always
// allow it, as in Kafka); the new topic is returned at once rather than
// with LEADER_NOT_AVAILABLE, since creation here is synchronous.
func (b *broker) metadata(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrMetadataRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrMetadataResponse()
	broker := kmsg.NewMetadataResponseBroker()
	broker.NodeID, broker.Host, broker.Port = b.cfg.NodeID, b.advertised.Host, b.advertised.Port
	resp.Brokers = []kmsg.MetadataResponseBroker{broker}
	resp.ClusterID = &b.clusterID
	resp.ControllerID = b.cfg.NodeID
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterOperations
	}

	if req.Topics == nil || (hdr.APIVersion == 0 && len(req.Topics) == 0) {
		for _, t := range b.meta.Topics() {
			resp.Topics = append(resp.Topics, b.topicMetadata(t, req.IncludeTopicAuthorizedOperations))
		}
		return respond(hdr, resp), nil
	}
	allowCreate := b.cfg.AutoCreate && (hdr.APIVersion < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		if rt.Topic == nil { // v10+: by topic id
			t, ok := b.topicByID(rt.TopicID)
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.TopicID, mt.ErrorCode = rt.TopicID, int16(errcode.UnknownTopicID)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
			resp.Topics = append(resp.Topics, b.topicMetadata(t, req.IncludeTopicAuthorizedOperations))
			continue
		}
		name := *rt.Topic
		t, ok := b.meta.Topic(name)
		if !ok && allowCreate {
			var code errcode.Code
			t, code = b.autoCreate(ctx, name)
			ok = code == errcode.None
			if !ok {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic, mt.ErrorCode = rt.Topic, int16(code)
				resp.Topics = append(resp.Topics, mt)
				continue
			}
		}
		if !ok {
			mt := kmsg.NewMetadataResponseTopic()
			mt.Topic, mt.ErrorCode = rt.Topic, int16(errcode.UnknownTopicOrPartition)
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.topicMetadata(t, req.IncludeTopicAuthorizedOperations))
	}
	return respond(hdr, resp), nil
}

// autoCreate creates a topic named by a Metadata request with the default
// partition count and no config overrides. A topic created concurrently by
// another request is returned as found.
func (b *broker) autoCreate(ctx context.Context, name string) (metadata.Topic, errcode.Code) {
	if internalTopics[name] {
		return metadata.Topic{}, errcode.UnknownTopicOrPartition
	}
	t, err := b.meta.CreateTopic(ctx, name, b.cfg.Partitions, nil, nil)
	if errors.Is(err, metadata.ErrTopicExists) {
		if t, ok := b.meta.Topic(name); ok {
			return t, errcode.None
		}
	}
	if err != nil {
		b.logger.Info("auto-create topic refused", "topic", name, "err", err)
		return metadata.Topic{}, metadata.ErrorCode(err)
	}
	b.logger.Info("topic auto-created", "topic", name, "partitions", b.cfg.Partitions)
	return t, errcode.None
}

// topicByID finds a topic by its KIP-516 id.
func (b *broker) topicByID(id [16]byte) (metadata.Topic, bool) {
	for _, t := range b.meta.Topics() {
		if t.ID == id {
			return t, true
		}
	}
	return metadata.Topic{}, false
}

// topicMetadata describes one topic as the store has it.
func (b *broker) topicMetadata(t metadata.Topic, withOps bool) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	name := t.Name
	mt.Topic = &name
	mt.TopicID = t.ID
	mt.IsInternal = internalTopics[t.Name]
	if withOps {
		mt.AuthorizedOperations = topicOperations
	}
	for _, p := range t.Partitions {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p.Partition
		mp.Leader = p.Leader
		mp.LeaderEpoch = p.LeaderEpoch
		mp.Replicas = p.Replicas
		mp.ISR = p.ISR
		mp.OfflineReplicas = []int32{}
		if p.Leader < 0 {
			mp.ErrorCode = int16(errcode.LeaderNotAvailable)
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}
