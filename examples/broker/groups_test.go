package main

import (
	"slices"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// State machine tests of the group coordinator, driven by a fake clock and
// explicit ticks (no timer goroutine), so every step is deterministic.

const (
	testSession   = 10 * time.Second
	testRebalance = 30 * time.Second
	testDelay     = 3 * time.Second
)

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time          { return c.now }
func (c *fakeClock) advance(d time.Duration) { c.now = c.now.Add(d) }

func newTestGroups(t *testing.T) (*groupCoordinator, *fakeClock) {
	t.Helper()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	gc := newGroupCoordinator(groupConfig{MinSession: 6 * time.Second, MaxSession: 30 * time.Minute,
		InitialDelay: testDelay, Now: clock.Now})
	t.Cleanup(gc.close)
	return gc, clock
}

// joinReq is a JoinGroup v3 (no KIP-394 round trip) of the "consumer"
// protocol type; each protocol's metadata is its name.
func joinReq(group, member string, protocols ...string) joinRequest {
	r := joinRequest{Group: group, MemberID: member, ClientID: "c", ClientHost: "/127.0.0.1",
		SessionTimeout: testSession, RebalanceTimeout: testRebalance, ProtocolType: "consumer"}
	for _, p := range protocols {
		r.Protocols = append(r.Protocols, groupProtocol{Name: p, Metadata: []byte(p)})
	}
	return r
}

// ready returns the answer on ch, failing if there is none yet.
func ready[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case r := <-ch:
		return r
	default:
		t.Fatal("request not answered")
	}
	panic("unreachable")
}

// waiting fails if ch holds an answer.
func waiting[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("request answered early: %+v", r)
	default:
	}
}

func stateOf(gc *groupCoordinator, id string) groupState {
	s, _ := gc.describe(id)
	return s.State
}

// passInitialDelay ends the initial join phase of a group whose members
// all joined at once: the members after the first extend it once.
func passInitialDelay(gc *groupCoordinator, clock *fakeClock) {
	clock.advance(testDelay)
	gc.tick()
	clock.advance(testDelay)
	gc.tick()
}

// formGroup joins members (JoinGroup v3 each, then the initial delay) and
// syncs them with the leader assigning each member its own id; it returns
// the member ids in join order and the generation.
func formGroup(t *testing.T, gc *groupCoordinator, clock *fakeClock, group string, n int) ([]string, int32) {
	t.Helper()
	var chs []<-chan joinResult
	for i := 0; i < n; i++ {
		chs = append(chs, gc.join(joinReq(group, "", "range")))
	}
	passInitialDelay(gc, clock)
	var ids []string
	var gen int32
	var leader joinResult
	for _, ch := range chs {
		r := ready(t, ch)
		if r.Code != errcode.None {
			t.Fatalf("join: %s", r.Code)
		}
		ids, gen = append(ids, r.MemberID), r.Generation
		if r.Leader == r.MemberID {
			leader = r
		}
	}
	assign := map[string][]byte{}
	for _, m := range leader.Members {
		assign[m.ID] = []byte("to-" + m.ID)
	}
	var syncs []<-chan syncResult
	for _, id := range ids {
		if id != leader.MemberID {
			syncs = append(syncs, gc.sync(syncRequest{Group: group, MemberID: id, Generation: gen}))
		}
	}
	for _, ch := range syncs {
		waiting(t, ch)
	}
	syncs = append(syncs, gc.sync(syncRequest{Group: group, MemberID: leader.MemberID, Generation: gen, Assignments: assign}))
	for _, ch := range syncs {
		if r := ready(t, ch); r.Code != errcode.None || len(r.Assignment) == 0 {
			t.Fatalf("sync: %+v", r)
		}
	}
	if s := stateOf(gc, group); s != groupStable {
		t.Fatalf("group %s after sync, want Stable", s)
	}
	return ids, gen
}

