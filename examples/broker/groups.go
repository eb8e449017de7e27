package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/chronik-go/chronik/errcode"
)

// Group coordinator defaults, Kafka's.
const (
	defaultGroupMinSession   = 6 * time.Second  // group.min.session.timeout.ms
	defaultGroupMaxSession   = 30 * time.Minute // group.max.session.timeout.ms
	defaultGroupInitialDelay = 3 * time.Second  // group.initial.rebalance.delay.ms

	// newMemberJoinTimeout bounds how long a new member's JoinGroup may
	// stay parked (Kafka GroupCoordinator.NewMemberJoinTimeoutMs): a new
	// member cannot heartbeat, and a client whose JoinGroup timed out
	// rejoins as yet another new member.
	newMemberJoinTimeout = 5 * time.Minute

	// maxTimerSleep bounds the timer goroutine's sleep when no deadline is
	// near, so that a missed wake-up costs at most this much.
	maxTimerSleep = time.Second
)

// groupState is a consumer group's state in Kafka's classic group
// coordinator (GroupMetadata.scala).
type groupState int8

const (
	groupEmpty               groupState = iota // no members; offsets may still be committed
	groupPreparingRebalance                    // members (re)join; JoinGroup requests are parked
	groupCompletingRebalance                   // joined; waiting for the leader's assignment in SyncGroup
	groupStable                                // assignment distributed; members heartbeat
	groupDead                                  // reported for groups the coordinator does not know
)

// String returns Kafka's name for the state, as DescribeGroups and
// ListGroups report it.
func (s groupState) String() string {
	switch s {
	case groupEmpty:
		return "Empty"
	case groupPreparingRebalance:
		return "PreparingRebalance"
	case groupCompletingRebalance:
		return "CompletingRebalance"
	case groupStable:
		return "Stable"
	}
	return "Dead"
}

// groupConfig configures a groupCoordinator.
type groupConfig struct {
	MinSession   time.Duration // smallest session timeout JoinGroup accepts
	MaxSession   time.Duration // largest session timeout JoinGroup accepts
	InitialDelay time.Duration // group.initial.rebalance.delay.ms
	Now          func() time.Time
	Logger       *slog.Logger
}

// groupProtocol is one assignment protocol a member supports, with its
// member metadata.
type groupProtocol struct {
	Name     string
	Metadata []byte
}

// joinRequest is a decoded JoinGroup request.
type joinRequest struct {
	Group            string
	MemberID         string // "" for a new member
	InstanceID       *string
	ClientID         string
	ClientHost       string
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []groupProtocol
	RequireMemberID  bool // v4+: a new member first gets MEMBER_ID_REQUIRED (KIP-394)
}

// joinMember is one member as JoinGroup lists them to the leader.
type joinMember struct {
	ID       string
	Metadata []byte // for the selected protocol
}

// joinResult is a JoinGroup answer.
type joinResult struct {
	Code         errcode.Code
	MemberID     string
	Generation   int32
	ProtocolType string // "" = null (none)
	Protocol     string // "" = null (none)
	Leader       string
	Members      []joinMember // the leader's answer only
}

// syncRequest is a decoded SyncGroup request.
type syncRequest struct {
	Group        string
	MemberID     string
	Generation   int32
	ProtocolType *string // v5+
	Protocol     *string // v5+
	Assignments  map[string][]byte
}

