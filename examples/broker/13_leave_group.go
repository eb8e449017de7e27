package main

import (
	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaveGroup answers LeaveGroup (key 13) v0-v5: each member leaves and the
// group rebalances without it. v3+ batch members and answer per member;
// v0-v2 carry one member and answer with one code, the group's error or
// else the member's (LeaveGroupResponse.getError). A member named only by
// its group.instance.id is unknown: static membership is not served.
func (b *broker) leaveGroup(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrLeaveGroupRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	ids := []string{req.MemberID}
	if hdr.APIVersion >= 3 {
		ids = ids[:0]
		for _, m := range req.Members {
			ids = append(ids, m.MemberID)
		}
	}
	code, codes := b.groups.leave(req.Group, ids)
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.ErrorCode = int16(code)
	if hdr.APIVersion < 3 {
		if code == errcode.None && len(codes) == 1 {
			resp.ErrorCode = int16(codes[0])
		}
		return respond(hdr, resp), nil
	}
	if code == errcode.None {
		for i, m := range req.Members {
			rm := kmsg.NewLeaveGroupResponseMember()
			rm.MemberID, rm.InstanceID, rm.ErrorCode = m.MemberID, m.InstanceID, int16(codes[i])
			resp.Members = append(resp.Members, rm)
		}
	}
	return respond(hdr, resp), nil
}
