package main

import (
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listGroups answers ListGroups (key 16) v0-v4: every group the group
// coordinator knows (groups with members, and groups that only committed
// offsets since the broker started), with its protocol type and, from v4,
// its state; v4's states filter keeps the groups in those states
// (case-insensitive; empty = all).
func (b *broker) listGroups(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	req := kmsg.NewPtrListGroupsRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	groups, code := b.groups.list(req.StatesFilter)
	resp := kmsg.NewPtrListGroupsResponse()
	resp.ErrorCode = int16(code)
	for _, g := range groups {
		rg := kmsg.NewListGroupsResponseGroup()
		rg.Group, rg.ProtocolType, rg.GroupState = g.ID, g.ProtocolType, g.State.String()
		resp.Groups = append(resp.Groups, rg)
	}
	return respond(hdr, resp), nil
}