// syncResult is a SyncGroup answer.
type syncResult struct {
	Code         errcode.Code
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// groupCoordinator is a single-node implementation of Kafka's classic
// consumer group protocol (GroupCoordinator.scala, the protocol before
// KIP-848): JoinGroup, SyncGroup, Heartbeat and LeaveGroup drive each
// group through Empty, PreparingRebalance, CompletingRebalance and Stable
// one generation at a time, and it validates the membership of offset
// commits. Membership lives in memory only; committed offsets are kept by
// the transaction coordinator, so a restart loses the members (who rejoin)
// but not the offsets.
//
// Parked JoinGroup and SyncGroup requests get their answers through
// channels of capacity 1 that the coordinator fills exactly once, under
// mu. Deadlines (session timeouts, join and sync phases, the initial
// rebalance delay) are checked by tick, which one goroutine runs at the
// next deadline.
type groupCoordinator struct {
	cfg groupConfig

	wake chan struct{} // capacity 1: a deadline was set; the timer goroutine recomputes its sleep
	stop chan struct{} // closed by close
	wg   sync.WaitGroup

	mu     sync.Mutex        // guards groups, closed and every group's and member's fields
	groups map[string]*group // by group id
	closed bool
}

// group is one consumer group (Kafka's GroupMetadata).
type group struct {
	id           string
	state        groupState
	generation   int32
	protocolType string // the members' protocol type; "" for a group that only stores offsets
	protocol     string // selected at the last completed join; "" when none
	leader       string // member id; "" when none
	members      map[string]*member
	order        []string             // member ids in join order: the order the leader gets them in
	pending      map[string]time.Time // KIP-394 member ids handed out, not yet joined, with their expiry

	// The join phase (PreparingRebalance). An empty group's first join
	// phase is Kafka's InitialDelayedJoin: it lasts the initial delay,
	// extended while new members keep arriving, up to the rebalance
	// timeout; any other is a DelayedJoin, ended early once every member
	// and no pending member is joined.
	joinDeadline   time.Time
	initialJoin    bool
	delay          time.Duration // the initial join's current delay
	remaining      time.Duration // how much the initial join may still be extended
	newMemberAdded bool

	// Members that have not sent SyncGroup for the current generation;
	// at syncDeadline they are removed and the group rebalances.
	pendingSync  map[string]bool
	syncDeadline time.Time
}

// member is one member of a group (Kafka's MemberMetadata).
type member struct {
	id               string
	clientID         string
	clientHost       string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []groupProtocol
	assignment       []byte

	joinWait chan joinResult // the parked JoinGroup's answer; nil when none
	syncWait chan syncResult // the parked SyncGroup's answer; nil when none
	expires  time.Time       // heartbeat deadline
	isNew    bool            // joined and not yet through a completed join phase
}

// newGroupCoordinator returns a coordinator; start runs its deadlines.
func newGroupCoordinator(cfg groupConfig) *groupCoordinator {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &groupCoordinator{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), groups: make(map[string]*group)}
}

// start starts the timer goroutine, which close stops. Without it nothing
// expires unless tick is called (as the state machine tests do).
func (gc *groupCoordinator) start() {
	gc.wg.Add(1)
	go func() { // owned by the coordinator: ends at close
		defer gc.wg.Done()
		gc.timerLoop()
	}()
}

// timerLoop runs tick at every deadline until close.
func (gc *groupCoordinator) timerLoop() {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-gc.stop:
			return
		case <-timer.C:
		case <-gc.wake:
		}
		next := gc.tick()
		sleep := maxTimerSleep
		if !next.IsZero() {
			sleep = min(max(time.Until(next), time.Millisecond), maxTimerSleep)
		}
		timer.Reset(sleep)
	}
}

// close answers every parked JoinGroup and SyncGroup with NOT_COORDINATOR,
// as Kafka does when it unloads a group (GroupCoordinator.onGroupUnloaded),
// stops the timer goroutine and waits for it. Afterwards every request gets
// NOT_COORDINATOR.
func (gc *groupCoordinator) close() {
	gc.mu.Lock()
	if gc.closed {
		gc.mu.Unlock()
		return
	}
	gc.closed = true
	for _, g := range gc.groups {
		for _, m := range g.members {
			g.answerJoin(m, joinResult{Code: errcode.NotCoordinator, MemberID: m.id, Generation: -1})
			g.answerSync(m, syncResult{Code: errcode.NotCoordinator})
		}
	}
	gc.mu.Unlock()
	close(gc.stop)
	gc.wg.Wait()
}

