package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/txn"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys served besides those package wire names.
const (
	apiKeyListOffsets      int16 = 2
	apiKeyMetadata         int16 = 3
	apiKeyOffsetCommit     int16 = 8
	apiKeyOffsetFetch      int16 = 9
	apiKeyFindCoordinator  int16 = 10
	apiKeyJoinGroup        int16 = 11
	apiKeyHeartbeat        int16 = 12
	apiKeyLeaveGroup       int16 = 13
	apiKeySyncGroup        int16 = 14
	apiKeyDescribeGroups   int16 = 15
	apiKeyListGroups       int16 = 16
	apiKeyCreateTopics     int16 = 19
	apiKeyInitProducerID   int16 = 22
	apiKeyAddPartitionsTxn int16 = 24
	apiKeyAddOffsetsTxn    int16 = 25
	apiKeyEndTxn           int16 = 26
	apiKeyTxnOffsetCommit  int16 = 28
)

// apiRange is one API key and the versions the broker serves, which are
// exactly the versions ApiVersions advertises.
type apiRange struct {
	Key      int16
	Min, Max int16
}

// advertisedAPIs returns exactly the APIs the broker implements.
//
// Two choices serve librdkafka <= 2.11 (kcat and every binding built on
// it), which enables a compression codec only when the broker's range for
// a marker API includes one exact version, and otherwise sends batches
// uncompressed without a word (librdkafka issue 4956): gzip and snappy need
// Produce v0, lz4 needs FindCoordinator v0. So Produce is offered from v0
// (the handler serves v0-v9 in full; Apache Kafka 4.0 advertises v0 for the
// same reason, KAFKA-18659).
//
// The group APIs are the classic protocol (no KIP-848
// ConsumerGroupHeartbeat), at the versions before those that need it
// (OffsetCommit v9 and OffsetFetch v9 carry member epochs). InitProducerId
// is offered only with idempotence enabled, so that clients fall back to
// plain producing otherwise; the transaction APIs only with transactions
// enabled, capped at what the transaction coordinator serves (package txn's
// Max*Version: transaction protocol v1, which clients use because Produce
// stops at v9, before the implicit partition adds of v12).
func advertisedAPIs(idempotence, transactions bool) []apiRange {
	apis := []apiRange{
		{wire.APIKeyProduce, wire.ProduceMinVersion, wire.ProduceMaxVersion},
		{wire.APIKeyFetch, wire.FetchMinVersion, wire.FetchMaxVersion},
		{apiKeyListOffsets, 1, 7},
		{apiKeyMetadata, 0, 12},
		{apiKeyOffsetCommit, 0, 8},
		{apiKeyOffsetFetch, 0, 8},
		{apiKeyFindCoordinator, 0, 4},
		{apiKeyJoinGroup, 0, 9},
		{apiKeyHeartbeat, 0, 4},
		{apiKeyLeaveGroup, 0, 5},
		{apiKeySyncGroup, 0, 5},
		{apiKeyDescribeGroups, 0, 5},
		{apiKeyListGroups, 0, 4},
		{wire.APIKeyAPIVersions, 0, 3},
		{apiKeyCreateTopics, 0, 7},
	}
	if idempotence {
		apis = append(apis, apiRange{apiKeyInitProducerID, 0, txn.MaxInitProducerIDVersion})
	}
	if transactions {
		apis = append(apis,
			apiRange{apiKeyAddPartitionsTxn, 0, txn.MaxAddPartitionsVersion},
			apiRange{apiKeyAddOffsetsTxn, 0, txn.MaxAddOffsetsVersion},
			apiRange{apiKeyEndTxn, 0, txn.MaxEndTxnVersion},
			apiRange{apiKeyTxnOffsetCommit, 0, txn.MaxTxnOffsetCommitVersion},
		)
	}
	return apis
}

// supports reports whether the broker serves the API key at this version.
func (b *broker) supports(key, version int16) bool {
	for _, a := range b.apis {
		if a.Key == key {
			return version >= a.Min && version <= a.Max
		}
	}
	return false
}

// unsupportedError is a request for an API or version the broker does not
// serve; the connection is closed, as Kafka does when it cannot parse a
// request header's API version (only ApiVersions answers those, KIP-511).
type unsupportedError struct {
	Key, Version int16
}

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("broker: %s v%d is not served; closing the connection", wire.APIName(e.Key), e.Version)
}

// decodeError is a request body that does not parse; Kafka closes the
// connection then.
type decodeError struct {
	Key, Version int16
	Err          error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("broker: malformed %s v%d request: %v", wire.APIName(e.Key), e.Version, e.Err)
}

func (e *decodeError) Unwrap() error { return e.Err }

// dispatcher returns the produce.Dispatcher of a connection from host
// (the client address DescribeGroups reports).
func (b *broker) dispatcher(host string) produce.Dispatcher {
	return func(ctx context.Context, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
		return b.dispatch(ctx, host, hdr, body)
	}
}

