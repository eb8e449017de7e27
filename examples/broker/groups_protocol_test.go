package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Every version of the group and offset APIs over the wire, encoded by
// kmsg, as an independent codec.

// TestGroupAPIsEveryVersion runs one member through JoinGroup, SyncGroup,
// Heartbeat, DescribeGroups and LeaveGroup at each JoinGroup version (the
// others at the same version or their highest).
func TestGroupAPIsEveryVersion(t *testing.T) {
	b := newBroker(t, func(c *config) { c.GroupInitialDelay = 20 * time.Millisecond })
	rc := dialRaw(t, b.addrs.Kafka)
	for v := int16(0); v <= 9; v++ {
		group := fmt.Sprint("raw-", v)
		join := kmsg.NewPtrJoinGroupRequest()
		join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = group, 10000, 10000, "consumer"
		proto := kmsg.NewJoinGroupRequestProtocol()
		proto.Name, proto.Metadata = "range", []byte("meta")
		join.Protocols = append(join.Protocols, proto)
		jr := rc.roundTrip(join, v).(*kmsg.JoinGroupResponse)
		if v >= 4 {
			if jr.ErrorCode != int16(errcode.MemberIDRequired) || jr.MemberID == "" {
				t.Fatalf("JoinGroup v%d without a member id: %+v", v, jr)
			}
			join.MemberID = jr.MemberID
			jr = rc.roundTrip(join, v).(*kmsg.JoinGroupResponse)
		}
		if jr.ErrorCode != 0 || jr.Generation != 1 || jr.LeaderID != jr.MemberID || len(jr.Members) != 1 ||
			string(jr.Members[0].ProtocolMetadata) != "meta" || jr.Protocol == nil || *jr.Protocol != "range" {
			t.Fatalf("JoinGroup v%d: %+v", v, jr)
		}
		if v >= 7 && (jr.ProtocolType == nil || *jr.ProtocolType != "consumer") {
			t.Fatalf("JoinGroup v%d: protocol type %v", v, jr.ProtocolType)
		}
		member := jr.MemberID

		sync := kmsg.NewPtrSyncGroupRequest()
		sync.Group, sync.Generation, sync.MemberID = group, 1, member
		sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID, a.MemberAssignment = member, []byte("assignment")
		sync.GroupAssignment = append(sync.GroupAssignment, a)
		sv := min(v, 5)
		sr := rc.roundTrip(sync, sv).(*kmsg.SyncGroupResponse)
		if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "assignment" || (sv >= 5 && (sr.Protocol == nil || *sr.Protocol != "range")) {
			t.Fatalf("SyncGroup v%d: %+v", sv, sr)
		}

		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.Generation, hb.MemberID = group, 1, member
		hv := min(v, 4)
		if r := rc.roundTrip(hb, hv).(*kmsg.HeartbeatResponse); r.ErrorCode != 0 {
			t.Fatalf("Heartbeat v%d: %s", hv, errcode.Code(r.ErrorCode))
		}
		hb.Generation = 7
		if r := rc.roundTrip(hb, hv).(*kmsg.HeartbeatResponse); r.ErrorCode != int16(errcode.IllegalGeneration) {
			t.Fatalf("Heartbeat v%d of another generation: %s", hv, errcode.Code(r.ErrorCode))
		}

		desc := kmsg.NewPtrDescribeGroupsRequest()
		desc.Groups, desc.IncludeAuthorizedOperations = []string{group, "nobody"}, true
		dv := min(v, 5)
		dr := rc.roundTrip(desc, dv).(*kmsg.DescribeGroupsResponse)
		g := dr.Groups[0]
		if g.ErrorCode != 0 || g.State != "Stable" || g.Protocol != "range" || len(g.Members) != 1 ||
			g.Members[0].ClientHost != "/127.0.0.1" || g.Members[0].ClientID != "chronik-test" || string(g.Members[0].MemberAssignment) != "assignment" {
			t.Fatalf("DescribeGroups v%d: %+v", dv, g)
		}
		if dv >= 3 && g.AuthorizedOperations != groupOperations {
			t.Fatalf("DescribeGroups v%d: authorized operations %d", dv, g.AuthorizedOperations)
		}
		if dr.Groups[1].State != "Dead" || dr.Groups[1].ErrorCode != 0 {
			t.Fatalf("DescribeGroups v%d of an unknown group: %+v", dv, dr.Groups[1])
		}

		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group, leave.MemberID = group, member
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = member
		leave.Members = append(leave.Members, lm)
		lv := min(v, 5)
		lr := rc.roundTrip(leave, lv).(*kmsg.LeaveGroupResponse)
		if lr.ErrorCode != 0 || (lv >= 3 && (len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0)) {
			t.Fatalf("LeaveGroup v%d: %+v", lv, lr)
		}
		if lr = rc.roundTrip(leave, lv).(*kmsg.LeaveGroupResponse); (lv < 3 && lr.ErrorCode != int16(errcode.UnknownMemberID)) ||
			(lv >= 3 && lr.Members[0].ErrorCode != int16(errcode.UnknownMemberID)) {
			t.Fatalf("LeaveGroup v%d again: %+v", lv, lr)
		}
		if g := rc.roundTrip(desc, dv).(*kmsg.DescribeGroupsResponse).Groups[0]; g.State != "Empty" || len(g.Members) != 0 {
			t.Fatalf("after leaving: %+v", g)
		}
	}
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrListGroupsRequest()
		if v >= 4 {
			req.StatesFilter = []string{"Empty"}
		}
		resp := rc.roundTrip(req, v).(*kmsg.ListGroupsResponse)
		if resp.ErrorCode != 0 || len(resp.Groups) != 10 || resp.Groups[0].Group != "raw-0" || resp.Groups[0].ProtocolType != "consumer" {
			t.Fatalf("ListGroups v%d: %+v", v, resp)
		}
		if v >= 4 && resp.Groups[0].GroupState != "Empty" {
			t.Fatalf("ListGroups v4 state %q", resp.Groups[0].GroupState)
		}
	}
}