// poke wakes the timer goroutine to recompute its sleep after a deadline
// was set.
func (gc *groupCoordinator) poke() {
	select {
	case gc.wake <- struct{}{}:
	default:
	}
}

// answered returns a channel holding r.
func answered[T any](r T) chan T {
	ch := make(chan T, 1)
	ch <- r
	return ch
}

// join handles JoinGroup (GroupCoordinator.handleJoinGroup). The channel
// receives the answer: at once for errors, for a member that must first get
// a member id, and for a follower rejoining a stable group unchanged; when
// the join phase completes otherwise.
func (gc *groupCoordinator) join(req joinRequest) <-chan joinResult {
	fail := func(code errcode.Code) <-chan joinResult {
		return answered(joinResult{Code: code, MemberID: req.MemberID, Generation: -1})
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	switch {
	case gc.closed:
		return fail(errcode.NotCoordinator)
	case req.Group == "":
		return fail(errcode.InvalidGroupID)
	case req.InstanceID != nil:
		// Static membership (KIP-345) is not supported: the answer of a
		// Kafka broker whose inter.broker.protocol.version predates it.
		return fail(errcode.UnsupportedVersion)
	case req.SessionTimeout < gc.cfg.MinSession || req.SessionTimeout > gc.cfg.MaxSession:
		return fail(errcode.InvalidSessionTimeout)
	}
	now := gc.cfg.Now()
	g := gc.groups[req.Group]
	if req.MemberID == "" {
		if g == nil {
			g = gc.newGroup(req.Group)
		}
		if !g.supports(req.ProtocolType, req.Protocols) {
			return fail(errcode.InconsistentGroupProtocol)
		}
		id := newMemberID(req.ClientID)
		if req.RequireMemberID {
			// KIP-394: the member id is handed out first and the member
			// joins with it, so that a client retrying a lost answer does
			// not leave an orphan member behind.
			g.pending[id] = now.Add(req.SessionTimeout)
			gc.poke()
			return answered(joinResult{Code: errcode.MemberIDRequired, MemberID: id, Generation: -1})
		}
		ch := make(chan joinResult, 1)
		gc.addMemberAndRebalance(g, id, req, ch, now)
		gc.maybeCompleteJoin(g, now)
		return ch
	}
	if g == nil {
		return fail(errcode.UnknownMemberID)
	}
	if !g.supports(req.ProtocolType, req.Protocols) {
		return fail(errcode.InconsistentGroupProtocol)
	}
	ch := make(chan joinResult, 1)
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		gc.addMemberAndRebalance(g, req.MemberID, req, ch, now)
		gc.maybeCompleteJoin(g, now)
		return ch
	}
	m := g.members[req.MemberID]
	if m == nil {
		return fail(errcode.UnknownMemberID)
	}
	switch g.state {
	case groupPreparingRebalance:
		gc.updateMemberAndRebalance(g, m, req, ch, now)
	case groupCompletingRebalance:
		if m.matches(req.Protocols) {
			// The member lost the answer: give it again.
			ch <- g.joinAnswer(m)
			return ch
		}
		gc.updateMemberAndRebalance(g, m, req, ch, now)
	case groupStable:
		if m.id == g.leader || !m.matches(req.Protocols) {
			// A leader rejoining forces a rebalance: it may have seen
			// changes that affect the assignment but not its metadata.
			gc.updateMemberAndRebalance(g, m, req, ch, now)
		} else {
			ch <- g.joinAnswer(m)
			return ch
		}
	default:
		return fail(errcode.UnknownMemberID)
	}
	gc.maybeCompleteJoin(g, now)
	return ch
}

// newGroup creates an Empty group.
func (gc *groupCoordinator) newGroup(id string) *group {
	g := &group{id: id, members: make(map[string]*member), pending: make(map[string]time.Time)}
	gc.groups[id] = g
	return g
}