// TestGroupMemberIDRequired: a JoinGroup v4+ without a member id gets
// MEMBER_ID_REQUIRED and an id (KIP-394), joins with it, waits out the
// initial rebalance delay, leads generation 1, and gets its own
// assignment back from SyncGroup.
func TestGroupMemberIDRequired(t *testing.T) {
	gc, clock := newTestGroups(t)
	req := joinReq("g", "", "range")
	req.RequireMemberID = true
	first := ready(t, gc.join(req))
	if first.Code != errcode.MemberIDRequired || first.MemberID == "" || first.Generation != -1 || len(first.MemberID) < 36 {
		t.Fatalf("first join: %+v", first)
	}
	if s := stateOf(gc, "g"); s != groupEmpty {
		t.Fatalf("a pending member changed the group to %s", s)
	}
	req.MemberID = first.MemberID
	ch := gc.join(req)
	waiting(t, ch)
	clock.advance(testDelay - time.Millisecond)
	gc.tick()
	waiting(t, ch) // the initial delay is not over
	clock.advance(time.Millisecond)
	gc.tick()
	r := ready(t, ch)
	if r.Code != errcode.None || r.Generation != 1 || r.Leader != first.MemberID || r.MemberID != first.MemberID ||
		r.Protocol != "range" || r.ProtocolType != "consumer" || len(r.Members) != 1 || string(r.Members[0].Metadata) != "range" {
		t.Fatalf("join answer: %+v", r)
	}
	s := ready(t, gc.sync(syncRequest{Group: "g", MemberID: r.MemberID, Generation: 1, Assignments: map[string][]byte{r.MemberID: []byte("all")}}))
	if s.Code != errcode.None || string(s.Assignment) != "all" || s.Protocol != "range" {
		t.Fatalf("sync: %+v", s)
	}
	if code := gc.heartbeat("g", r.MemberID, 1); code != errcode.None {
		t.Fatalf("heartbeat: %s", code)
	}
	// A member id that was never handed out.
	req.MemberID = "c-unknown"
	if r := ready(t, gc.join(req)); r.Code != errcode.UnknownMemberID {
		t.Fatalf("unknown member id: %+v", r)
	}
}

// TestGroupInitialDelayExtended: members arriving during the initial delay
// extend it (InitialDelayedJoin), and every member is answered together,
// only the leader with the member list.
func TestGroupInitialDelayExtended(t *testing.T) {
	gc, clock := newTestGroups(t)
	a := gc.join(joinReq("g", "", "range"))
	clock.advance(2 * time.Second)
	b := gc.join(joinReq("g", "", "range"))
	clock.advance(time.Second)
	gc.tick() // the first delay ends, but a member came: wait once more
	waiting(t, a)
	waiting(t, b)
	clock.advance(testDelay)
	gc.tick()
	ra, rb := ready(t, a), ready(t, b)
	if ra.Generation != 1 || rb.Generation != 1 || ra.Leader != ra.MemberID || rb.Leader != ra.MemberID {
		t.Fatalf("answers %+v and %+v", ra, rb)
	}
	if len(ra.Members) != 2 || ra.Members[0].ID != ra.MemberID || ra.Members[1].ID != rb.MemberID || len(rb.Members) != 0 {
		t.Fatalf("members: leader got %+v, follower %+v", ra.Members, rb.Members)
	}
}

