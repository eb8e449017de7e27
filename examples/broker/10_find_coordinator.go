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

// coordinatorMessage explains every FindCoordinator answer.
const coordinatorMessage = "this broker runs no group or transaction coordinator"

// findCoordinator answers FindCoordinator (key 10) v0-v4. The broker runs
// neither a group coordinator nor a transaction coordinator, so every key
// gets COORDINATOR_NOT_AVAILABLE with no node (id -1, port -1): what Kafka
// answers while a coordinator cannot be reached, a retriable error a
// client reports once its own timeout expires. An unknown coordinator type
// is INVALID_REQUEST, as in Kafka.
//
// The API is served for librdkafka <= 2.11, which enables lz4 only for a
// broker that lists FindCoordinator v0, and otherwise sends lz4 batches
// uncompressed (see advertisedAPIs).
func (b *broker) findCoordinator(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	code := errcode.CoordinatorNotAvailable
	if req.CoordinatorType != coordinatorGroup && req.CoordinatorType != coordinatorTransaction {
		code = errcode.InvalidRequest
	}
	msg := coordinatorMessage
	if code == errcode.InvalidRequest {
		msg = "unknown coordinator type"
	}
	resp := kmsg.NewPtrFindCoordinatorResponse()
	if hdr.APIVersion < 4 {
		resp.ErrorCode, resp.ErrorMessage, resp.NodeID, resp.Port = int16(code), &msg, -1, -1
		return respond(hdr, resp), nil
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode, c.ErrorMessage, c.NodeID, c.Port = key, int16(code), &msg, -1, -1
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return respond(hdr, resp), nil
}