// newMemberID returns clientID-<uuid>, the form of Kafka's member ids.
func newMemberID(clientID string) string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// supports is GroupMetadata.supportsProtocols: an empty group takes any
// member with a protocol type and at least one protocol; otherwise the
// type must be the group's and one protocol supported by every member.
func (g *group) supports(protocolType string, protocols []groupProtocol) bool {
	if g.state == groupEmpty {
		return protocolType != "" && len(protocols) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	return slices.ContainsFunc(protocols, func(p groupProtocol) bool { return g.supportedByAll(p.Name) })
}

// supports reports whether the member lists the protocol.
func (m *member) supports(name string) bool {
	return slices.ContainsFunc(m.protocols, func(p groupProtocol) bool { return p.Name == name })
}

// matches reports whether protocols are exactly the member's, in order.
func (m *member) matches(protocols []groupProtocol) bool {
	return slices.EqualFunc(m.protocols, protocols, func(a, b groupProtocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// metadata returns the member's metadata for a protocol.
func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			return p.Metadata
		}
	}
	return nil
}

// addMemberAndRebalance adds a new member whose JoinGroup is parked on ch
// and starts a rebalance if none is in progress.
func (gc *groupCoordinator) addMemberAndRebalance(g *group, id string, req joinRequest, ch chan joinResult, now time.Time) {
	m := &member{
		id: id, clientID: req.ClientID, clientHost: req.ClientHost,
		sessionTimeout: req.SessionTimeout, rebalanceTimeout: req.RebalanceTimeout,
		protocols: req.Protocols,
		joinWait:  ch, isNew: true, expires: now.Add(newMemberJoinTimeout),
	}
	if g.state == groupPreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true // extends the initial join phase
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	g.order = append(g.order, id)
	if g.leader == "" {
		g.leader = id
	}
	gc.maybePrepareRebalance(g, now)
}

// updateMemberAndRebalance takes a known member's new JoinGroup and starts
// a rebalance if none is in progress.
func (gc *groupCoordinator) updateMemberAndRebalance(g *group, m *member, req joinRequest, ch chan joinResult, now time.Time) {
	m.protocols = req.Protocols
	m.sessionTimeout, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
	// A JoinGroup replacing a parked one (a client retry on a new
	// connection) is answered; Kafka leaves the first unanswered.
	g.answerJoin(m, joinResult{Code: errcode.RebalanceInProgress, MemberID: m.id, Generation: -1})
	m.joinWait = ch
	gc.maybePrepareRebalance(g, now)
}

// maybePrepareRebalance starts a rebalance unless one is in progress.
func (gc *groupCoordinator) maybePrepareRebalance(g *group, now time.Time) {
	if g.state == groupStable || g.state == groupCompletingRebalance || g.state == groupEmpty {
		gc.prepareRebalance(g, now)
	}
}

// prepareRebalance enters PreparingRebalance (GroupCoordinator.prepareRebalance):
// SyncGroup requests still parked get REBALANCE_IN_PROGRESS, and the join
// phase lasts the members' largest rebalance timeout, or for an empty
// group the initial delay.
func (gc *groupCoordinator) prepareRebalance(g *group, now time.Time) {
	if g.state == groupCompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if g.answerSync(m, syncResult{Code: errcode.RebalanceInProgress}) {
				m.expires = now.Add(m.sessionTimeout)
			}
		}
	}
	g.pendingSync = nil
	timeout := g.rebalanceTimeout()
	if g.state == groupEmpty {
		g.initialJoin = true
		g.delay = gc.cfg.InitialDelay
		g.remaining = max(timeout-g.delay, 0)
		g.joinDeadline = now.Add(g.delay)
	} else {
		g.initialJoin = false
		g.joinDeadline = now.Add(timeout)
	}
	g.state = groupPreparingRebalance
	gc.poke()
}