// TestGroupRebalancesWhenMembersJoinAndLeave: a new member makes a stable group
// rebalance; heartbeats say REBALANCE_IN_PROGRESS until the members
// rejoin; the join phase completes as soon as everyone has; a member
// leaving starts the next rebalance and the last leaving empties the group.
func TestGroupRebalancesWhenMembersJoinAndLeave(t *testing.T) {
	gc, clock := newTestGroups(t)
	ids, gen := formGroup(t, gc, clock, "g", 2)
	c := gc.join(joinReq("g", "", "range"))
	waiting(t, c)
	if s := stateOf(gc, "g"); s != groupPreparingRebalance {
		t.Fatalf("state %s after a join, want PreparingRebalance", s)
	}
	for _, id := range ids {
		if code := gc.heartbeat("g", id, gen); code != errcode.RebalanceInProgress {
			t.Fatalf("heartbeat during the rebalance: %s", code)
		}
	}
	if r := ready(t, gc.sync(syncRequest{Group: "g", MemberID: ids[0], Generation: gen})); r.Code != errcode.RebalanceInProgress {
		t.Fatalf("sync during the rebalance: %s", r.Code)
	}
	a := gc.join(joinReq("g", ids[0], "range"))
	waiting(t, a)
	b := gc.join(joinReq("g", ids[1], "range"))
	ra, rb, rc := ready(t, a), ready(t, b), ready(t, c) // complete without waiting for the timeout
	if ra.Generation != gen+1 || rb.Generation != gen+1 || rc.Generation != gen+1 || ra.Leader != ids[0] || len(ra.Members) != 3 {
		t.Fatalf("generation %d: %+v %+v %+v", gen+1, ra, rb, rc)
	}
	// The old generation is refused now.
	if code := gc.heartbeat("g", ids[1], gen); code != errcode.IllegalGeneration {
		t.Fatalf("heartbeat of the old generation: %s", code)
	}
	if r := ready(t, gc.sync(syncRequest{Group: "g", MemberID: ids[1], Generation: gen})); r.Code != errcode.IllegalGeneration {
		t.Fatalf("sync of the old generation: %s", r.Code)
	}
	// The leader leaves while the others wait for its assignment: they are
	// told to rejoin, and the next member leads.
	wb := gc.sync(syncRequest{Group: "g", MemberID: ids[1], Generation: gen + 1})
	waiting(t, wb)
	top, codes := gc.leave("g", []string{ids[0], "nobody"})
	if top != errcode.None || codes[0] != errcode.None || codes[1] != errcode.UnknownMemberID {
		t.Fatalf("leave: %s %v", top, codes)
	}
	if r := ready(t, wb); r.Code != errcode.RebalanceInProgress {
		t.Fatalf("parked sync after the leader left: %s", r.Code)
	}
	b = gc.join(joinReq("g", ids[1], "range"))
	c = gc.join(joinReq("g", rc.MemberID, "range"))
	rb, rc = ready(t, b), ready(t, c)
	if rb.Generation != gen+2 || rb.Leader != ids[1] || len(rb.Members) != 2 {
		t.Fatalf("after the leader left: %+v", rb)
	}
	gc.leave("g", []string{ids[1]})
	gc.leave("g", []string{rc.MemberID})
	s, _ := gc.describe("g")
	if s.State != groupEmpty || len(s.Members) != 0 {
		t.Fatalf("after everyone left: %+v", s)
	}
	if code := gc.heartbeat("g", ids[1], gen+2); code != errcode.UnknownMemberID {
		t.Fatalf("heartbeat after leaving: %s", code)
	}
}

// TestGroupSessionTimeout: a member that stops heartbeating is removed
// after its session timeout and the group rebalances without it; members
// parked in JoinGroup are not expired.
func TestGroupSessionTimeout(t *testing.T) {
	gc, clock := newTestGroups(t)
	ids, gen := formGroup(t, gc, clock, "g", 2)
	for i := 0; i < 3; i++ { // only ids[0] heartbeats
		clock.advance(3 * time.Second)
		gc.tick()
		if code := gc.heartbeat("g", ids[0], gen); code != errcode.None {
			t.Fatalf("heartbeat %d: %s", i, code)
		}
	}
	clock.advance(time.Second - time.Millisecond)
	gc.tick()
	if code := gc.heartbeat("g", ids[0], gen); code != errcode.None {
		t.Fatal("the silent member was removed before its session timeout")
	}
	clock.advance(time.Millisecond)
	gc.tick()
	if code := gc.heartbeat("g", ids[0], gen); code != errcode.RebalanceInProgress {
		t.Fatalf("after the other's session expired: %s", code)
	}
	if code := gc.heartbeat("g", ids[1], gen); code != errcode.UnknownMemberID {
		t.Fatalf("expired member: %s", code)
	}
	a := gc.join(joinReq("g", ids[0], "range"))
	r := ready(t, a)
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	// Parked in JoinGroup for longer than the session timeout: alive.
	if s := ready(t, gc.sync(syncRequest{Group: "g", MemberID: ids[0], Generation: gen + 1, Assignments: map[string][]byte{}})); s.Code != errcode.None {
		t.Fatalf("sync: %s", s.Code)
	}
	// A new member starts a rebalance; ids[0] keeps heartbeating (so its
	// session does not expire) but never rejoins: the join phase ends
	// after the rebalance timeout without it.
	c := gc.join(joinReq("g", "", "range"))
	for el := time.Duration(0); el < testRebalance-5*time.Second; el += 5 * time.Second {
		clock.advance(5 * time.Second)
		if code := gc.heartbeat("g", ids[0], gen+1); code != errcode.RebalanceInProgress {
			t.Fatalf("heartbeat during the rebalance: %s", code)
		}
		gc.tick()
		waiting(t, c)
	}
	clock.advance(5 * time.Second)
	gc.tick()
	rc := ready(t, c)
	if rc.Code != errcode.None || len(rc.Members) != 1 || rc.Leader != rc.MemberID {
		t.Fatalf("the member that did not rejoin was not removed: %+v", rc)
	}
	if code := gc.heartbeat("g", ids[0], gen+1); code != errcode.UnknownMemberID {
		t.Fatalf("member removed at the end of the join phase: %s", code)
	}
}

