package main

import (
	"context"
	"strings"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinGroup answers JoinGroup (key 11) v0-v9 through the group
// coordinator. The request joins at once; the answer waits, in the Reply,
// for the join phase to complete (up to the members' rebalance timeout),
// as Kafka parks the request in its rebalance purgatory. Shutdown answers
// a waiting request NOT_COORDINATOR, as Kafka does when it unloads the
// group, and the client looks for the coordinator again.
//
// v0 has no rebalance timeout: the session timeout stands for it, as in
// KafkaApis.handleJoinGroupRequest. v4+ clients first get
// MEMBER_ID_REQUIRED with their member id (KIP-394). v9's skip_assignment
// is always false: the leader assigns.
func (b *broker) joinGroup(ctx context.Context, host string, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrJoinGroupRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	rebalance := req.RebalanceTimeoutMillis
	if hdr.APIVersion == 0 {
		rebalance = req.SessionTimeoutMillis
	}
	jr := joinRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID,
		ClientID: clientID(hdr), ClientHost: host,
		SessionTimeout: durationMs(req.SessionTimeoutMillis), RebalanceTimeout: durationMs(rebalance),
		ProtocolType: req.ProtocolType, RequireMemberID: hdr.APIVersion >= 4,
	}
	for _, p := range req.Protocols {
		jr.Protocols = append(jr.Protocols, groupProtocol{Name: p.Name, Metadata: p.Metadata})
	}
	ch := b.groups.join(jr)
	return produce.Reply{Wait: func(context.Context) ([]byte, bool) {
		var r joinResult
		select {
		case r = <-ch:
		case <-ctx.Done():
			r = joinResult{Code: errcode.NotCoordinator, MemberID: req.MemberID, Generation: -1}
		}
		if r.Code != errcode.None && r.Code != errcode.MemberIDRequired {
			b.logger.Debug("join group refused", "group", req.Group, "member", req.MemberID, "code", r.Code)
		}
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode = int16(r.Code)
		resp.Generation = r.Generation
		resp.ProtocolType, resp.Protocol = nullable(r.ProtocolType), nullable(r.Protocol)
		resp.LeaderID, resp.MemberID = r.Leader, r.MemberID
		for _, m := range r.Members {
			rm := kmsg.NewJoinGroupResponseMember()
			rm.MemberID, rm.ProtocolMetadata = m.ID, m.Metadata
			resp.Members = append(resp.Members, rm)
		}
		return encodeResponse(hdr, resp), false
	}}, nil
}

// clientHost is how Kafka prints a client's address in DescribeGroups
// (InetAddress.toString of the connection's peer): "/" and the IP.
func clientHost(remote string) string {
	if i := strings.LastIndexByte(remote, ':'); i >= 0 {
		remote = remote[:i]
	}
	return "/" + strings.Trim(remote, "[]")
}