// rebalanceTimeout is the largest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// maybeCompleteJoin ends a join phase that is not the initial one once
// every member and no pending member is joined (DelayedJoin.tryComplete).
func (gc *groupCoordinator) maybeCompleteJoin(g *group, now time.Time) {
	if g.state != groupPreparingRebalance || g.initialJoin || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinWait == nil {
			return
		}
	}
	gc.completeJoin(g, now)
}

// completeJoin ends the join phase (GroupCoordinator.onCompleteJoin):
// members that did not rejoin are removed, the generation advances, and
// every joined member gets its answer, the leader with every member's
// metadata for the protocol the members chose. With no member left the
// group becomes Empty.
func (gc *groupCoordinator) completeJoin(g *group, now time.Time) {
	for _, id := range slices.Clone(g.order) {
		if m := g.members[id]; m.joinWait == nil {
			gc.cfg.Logger.Info("group member did not rejoin in time; removed", "group", g.id, "member", id)
			g.remove(id)
		}
	}
	g.initialJoin, g.newMemberAdded = false, false
	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.state = groupEmpty
		gc.cfg.Logger.Info("group is empty", "group", g.id, "generation", g.generation)
		return
	}
	if m := g.members[g.leader]; m == nil {
		g.leader = g.order[0]
	}
	g.protocol = g.selectProtocol()
	g.state = groupCompletingRebalance
	g.pendingSync = make(map[string]bool, len(g.members))
	for _, id := range g.order {
		m := g.members[id]
		g.answerJoin(m, g.joinAnswer(m))
		m.expires = now.Add(m.sessionTimeout)
		m.isNew = false
		g.pendingSync[id] = true
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
	gc.poke()
	gc.cfg.Logger.Info("group rebalanced", "group", g.id, "generation", g.generation, "members", len(g.members), "protocol", g.protocol, "leader", g.leader)
}

