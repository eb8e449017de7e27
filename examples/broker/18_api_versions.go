package main

import (
	"regexp"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/produce"
	"github.com/chronik-go/chronik/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientSoftware is what Kafka accepts as client_software_name and
// client_software_version in ApiVersions v3+ (ApiVersionsRequest.isValid).
var clientSoftware = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

// apiVersions answers ApiVersions (key 18) v0-v3 with the APIs the broker
// implements. A version it does not know gets UNSUPPORTED_VERSION in a v0
// response that still lists the broker's ranges, so the client can retry
// with a version both sides know (KIP-511). The response header is v0 for
// every version, even the flexible v3, so that a client can read it before
// it knows anything of the broker.
func (b *broker) apiVersions(hdr wire.RequestHeader, body []byte) (produce.Reply, error) {
	resp := kmsg.NewPtrApiVersionsResponse()
	for _, a := range b.apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.Key, a.Min, a.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	if !b.supports(hdr.APIKey, hdr.APIVersion) {
		resp.ErrorCode = int16(errcode.UnsupportedVersion)
		resp.SetVersion(0)
		out := wire.AppendResponseHeader(nil, hdr.CorrelationID, false)
		return produce.Immediate(resp.AppendTo(out)), nil
	}
	req := kmsg.NewPtrApiVersionsRequest()
	if err := decode(hdr, body, req); err != nil {
		return produce.Reply{}, err
	}
	if hdr.APIVersion >= 3 && (!clientSoftware.MatchString(req.ClientSoftwareName) || !clientSoftware.MatchString(req.ClientSoftwareVersion)) {
		// Kafka answers an invalid name with the error alone
		// (ApiVersionsRequest.getErrorResponse).
		resp.ErrorCode = int16(errcode.InvalidRequest)
		resp.ApiKeys = nil
	}
	return respond(hdr, resp), nil
}