// dispatch routes one request of a connection from host by API key.
// Produce goes to the library's handler; Fetch, JoinGroup and SyncGroup
// are answered when the Reply is waited on, so that a long poll or a
// rebalance does not hold up reading the connection's next requests; the
// others are answered at once. An error closes the connection.
func (b *broker) dispatch(ctx context.Context, host string, hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	if b.logger.Enabled(ctx, slog.LevelDebug) {
		b.logger.Debug("request", "api", wire.APIName(hdr.APIKey), "version", hdr.APIVersion, "client", clientID(hdr), "correlation", hdr.CorrelationID)
	}
	if hdr.APIKey == wire.APIKeyAPIVersions {
		return b.apiVersions(hdr, body)
	}
	if !b.supports(hdr.APIKey, hdr.APIVersion) {
		return produce.Reply{}, &unsupportedError{hdr.APIKey, hdr.APIVersion}
	}
	switch hdr.APIKey {
	case wire.APIKeyProduce:
		r, err := b.handler.DispatchProduce(ctx, hdr, body)
		if err != nil {
			return r, err
		}
		wait := r.Wait
		r.Wait = func(ctx context.Context) ([]byte, bool) {
			resp, closeConn := wait(ctx)
			b.data.broadcast()
			return resp, closeConn
		}
		return r, nil
	case wire.APIKeyFetch:
		return b.fetch(ctx, hdr, body)
	case apiKeyListOffsets:
		return b.listOffsets(hdr, body)
	case apiKeyMetadata:
		return b.metadata(ctx, hdr, body)
	case apiKeyOffsetCommit:
		return b.offsetCommit(ctx, hdr, body)
	case apiKeyOffsetFetch:
		return b.offsetFetch(ctx, hdr, body)
	case apiKeyFindCoordinator:
		return b.findCoordinator(hdr, body)
	case apiKeyJoinGroup:
		return b.joinGroup(ctx, host, hdr, body)
	case apiKeyHeartbeat:
		return b.heartbeat(hdr, body)
	case apiKeyLeaveGroup:
		return b.leaveGroup(hdr, body)
	case apiKeySyncGroup:
		return b.syncGroup(ctx, hdr, body)
	case apiKeyDescribeGroups:
		return b.describeGroups(hdr, body)
	case apiKeyListGroups:
		return b.listGroups(hdr, body)
	case apiKeyCreateTopics:
		return b.createTopics(ctx, hdr, body)
	case apiKeyInitProducerID:
		return b.initProducerID(ctx, hdr, body)
	case apiKeyAddPartitionsTxn:
		return b.addPartitionsToTxn(ctx, hdr, body)
	case apiKeyAddOffsetsTxn:
		return b.addOffsetsToTxn(ctx, hdr, body)
	case apiKeyEndTxn:
		return b.endTxn(ctx, hdr, body)
	case apiKeyTxnOffsetCommit:
		return b.txnOffsetCommit(ctx, hdr, body)
	}
	return produce.Reply{}, &unsupportedError{hdr.APIKey, hdr.APIVersion}
}

// decode reads a request body of hdr's version into req.
func decode(hdr wire.RequestHeader, body []byte, req kmsg.Request) error {
	req.SetVersion(hdr.APIVersion)
	if err := req.ReadFrom(body); err != nil {
		return &decodeError{hdr.APIKey, hdr.APIVersion, err}
	}
	return nil
}

// respond encodes resp in the request's version after the response header
// that version calls for.
func respond(hdr wire.RequestHeader, resp kmsg.Response) produce.Reply {
	return produce.Immediate(encodeResponse(hdr, resp))
}

// encodeResponse returns the response frame (without its size prefix) of
// resp in the request's version.
func encodeResponse(hdr wire.RequestHeader, resp kmsg.Response) []byte {
	resp.SetVersion(hdr.APIVersion)
	out := wire.AppendResponseHeader(nil, hdr.CorrelationID, wire.ResponseHeaderFlexible(hdr.APIKey, hdr.APIVersion))
	return resp.AppendTo(out)
}

// clientID returns the request header's client id ("" when null).
func clientID(hdr wire.RequestHeader) string {
	if hdr.ClientID == nil {
		return ""
	}
	return *hdr.ClientID
}

// nullable returns nil for "" and &s otherwise, for the nullable strings
// of responses.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// codeOf returns the Kafka error code an error from the library carries:
// *errcode.Error values and errors with a Code method (package segment's),
// UNKNOWN_SERVER_ERROR for anything else.
func codeOf(err error) errcode.Code {
	if err == nil {
		return errcode.None
	}
	var e *errcode.Error
	if errors.As(err, &e) {
		return e.Code
	}
	var c interface{ Code() errcode.Code }
	if errors.As(err, &c) {
		return c.Code()
	}
	return errcode.UnknownServerError
}