// selectProtocol is GroupMetadata.selectProtocol: among the protocols
// every member supports, each member votes for the first it lists; the
// most votes win, ties going to the protocol the leader prefers.
func (g *group) selectProtocol() string {
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.supportedByAll(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range g.members[g.leader].protocols {
		if n := votes[p.Name]; n > bestVotes {
			best, bestVotes = p.Name, n
		}
	}
	return best
}

// supportedByAll reports whether every member lists the protocol.
func (g *group) supportedByAll(name string) bool {
	for _, m := range g.members {
		if !m.supports(name) {
			return false
		}
	}
	return true
}

// joinAnswer is the successful JoinGroup answer for m in the current
// generation: the leader also gets every member's metadata.
func (g *group) joinAnswer(m *member) joinResult {
	r := joinResult{MemberID: m.id, Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, Leader: g.leader}
	if m.id == g.leader {
		for _, id := range g.order {
			r.Members = append(r.Members, joinMember{ID: id, Metadata: g.members[id].metadata(g.protocol)})
		}
	}
	return r
}

// answerJoin sends r to m's parked JoinGroup, if any, and reports whether
// there was one.
func (g *group) answerJoin(m *member, r joinResult) bool {
	if m.joinWait == nil {
		return false
	}
	m.joinWait <- r
	m.joinWait = nil
	return true
}

// answerSync sends r to m's parked SyncGroup, if any, and reports whether
// there was one.
func (g *group) answerSync(m *member, r syncResult) bool {
	if m.syncWait == nil {
		return false
	}
	m.syncWait <- r
	m.syncWait = nil
	return true
}

// remove takes a member out of the group (GroupMetadata.remove); the next
// member in join order becomes leader if it led.
func (g *group) remove(id string) {
	delete(g.members, id)
	g.order = slices.DeleteFunc(g.order, func(s string) bool { return s == id })
	delete(g.pendingSync, id)
	if g.leader == id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

// removeMemberAndUpdateGroup removes a member that left or expired
// (GroupCoordinator.removeMemberAndUpdateGroup): its parked requests get
// UNKNOWN_MEMBER_ID, and the group rebalances, or a join phase in progress
// may now be complete.
func (gc *groupCoordinator) removeMemberAndUpdateGroup(g *group, m *member, now time.Time) {
	g.answerJoin(m, joinResult{Code: errcode.UnknownMemberID, Generation: -1})
	g.answerSync(m, syncResult{Code: errcode.UnknownMemberID})
	g.remove(m.id)
	switch g.state {
	case groupStable, groupCompletingRebalance:
		gc.prepareRebalance(g, now)
		gc.maybeCompleteJoin(g, now)
	case groupPreparingRebalance:
		gc.maybeCompleteJoin(g, now)
	}
}

// sync handles SyncGroup (GroupCoordinator.handleSyncGroup). The channel
// receives the answer: at once for errors and in a Stable group; when the
// leader's assignment arrives in CompletingRebalance.
func (gc *groupCoordinator) sync(req syncRequest) <-chan syncResult {
	fail := func(code errcode.Code) <-chan syncResult { return answered(syncResult{Code: code}) }
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return fail(errcode.NotCoordinator)
	}
	if req.Group == "" {
		return fail(errcode.InvalidGroupID)
	}
	g := gc.groups[req.Group]
	if g == nil {
		return fail(errcode.UnknownMemberID)
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return fail(errcode.UnknownMemberID)
	case req.Generation != g.generation:
		return fail(errcode.IllegalGeneration)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(errcode.InconsistentGroupProtocol)
	}
	now := gc.cfg.Now()
	switch g.state {
	case groupPreparingRebalance:
		return fail(errcode.RebalanceInProgress)
	case groupStable:
		delete(g.pendingSync, m.id)
		m.expires = now.Add(m.sessionTimeout)
		return answered(syncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment})
	case groupCompletingRebalance:
		ch := make(chan syncResult, 1)
		// A SyncGroup replacing a parked one is answered; Kafka leaves
		// the first unanswered.
		g.answerSync(m, syncResult{Code: errcode.RebalanceInProgress})
		m.syncWait = ch
		delete(g.pendingSync, m.id)
		if m.id == g.leader {
			// Members the leader left out get an empty assignment.
			for id, mm := range g.members {
				mm.assignment = req.Assignments[id]
				if mm.assignment == nil {
					mm.assignment = []byte{}
				}
			}
			for _, mm := range g.members {
				if g.answerSync(mm, syncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: mm.assignment}) {
					mm.expires = now.Add(mm.sessionTimeout)
				}
			}
			g.state = groupStable
			gc.cfg.Logger.Info("group stable", "group", g.id, "generation", g.generation)
		}
		return ch
	}
	return fail(errcode.UnknownMemberID) // Empty: it has no members
}

// heartbeat handles Heartbeat (GroupCoordinator.handleHeartbeat; the
// CompletingRebalance answer is the current one of
// GroupMetadataManager.classicGroupHeartbeatToClassicGroup, where older
// brokers said REBALANCE_IN_PROGRESS): a member of the current generation
// is alive for another session timeout.
func (gc *groupCoordinator) heartbeat(groupID, memberID string, generation int32) errcode.Code {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return errcode.NotCoordinator
	}
	if groupID == "" {
		return errcode.InvalidGroupID
	}
	g := gc.groups[groupID]
	if g == nil {
		return errcode.UnknownMemberID
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return errcode.UnknownMemberID
	case generation != g.generation:
		return errcode.IllegalGeneration
	}
	m.expires = gc.cfg.Now().Add(m.sessionTimeout)
	if g.state == groupPreparingRebalance {
		return errcode.RebalanceInProgress // the member must rejoin
	}
	return errcode.None // Stable, or CompletingRebalance: alive, waiting for SyncGroup
}