// TestGroupPendingMembers: a KIP-394 member id not used within the session
// timeout expires; a rebalance waits for pending members to join.
func TestGroupPendingMembers(t *testing.T) {
	gc, clock := newTestGroups(t)
	ids, gen := formGroup(t, gc, clock, "g", 1)
	req := joinReq("g", "", "range")
	req.RequireMemberID = true
	pending := ready(t, gc.join(req)).MemberID
	if code := gc.heartbeat("g", ids[0], gen); code != errcode.None {
		t.Fatalf("a pending member started a rebalance: %s", code)
	}
	// The leader rejoins (forcing a rebalance), but the pending member
	// holds the join phase open until it expires.
	a := gc.join(joinReq("g", ids[0], "range"))
	waiting(t, a)
	clock.advance(testSession)
	gc.tick()
	r := ready(t, a)
	if r.Generation != gen+1 || len(r.Members) != 1 {
		t.Fatalf("after the pending member expired: %+v", r)
	}
	req.MemberID = pending
	if r := ready(t, gc.join(req)); r.Code != errcode.UnknownMemberID {
		t.Fatalf("expired pending member joins: %s", r.Code)
	}
	// A pending member may also leave.
	req.MemberID = ""
	pending = ready(t, gc.join(req)).MemberID
	if _, codes := gc.leave("g", []string{pending}); codes[0] != errcode.None {
		t.Fatalf("pending member leaving: %s", codes[0])
	}
}

// TestGroupRejoinSameMetadata: a follower rejoining a stable group with
// unchanged metadata gets the current generation back without a rebalance;
// the leader rejoining, or changed metadata, rebalances; a member losing
// its join answer during CompletingRebalance gets it again.
func TestGroupRejoinSameMetadata(t *testing.T) {
	gc, clock := newTestGroups(t)
	ids, gen := formGroup(t, gc, clock, "g", 2)
	r := ready(t, gc.join(joinReq("g", ids[1], "range")))
	if r.Generation != gen || r.Leader != ids[0] || len(r.Members) != 0 || stateOf(gc, "g") != groupStable {
		t.Fatalf("follower rejoin: %+v", r)
	}
	a := gc.join(joinReq("g", ids[0], "range"))
	waiting(t, a)
	b := gc.join(joinReq("g", ids[1], "range"))
	ra := ready(t, a)
	ready(t, b)
	if ra.Generation != gen+1 {
		t.Fatalf("leader rejoin: %+v", ra)
	}
	// CompletingRebalance: the same JoinGroup again is answered at once.
	again := ready(t, gc.join(joinReq("g", ids[0], "range")))
	if again.Generation != gen+1 || len(again.Members) != 2 {
		t.Fatalf("repeated join: %+v", again)
	}
	// Changed metadata: a new rebalance.
	changed := gc.join(joinReq("g", ids[1], "range", "roundrobin"))
	waiting(t, changed)
	if s := stateOf(gc, "g"); s != groupPreparingRebalance {
		t.Fatalf("state %s after new metadata", s)
	}
}