// offsetCommitReq builds an OffsetCommit of one partition.
func offsetCommitReq(group, member string, generation int32, topic string, partition int32, offset int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, member, generation
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.Metadata = partition, offset, kmsg.StringPtr("meta")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// fetchOffset reads one partition's committed offset with OffsetFetch at
// version v: the offset and the partition's (or before v2 only) code, and
// the group code.
func fetchOffset(rc *rawConn, v int16, group, topic string, partition int32, requireStable bool) (int64, errcode.Code, errcode.Code) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.RequireStable = requireStable
	if v >= 8 {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = group
		rt := kmsg.NewOffsetFetchRequestGroupTopic()
		rt.Topic, rt.Partitions = topic, []int32{partition}
		rg.Topics = append(rg.Topics, rt)
		req.Groups = append(req.Groups, rg)
		g := rc.roundTrip(req, v).(*kmsg.OffsetFetchResponse).Groups[0]
		if len(g.Topics) == 0 {
			return -1, errcode.None, errcode.Code(g.ErrorCode)
		}
		p := g.Topics[0].Partitions[0]
		return p.Offset, errcode.Code(p.ErrorCode), errcode.Code(g.ErrorCode)
	}
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, []int32{partition}
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(req, v).(*kmsg.OffsetFetchResponse)
	if len(resp.Topics) == 0 {
		return -1, errcode.None, errcode.Code(resp.ErrorCode)
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, errcode.Code(p.ErrorCode), errcode.Code(resp.ErrorCode)
}

// TestOffsetAPIsEveryVersion: OffsetCommit and OffsetFetch at every
// version, the membership checks of commits, and offsets committed in a
// transaction: UNSTABLE_OFFSET_COMMIT for require_stable while it is open,
// visible once it commits.
func TestOffsetAPIsEveryVersion(t *testing.T) {
	b := newBroker(t, nil)
	addr := b.addrs.Kafka
	createTopic(t, addr, "offs", 2, nil)
	rc := dialRaw(t, addr)
	for v := int16(0); v <= 8; v++ {
		group := fmt.Sprint("simple-", v)
		resp := rc.roundTrip(offsetCommitReq(group, "", -1, "offs", 1, 100+int64(v)), v).(*kmsg.OffsetCommitResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("OffsetCommit v%d: %s", v, errcode.Code(code))
		}
		if off, code, gcode := fetchOffset(rc, v, group, "offs", 1, false); off != 100+int64(v) || code != 0 || gcode != 0 {
			t.Fatalf("OffsetFetch v%d: offset %d, %s, group %s", v, off, code, gcode)
		}
		if off, code, _ := fetchOffset(rc, v, group, "offs", 0, false); off != -1 || code != 0 {
			t.Fatalf("OffsetFetch v%d of an uncommitted partition: %d %s", v, off, code)
		}
	}
	// Every committed partition (null topics, v2+).
	all := kmsg.NewPtrOffsetFetchRequest()
	all.Group = "simple-8"
	all.Topics = nil
	if r := rc.roundTrip(all, 7).(*kmsg.OffsetFetchResponse); len(r.Topics) != 1 || r.Topics[0].Partitions[0].Offset != 108 || *r.Topics[0].Partitions[0].Metadata != "meta" {
		t.Fatalf("OffsetFetch v7 of every partition: %+v", r.Topics)
	}
	for name, c := range map[string]struct {
		req  *kmsg.OffsetCommitRequest
		want errcode.Code
	}{
		"unknown topic":                  {offsetCommitReq("g", "", -1, "nope", 0, 1), errcode.UnknownTopicOrPartition},
		"unknown partition":              {offsetCommitReq("g", "", -1, "offs", 9, 1), errcode.UnknownTopicOrPartition},
		"generation of an unknown group": {offsetCommitReq("unknown", "m", 4, "offs", 0, 1), errcode.IllegalGeneration},
		"stranger in a known group":      {offsetCommitReq("simple-3", "m", 0, "offs", 0, 1), errcode.UnknownMemberID},
	} {
		if code := rc.roundTrip(c.req, 8).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != int16(c.want) {
			t.Errorf("%s: %s, want %s", name, errcode.Code(code), c.want)
		}
	}

	// Offsets committed inside a transaction.
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("offsets-txn"), 60000
	ir := rc.roundTrip(init, 4).(*kmsg.InitProducerIDResponse)
	addOffs := kmsg.NewPtrAddOffsetsToTxnRequest()
	addOffs.TransactionalID, addOffs.ProducerID, addOffs.ProducerEpoch, addOffs.Group = "offsets-txn", ir.ProducerID, ir.ProducerEpoch, "txg"
	if r := rc.roundTrip(addOffs, 3).(*kmsg.AddOffsetsToTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %s", errcode.Code(r.ErrorCode))
	}
	txc := kmsg.NewPtrTxnOffsetCommitRequest()
	txc.TransactionalID, txc.Group, txc.ProducerID, txc.ProducerEpoch = "offsets-txn", "txg", ir.ProducerID, ir.ProducerEpoch
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "offs"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	txc.Topics = append(txc.Topics, rt)
	txc.MemberID, txc.Generation = "stranger", 1
	if r := rc.roundTrip(txc, 3).(*kmsg.TxnOffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != int16(errcode.UnknownMemberID) {
		t.Fatalf("TxnOffsetCommit v3 of a stranger: %s", errcode.Code(r.Topics[0].Partitions[0].ErrorCode))
	}
	txc.MemberID, txc.Generation = "", -1
	if r := rc.roundTrip(txc, 3).(*kmsg.TxnOffsetCommitResponse); r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("TxnOffsetCommit: %s", errcode.Code(r.Topics[0].Partitions[0].ErrorCode))
	}
	if off, code, _ := fetchOffset(rc, 7, "txg", "offs", 0, true); code != errcode.UnstableOffsetCommit || off != -1 {
		t.Fatalf("require_stable with the offset pending: %d %s", off, code)
	}
	if off, code, _ := fetchOffset(rc, 6, "txg", "offs", 0, false); code != 0 || off != -1 {
		t.Fatalf("v6 with the offset pending: %d %s, want no offset yet", off, code)
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "offsets-txn", ir.ProducerID, ir.ProducerEpoch, true
	if r := rc.roundTrip(end, 3).(*kmsg.EndTxnResponse); r.ErrorCode != 0 {
		t.Fatalf("EndTxn: %s", errcode.Code(r.ErrorCode))
	}
	if off, code, _ := fetchOffset(rc, 8, "txg", "offs", 0, true); code != 0 || off != 5 {
		t.Fatalf("after the commit: %d %s, want 5", off, code)
	}
}