// leave handles LeaveGroup (GroupCoordinator.handleLeaveGroup): a group
// error, or one code per member id.
func (gc *groupCoordinator) leave(groupID string, memberIDs []string) (errcode.Code, []errcode.Code) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return errcode.NotCoordinator, nil
	}
	if groupID == "" {
		return errcode.InvalidGroupID, nil
	}
	codes := make([]errcode.Code, len(memberIDs))
	g := gc.groups[groupID]
	now := gc.cfg.Now()
	for i, id := range memberIDs {
		if g == nil {
			codes[i] = errcode.UnknownMemberID
			continue
		}
		if _, ok := g.pending[id]; ok {
			delete(g.pending, id)
			gc.maybeCompleteJoin(g, now)
			continue
		}
		m := g.members[id]
		if m == nil {
			codes[i] = errcode.UnknownMemberID
			continue
		}
		gc.cfg.Logger.Info("group member left", "group", groupID, "member", id)
		gc.removeMemberAndUpdateGroup(g, m, now)
	}
	return errcode.None, codes
}

// validateCommit checks the membership fields of an offset commit
// (GroupCoordinator.validateOffsetCommit and the state checks of
// doCommitOffsets and doTxnCommitOffsets): generation -1 with an empty
// member id is a commit from outside group management, accepted while the
// group is Empty (always for a transactional one); otherwise the member
// must belong to the group's current generation. An unknown group is
// created Empty for such commits, and a commit naming a generation of an
// unknown group gets ILLEGAL_GENERATION. A member's commit counts as a
// heartbeat.
func (gc *groupCoordinator) validateCommit(groupID, memberID string, generation int32, transactional bool) errcode.Code {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return errcode.NotCoordinator
	}
	g := gc.groups[groupID]
	if g == nil {
		if !transactional && generation >= 0 {
			return errcode.IllegalGeneration
		}
		g = gc.newGroup(groupID)
	}
	var m *member
	if generation >= 0 || memberID != "" {
		if m = g.members[memberID]; m == nil {
			return errcode.UnknownMemberID
		}
		if generation != g.generation {
			return errcode.IllegalGeneration
		}
	} else if !transactional && g.state != groupEmpty {
		return errcode.UnknownMemberID // only members commit to a group in use
	}
	if transactional {
		return errcode.None
	}
	switch g.state {
	case groupCompletingRebalance:
		// The member has the new generation but not its assignment yet.
		return errcode.RebalanceInProgress
	case groupStable, groupPreparingRebalance:
		m.expires = gc.cfg.Now().Add(m.sessionTimeout)
	}
	return errcode.None
}

// tick expires members, pending members, join phases and sync phases whose
// deadlines passed, and returns the next deadline (zero when none).
func (gc *groupCoordinator) tick() time.Time {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return time.Time{}
	}
	now := gc.cfg.Now()
	var next time.Time
	soonest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, g := range gc.groups {
		for id, exp := range g.pending {
			if !now.Before(exp) {
				gc.cfg.Logger.Info("pending group member did not join in time; removed", "group", g.id, "member", id)
				delete(g.pending, id)
				gc.maybeCompleteJoin(g, now)
			}
		}
		for _, id := range slices.Clone(g.order) {
			m := g.members[id]
			if m == nil || m.alive(now) {
				continue
			}
			gc.cfg.Logger.Info("group member session expired; removed", "group", g.id, "member", id)
			gc.removeMemberAndUpdateGroup(g, m, now)
		}
		if g.state == groupPreparingRebalance && !now.Before(g.joinDeadline) {
			if g.initialJoin && g.newMemberAdded && g.remaining > 0 {
				// InitialDelayedJoin.onComplete: new members came during
				// the delay, so wait again, within the rebalance timeout.
				g.newMemberAdded = false
				elapsed := g.delay
				g.delay = min(gc.cfg.InitialDelay, g.remaining)
				g.remaining = max(g.remaining-elapsed, 0)
				g.joinDeadline = now.Add(g.delay)
			} else {
				gc.completeJoin(g, now)
			}
		}
		if (g.state == groupCompletingRebalance || g.state == groupStable) && len(g.pendingSync) > 0 && !now.Before(g.syncDeadline) {
			// GroupCoordinator.onExpirePendingSync: members that did not
			// send SyncGroup within the rebalance timeout are removed.
			for id := range g.pendingSync {
				gc.cfg.Logger.Info("group member did not sync in time; removed", "group", g.id, "member", id)
				if m := g.members[id]; m != nil {
					g.answerJoin(m, joinResult{Code: errcode.UnknownMemberID, Generation: -1})
					g.answerSync(m, syncResult{Code: errcode.UnknownMemberID})
				}
				g.remove(id)
			}
			gc.prepareRebalance(g, now)
			gc.maybeCompleteJoin(g, now)
		}

		for _, exp := range g.pending {
			soonest(exp)
		}
		for _, m := range g.members {
			if m.isNew || (m.joinWait == nil && m.syncWait == nil) {
				soonest(m.expires)
			}
		}
		if g.state == groupPreparingRebalance {
			soonest(g.joinDeadline)
		}
		if len(g.pendingSync) > 0 {
			soonest(g.syncDeadline)
		}
	}
	return next
}