// TestGroupProtocols: the protocol every member supports and most prefer
// is chosen (ties to the leader's preference); members without a common
// protocol, or of another protocol type, are refused.
func TestGroupProtocols(t *testing.T) {
	gc, clock := newTestGroups(t)
	a := gc.join(joinReq("g", "", "range", "roundrobin"))
	b := gc.join(joinReq("g", "", "roundrobin", "range"))
	passInitialDelay(gc, clock)
	if r := ready(t, a); r.Protocol != "range" {
		t.Fatalf("tie: %q, want the leader's preference range", r.Protocol)
	}
	ready(t, b)
	if r := ready(t, gc.join(joinReq("g", "", "sticky"))); r.Code != errcode.InconsistentGroupProtocol {
		t.Fatalf("no common protocol: %s", r.Code)
	}
	other := joinReq("g", "", "range")
	other.ProtocolType = "connect"
	if r := ready(t, gc.join(other)); r.Code != errcode.InconsistentGroupProtocol {
		t.Fatalf("other protocol type: %s", r.Code)
	}
	if r := ready(t, gc.join(joinReq("h", ""))); r.Code != errcode.InconsistentGroupProtocol {
		t.Fatalf("no protocols: %s", r.Code)
	}

	gc2, clock2 := newTestGroups(t)
	x := gc2.join(joinReq("g", "", "x", "y"))
	y := gc2.join(joinReq("g", "", "y"))
	passInitialDelay(gc2, clock2)
	if r := ready(t, x); r.Protocol != "y" || string(r.Members[0].Metadata) != "y" {
		t.Fatalf("only y is common: %+v", r)
	}
	ready(t, y)
}

// TestGroupRequestErrors: the request checks Kafka makes before any state
// changes.
func TestGroupRequestErrors(t *testing.T) {
	gc, clock := newTestGroups(t)
	short := joinReq("g", "", "range")
	short.SessionTimeout = time.Second
	static := joinReq("g", "", "range")
	static.InstanceID = new(string)
	for name, c := range map[string]struct {
		req  joinRequest
		want errcode.Code
	}{
		"empty group id":      {joinReq("", "", "range"), errcode.InvalidGroupID},
		"session too short":   {short, errcode.InvalidSessionTimeout},
		"static membership":   {static, errcode.UnsupportedVersion},
		"member of no group":  {joinReq("nogroup", "c-1", "range"), errcode.UnknownMemberID},
		"no protocol type":    {joinRequest{Group: "g", SessionTimeout: testSession, Protocols: []groupProtocol{{Name: "range"}}}, errcode.InconsistentGroupProtocol},
		"no protocols at all": {joinReq("g", ""), errcode.InconsistentGroupProtocol},
	} {
		if r := ready(t, gc.join(c.req)); r.Code != c.want || r.Generation != -1 {
			t.Errorf("%s: %+v, want %s", name, r, c.want)
		}
	}
	if r := ready(t, gc.sync(syncRequest{Group: "nogroup", MemberID: "m"})); r.Code != errcode.UnknownMemberID {
		t.Errorf("sync of an unknown group: %s", r.Code)
	}
	if code := gc.heartbeat("nogroup", "m", 1); code != errcode.UnknownMemberID {
		t.Errorf("heartbeat of an unknown group: %s", code)
	}
	if code := gc.heartbeat("", "m", 1); code != errcode.InvalidGroupID {
		t.Errorf("heartbeat without a group id: %s", code)
	}
	if top, codes := gc.leave("nogroup", []string{"m"}); top != errcode.None || codes[0] != errcode.UnknownMemberID {
		t.Errorf("leave of an unknown group: %s %v", top, codes)
	}
	ids, gen := formGroup(t, gc, clock, "g", 1)
	typ := "connect"
	if r := ready(t, gc.sync(syncRequest{Group: "g", MemberID: ids[0], Generation: gen, ProtocolType: &typ})); r.Code != errcode.InconsistentGroupProtocol {
		t.Errorf("sync with another protocol type: %s", r.Code)
	}
	if r := ready(t, gc.sync(syncRequest{Group: "g", MemberID: "stranger", Generation: gen})); r.Code != errcode.UnknownMemberID {
		t.Errorf("sync of a stranger: %s", r.Code)
	}
}

