package main

import (
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Coordinator types of a FindCoordinator request (v1+).
const (
	coordinatorGroup       int8 = 0
	coordinatorTransaction int8 = 1
)

// findCoordinator answers FindCoordinator (key 10) v0-v4, with one answer
// per key in v4's batch. This broker is the group coordinator of every
// group and, with transactions enabled, the transaction coordinator of
// every transactional id: Kafka places them on the leader of a partition
// of __consumer_offsets or __transaction_state, and here one node leads
// everything. With transactions disabled a transactional id gets
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Kafka's answer when the id may
// not be described, which clients report instead of retrying. An unknown
// coordinator type is INVALID_REQUEST (CoordinatorType.forId).
//
// Listing FindCoordinator v0 in ApiVersions also matters to librdkafka
// <= 2.11, which enables lz4 only for a broker that does (see
// advertisedAPIs).
func (b *broker) findCoordinator(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	code, msg := errcode.None, ""
	switch {
	case req.CoordinatorType == coordinatorGroup:
	case req.CoordinatorType == coordinatorTransaction && b.cfg.Handler.EnableTransactions:
	case req.CoordinatorType == coordinatorTransaction:
		code, msg = errcode.TransactionalIDAuthorizationFailed, "transactions are disabled on this broker"
	default:
		code, msg = errcode.InvalidRequest, "unknown coordinator type"
	}
	node, host, port := b.cfg.NodeID, b.advertised.Host, b.advertised.Port
	var message *string
	if code != errcode.None {
		node, host, port, message = -1, "", -1, &msg
	}
	resp := kmsg.NewPtrFindCoordinatorResponse()
	if hdr.APIVersion < 4 {
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Host, resp.Port = int16(code), message, node, host, port
		return respond(hdr, resp), nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode, c.ErrorMessage, c.NodeID, c.Host, c.Port = key, int16(code), message, node, host, port
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return respond(hdr, resp), nil
}
