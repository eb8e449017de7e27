package main

import (
	"context"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// syncGroup answers SyncGroup (key 14) v0-v5 through the group
// coordinator. A member of a group completing its rebalance waits, in the
// Reply, for the leader's assignment; the leader's request distributes it
// to every member. Shutdown answers a waiting request NOT_COORDINATOR.
// v5 answers carry the group's protocol type and name.
func (b *broker) syncGroup(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrSyncGroupRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	sr := syncRequest{Group: req.Group, MemberID: req.MemberID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol}
	if len(req.GroupAssignment) > 0 {
		sr.Assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			sr.Assignments[a.MemberID] = a.MemberAssignment
		}
	}
	ch := b.groups.sync(sr)
	return produce.Reply{Wait: func(context.Context) ([]byte, bool) {
		var r syncResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			r = syncResult{Code: errcode.NotCoordinator}
		}
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = int16(r.Code)
		resp.MemberAssignment = r.Assignment
		if resp.MemberAssignment == nil {
			resp.MemberAssignment = []byte{}
		}
		if r.Code == errcode.None {
			resp.ProtocolType, resp.Protocol = nullable(r.ProtocolType), nullable(r.Protocol)
		}
		return encodeResponse(hdr, resp), false
	}}, nil
}