// alive is MemberMetadata.hasSatisfiedHeartbeat: a new member must join
// within newMemberJoinTimeout; any other member waiting in JoinGroup or
// SyncGroup is alive; the rest must have heartbeated within their session
// timeout.
func (m *member) alive(now time.Time) bool {
	if !m.isNew && (m.joinWait != nil || m.syncWait != nil) {
		return true
	}
	return now.Before(m.expires)
}

// groupSummary describes one group for DescribeGroups.
type groupSummary struct {
	ID           string
	State        groupState
	ProtocolType string
	Protocol     string // "" unless Stable (GroupMetadata.summary)
	Members      []memberSummary
}

// memberSummary describes one member for DescribeGroups.
type memberSummary struct {
	ID, ClientID, ClientHost string
	Metadata, Assignment     []byte // empty unless the group is Stable
}

// describe returns a group's summary; an unknown group is Dead with no
// members, as in Kafka.
func (gc *groupCoordinator) describe(groupID string) (groupSummary, errcode.Code) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return groupSummary{ID: groupID, State: groupDead}, errcode.NotCoordinator
	}
	g := gc.groups[groupID]
	if g == nil {
		return groupSummary{ID: groupID, State: groupDead}, errcode.None
	}
	s := groupSummary{ID: g.id, State: g.state, ProtocolType: g.protocolType}
	if g.state == groupStable {
		s.Protocol = g.protocol
	}
	for _, id := range g.order {
		m := g.members[id]
		ms := memberSummary{ID: id, ClientID: m.clientID, ClientHost: m.clientHost, Metadata: []byte{}, Assignment: []byte{}}
		if g.state == groupStable {
			ms.Metadata, ms.Assignment = m.metadata(g.protocol), m.assignment
		}
		s.Members = append(s.Members, ms)
	}
	return s, errcode.None
}

// listedGroup is one group of a ListGroups answer.
type listedGroup struct {
	ID, ProtocolType string
	State            groupState
}

// list returns every group, sorted by id, in one of states (nil: any).
func (gc *groupCoordinator) list(states []string) ([]listedGroup, errcode.Code) {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.closed {
		return nil, errcode.NotCoordinator
	}
	var out []listedGroup
	for _, g := range gc.groups {
		// Kafka matches the filter case-insensitively.
		if len(states) > 0 && !slices.ContainsFunc(states, func(s string) bool { return strings.EqualFold(s, g.state.String()) }) {
			continue
		}
		out = append(out, listedGroup{ID: g.id, ProtocolType: g.protocolType, State: g.state})
	}
	slices.SortFunc(out, func(a, b listedGroup) int { return strings.Compare(a.ID, b.ID) })
	return out, errcode.None
}