// TestGroupPendingSyncExpires: a member that never sends SyncGroup after
// the join phase is removed once the rebalance timeout passes, and the
// group rebalances without it.
func TestGroupPendingSyncExpires(t *testing.T) {
	gc, clock := newTestGroups(t)
	a := gc.join(joinReq("g", "", "range"))
	b := gc.join(joinReq("g", "", "range"))
	passInitialDelay(gc, clock)
	ra, rb := ready(t, a), ready(t, b)
	s := ready(t, gc.sync(syncRequest{Group: "g", MemberID: ra.MemberID, Generation: 1, Assignments: map[string][]byte{ra.MemberID: []byte("x")}}))
	if s.Code != errcode.None {
		t.Fatal(s.Code)
	}
	for i := 0; i < 6; i++ { // both heartbeat, but b never syncs
		clock.advance(testRebalance / 6)
		gc.heartbeat("g", ra.MemberID, 1)
		gc.heartbeat("g", rb.MemberID, 1)
		gc.tick()
	}
	if code := gc.heartbeat("g", rb.MemberID, 1); code != errcode.UnknownMemberID {
		t.Fatalf("member that never synced: %s", code)
	}
	if code := gc.heartbeat("g", ra.MemberID, 1); code != errcode.RebalanceInProgress {
		t.Fatalf("remaining member: %s", code)
	}
}

// TestGroupValidateCommit: OffsetCommit's membership checks.
func TestGroupValidateCommit(t *testing.T) {
	gc, clock := newTestGroups(t)
	if code := gc.validateCommit("simple", "", -1, false); code != errcode.None {
		t.Fatalf("simple commit: %s", code)
	}
	if l, _ := gc.list(nil); len(l) != 1 || l[0].ID != "simple" || l[0].State != groupEmpty {
		t.Fatalf("simple commit did not create an Empty group: %+v", l)
	}
	if code := gc.validateCommit("unknown", "m", 3, false); code != errcode.IllegalGeneration {
		t.Fatalf("generation of an unknown group: %s", code)
	}
	if code := gc.validateCommit("unknown-txn", "m", 3, true); code != errcode.UnknownMemberID {
		t.Fatalf("transactional commit of a member of an unknown group: %s", code)
	}
	ids, gen := formGroup(t, gc, clock, "g", 2)
	for name, c := range map[string]struct {
		member string
		gen    int32
		txn    bool
		want   errcode.Code
	}{
		"member":                     {ids[0], gen, false, errcode.None},
		"transactional member":       {ids[1], gen, true, errcode.None},
		"old generation":             {ids[0], gen - 1, false, errcode.IllegalGeneration},
		"stranger":                   {"other", gen, false, errcode.UnknownMemberID},
		"outsider in a group in use": {"", -1, false, errcode.UnknownMemberID},
		"transactional outsider":     {"", -1, true, errcode.None},
	} {
		if code := gc.validateCommit("g", c.member, c.gen, c.txn); code != c.want {
			t.Errorf("%s: %s, want %s", name, code, c.want)
		}
	}
	// CompletingRebalance: members have the generation, not the assignment.
	a := gc.join(joinReq("g", ids[0], "range"))
	b := gc.join(joinReq("g", ids[1], "range"))
	ready(t, a)
	ready(t, b)
	if code := gc.validateCommit("g", ids[0], gen+1, false); code != errcode.RebalanceInProgress {
		t.Fatalf("commit while completing the rebalance: %s", code)
	}
	if code := gc.validateCommit("g", ids[0], gen+1, true); code != errcode.None {
		t.Fatalf("transactional commit while completing the rebalance: %s", code)
	}
	// A commit keeps a member alive like a heartbeat.
	gc.sync(syncRequest{Group: "g", MemberID: ids[0], Generation: gen + 1, Assignments: map[string][]byte{}})
	gc.sync(syncRequest{Group: "g", MemberID: ids[1], Generation: gen + 1})
	for i := 0; i < 4; i++ {
		clock.advance(testSession / 2)
		gc.validateCommit("g", ids[0], gen+1, false)
		gc.validateCommit("g", ids[1], gen+1, false)
		gc.tick()
	}
	if stateOf(gc, "g") != groupStable {
		t.Fatal("members that committed were expired")
	}
}

