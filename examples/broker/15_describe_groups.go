package main

import (
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupOperations is the authorized-operations bit set of a group (v3+
// when asked): READ 3, DELETE 6, DESCRIBE 8; this broker has no
// authorizer.
const groupOperations = 1<<3 | 1<<6 | 1<<8

// describeGroups answers DescribeGroups (key 15) v0-v5 from the group
// coordinator: state, protocol type, and the members with their client id
// and host; the protocol name, member metadata and assignments only while
// the group is Stable (GroupMetadata.summary). An unknown group is Dead
// with no members and no error, as in Kafka.
func (b *broker) describeGroups(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	resp := kmsg.NewPtrDescribeGroupsResponse()
	for _, id := range req.Groups {
		s, code := b.groups.describe(id)
		rg := kmsg.NewDescribeGroupsResponseGroup()
		rg.ErrorCode, rg.Group, rg.State = int16(code), id, s.State.String()
		rg.ProtocolType, rg.Protocol = s.ProtocolType, s.Protocol
		if req.IncludeAuthorizedOperations {
			rg.AuthorizedOperations = groupOperations
		}
		for _, m := range s.Members {
			rm := kmsg.NewDescribeGroupsResponseGroupMember()
			rm.MemberID, rm.ClientID, rm.ClientHost = m.ID, m.ClientID, m.ClientHost
			rm.ProtocolMetadata, rm.MemberAssignment = m.Metadata, m.Assignment
			rg.Members = append(rg.Members, rm)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return respond(hdr, resp), nil
}
