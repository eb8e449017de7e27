package main

import (
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// heartbeat answers Heartbeat (key 12) v0-v4: the member is alive for
// another session timeout; REBALANCE_IN_PROGRESS tells it to rejoin.
func (b *broker) heartbeat(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrHeartbeatRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.ErrorCode = int16(b.groups.heartbeat(req.Group, req.MemberID, req.Generation))
	return respond(hdr, resp), nil
}