// TestGroupDescribeAndList: DescribeGroups reports members with metadata
// and assignments only while Stable; unknown groups are Dead; ListGroups
// filters by state.
func TestGroupDescribeAndList(t *testing.T) {
	gc, clock := newTestGroups(t)
	ids, _ := formGroup(t, gc, clock, "g", 2)
	s, code := gc.describe("g")
	if code != errcode.None || s.State != groupStable || s.Protocol != "range" || s.ProtocolType != "consumer" || len(s.Members) != 2 {
		t.Fatalf("describe: %+v", s)
	}
	if m := s.Members[1]; m.ID != ids[1] || m.ClientHost != "/127.0.0.1" || string(m.Assignment) != "to-"+ids[1] || string(m.Metadata) != "range" {
		t.Fatalf("member: %+v", m)
	}
	if s, code := gc.describe("nope"); code != errcode.None || s.State != groupDead || len(s.Members) != 0 {
		t.Fatalf("unknown group: %+v %s", s, code)
	}
	gc.join(joinReq("g", "", "range")) // now PreparingRebalance
	s, _ = gc.describe("g")
	if s.Protocol != "" || len(s.Members[0].Assignment) != 0 {
		t.Fatalf("describe while rebalancing: %+v", s)
	}
	gc.validateCommit("offsets-only", "", -1, false)
	all, _ := gc.list(nil)
	if len(all) != 2 || all[0].ID != "g" || all[0].ProtocolType != "consumer" || all[1].ID != "offsets-only" || all[1].ProtocolType != "" {
		t.Fatalf("list: %+v", all)
	}
	empty, _ := gc.list([]string{"EMPTY", "dead"})
	if len(empty) != 1 || empty[0].ID != "offsets-only" {
		t.Fatalf("list of Empty groups: %+v", empty)
	}
}

// TestGroupClose: parked requests are answered NOT_COORDINATOR at close,
// and every later request too.
func TestGroupClose(t *testing.T) {
	gc, _ := newTestGroups(t)
	ch := gc.join(joinReq("g", "", "range"))
	waiting(t, ch)
	gc.close()
	if r := ready(t, ch); r.Code != errcode.NotCoordinator {
		t.Fatalf("parked join at close: %s", r.Code)
	}
	if r := ready(t, gc.join(joinReq("g", "", "range"))); r.Code != errcode.NotCoordinator {
		t.Fatalf("join after close: %s", r.Code)
	}
	if code := gc.heartbeat("g", "m", 1); code != errcode.NotCoordinator {
		t.Fatalf("heartbeat after close: %s", code)
	}
	if code := gc.validateCommit("g", "", -1, false); code != errcode.NotCoordinator {
		t.Fatalf("commit after close: %s", code)
	}
	gc.close() // idempotent
}

// TestGroupTimerGoroutine: with the timer goroutine running on the real
// clock, the initial delay ends on its own.
func TestGroupTimerGoroutine(t *testing.T) {
	gc := newGroupCoordinator(groupConfig{MinSession: time.Second, MaxSession: time.Minute, InitialDelay: 50 * time.Millisecond})
	gc.start()
	defer gc.close()
	req := joinReq("g", "", "range")
	start := time.Now()
	select {
	case r := <-gc.join(req):
		if r.Code != errcode.None || r.Generation != 1 {
			t.Fatalf("join: %+v", r)
		}
		if el := time.Since(start); el < 50*time.Millisecond || el > 5*time.Second {
			t.Fatalf("answered after %v with a 50ms initial delay", el)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("join not answered within 10s")
	}
}

func TestMemberIDFormat(t *testing.T) {
	a, b := newMemberID("client"), newMemberID("client")
	if a == b || len(a) != len("client-")+36 || a[:7] != "client-" || !slices.Contains([]byte("89ab"), a[7+19]) {
		t.Fatalf("member ids %q %q", a, b)
	}
	if got := clientHost("127.0.0.1:5555"); got != "/127.0.0.1" {
		t.Fatalf("clientHost: %q", got)
	}
	if got := clientHost("[::1]:5555"); got != "/::1" {
		t.Fatalf("clientHost v6: %q", got)
	}
}
