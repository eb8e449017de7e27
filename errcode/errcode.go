// Package errcode names the Kafka protocol error codes that chronik returns.
//
// A Kafka failure is a code in a response, not a Go error: the produce path
// answers each partition with one of these codes (see docs/architecture.md).
// Numbers and meanings follow Apache Kafka's
// org.apache.kafka.common.protocol.Errors.
package errcode

import "fmt"

// Code is a Kafka protocol error code.
type Code int16

// The codes chronik's produce, fetch, idempotence, transaction and group
// coordinator paths use.
const (
	UnknownServerError                 Code = -1
	None                               Code = 0
	OffsetOutOfRange                   Code = 1
	CorruptMessage                     Code = 2
	UnknownTopicOrPartition            Code = 3
	InvalidFetchSize                   Code = 4
	LeaderNotAvailable                 Code = 5
	NotLeaderOrFollower                Code = 6
	RequestTimedOut                    Code = 7
	BrokerNotAvailable                 Code = 8
	ReplicaNotAvailable                Code = 9
	MessageTooLarge                    Code = 10
	StaleControllerEpoch               Code = 11
	OffsetMetadataTooLarge             Code = 12
	NetworkException                   Code = 13
	CoordinatorLoadInProgress          Code = 14
	CoordinatorNotAvailable            Code = 15
	NotCoordinator                     Code = 16
	InvalidTopicException              Code = 17
	RecordListTooLarge                 Code = 18
	NotEnoughReplicas                  Code = 19
	NotEnoughReplicasAfterAppend       Code = 20
	InvalidRequiredAcks                Code = 21
	IllegalGeneration                  Code = 22
	InconsistentGroupProtocol          Code = 23
	InvalidGroupID                     Code = 24
	UnknownMemberID                    Code = 25
	InvalidSessionTimeout              Code = 26
	RebalanceInProgress                Code = 27
	InvalidCommitOffsetSize            Code = 28
	TopicAuthorizationFailed           Code = 29
	GroupAuthorizationFailed           Code = 30
	ClusterAuthorizationFailed         Code = 31
	InvalidTimestamp                   Code = 32
	UnsupportedSASLMechanism           Code = 33
	IllegalSASLState                   Code = 34
	UnsupportedVersion                 Code = 35
	TopicAlreadyExists                 Code = 36
	InvalidPartitions                  Code = 37
	InvalidReplicationFactor           Code = 38
	InvalidReplicaAssignment           Code = 39
	InvalidConfig                      Code = 40
	NotController                      Code = 41
	InvalidRequest                     Code = 42
	UnsupportedForMessageFormat        Code = 43
	PolicyViolation                    Code = 44
	OutOfOrderSequenceNumber           Code = 45
	DuplicateSequenceNumber            Code = 46
	InvalidProducerEpoch               Code = 47
	InvalidTxnState                    Code = 48
	InvalidProducerIDMapping           Code = 49
	InvalidTransactionTimeout          Code = 50
	ConcurrentTransactions             Code = 51
	TransactionCoordinatorFenced       Code = 52
	TransactionalIDAuthorizationFailed Code = 53
	SecurityDisabled                   Code = 54
	OperationNotAttempted              Code = 55
	KafkaStorageError                  Code = 56
	LogDirNotFound                     Code = 57
	SASLAuthenticationFailed           Code = 58
	UnknownProducerID                  Code = 59
	ReassignmentInProgress             Code = 60
	UnsupportedCompressionType         Code = 76
	MemberIDRequired                   Code = 79
	InvalidRecord                      Code = 87
	UnstableOffsetCommit               Code = 88
	ProducerFenced                     Code = 90
	UnknownTopicID                     Code = 100
	TransactionAbortable               Code = 120
)

type info struct {
	name      string
	retriable bool
}

var infos = map[Code]info{
	UnknownServerError:                 {"UNKNOWN_SERVER_ERROR", false},
	None:                               {"NONE", false},
	OffsetOutOfRange:                   {"OFFSET_OUT_OF_RANGE", false},
	CorruptMessage:                     {"CORRUPT_MESSAGE", true},
	UnknownTopicOrPartition:            {"UNKNOWN_TOPIC_OR_PARTITION", true},
	InvalidFetchSize:                   {"INVALID_FETCH_SIZE", false},
	LeaderNotAvailable:                 {"LEADER_NOT_AVAILABLE", true},
	NotLeaderOrFollower:                {"NOT_LEADER_OR_FOLLOWER", true},
	RequestTimedOut:                    {"REQUEST_TIMED_OUT", true},
	BrokerNotAvailable:                 {"BROKER_NOT_AVAILABLE", false},
	ReplicaNotAvailable:                {"REPLICA_NOT_AVAILABLE", true},
	MessageTooLarge:                    {"MESSAGE_TOO_LARGE", false},
	StaleControllerEpoch:               {"STALE_CONTROLLER_EPOCH", false},
	OffsetMetadataTooLarge:             {"OFFSET_METADATA_TOO_LARGE", false},
	NetworkException:                   {"NETWORK_EXCEPTION", true},
	CoordinatorLoadInProgress:          {"COORDINATOR_LOAD_IN_PROGRESS", true},
	CoordinatorNotAvailable:            {"COORDINATOR_NOT_AVAILABLE", true},
	NotCoordinator:                     {"NOT_COORDINATOR", true},
	InvalidTopicException:              {"INVALID_TOPIC_EXCEPTION", false},
	RecordListTooLarge:                 {"RECORD_LIST_TOO_LARGE", false},
	NotEnoughReplicas:                  {"NOT_ENOUGH_REPLICAS", true},
	NotEnoughReplicasAfterAppend:       {"NOT_ENOUGH_REPLICAS_AFTER_APPEND", true},
	InvalidRequiredAcks:                {"INVALID_REQUIRED_ACKS", false},
	IllegalGeneration:                  {"ILLEGAL_GENERATION", false},
	InconsistentGroupProtocol:          {"INCONSISTENT_GROUP_PROTOCOL", false},
	InvalidGroupID:                     {"INVALID_GROUP_ID", false},
	UnknownMemberID:                    {"UNKNOWN_MEMBER_ID", false},
	InvalidSessionTimeout:              {"INVALID_SESSION_TIMEOUT", false},
	RebalanceInProgress:                {"REBALANCE_IN_PROGRESS", false},
	InvalidCommitOffsetSize:            {"INVALID_COMMIT_OFFSET_SIZE", false},
	TopicAuthorizationFailed:           {"TOPIC_AUTHORIZATION_FAILED", false},
	GroupAuthorizationFailed:           {"GROUP_AUTHORIZATION_FAILED", false},
	ClusterAuthorizationFailed:         {"CLUSTER_AUTHORIZATION_FAILED", false},
	InvalidTimestamp:                   {"INVALID_TIMESTAMP", false},
	UnsupportedSASLMechanism:           {"UNSUPPORTED_SASL_MECHANISM", false},
	IllegalSASLState:                   {"ILLEGAL_SASL_STATE", false},
	UnsupportedVersion:                 {"UNSUPPORTED_VERSION", false},
	TopicAlreadyExists:                 {"TOPIC_ALREADY_EXISTS", false},
	InvalidPartitions:                  {"INVALID_PARTITIONS", false},
	InvalidReplicationFactor:           {"INVALID_REPLICATION_FACTOR", false},
	InvalidReplicaAssignment:           {"INVALID_REPLICA_ASSIGNMENT", false},
	InvalidConfig:                      {"INVALID_CONFIG", false},
	NotController:                      {"NOT_CONTROLLER", true},
	InvalidRequest:                     {"INVALID_REQUEST", false},
	UnsupportedForMessageFormat:        {"UNSUPPORTED_FOR_MESSAGE_FORMAT", false},
	PolicyViolation:                    {"POLICY_VIOLATION", false},
	OutOfOrderSequenceNumber:           {"OUT_OF_ORDER_SEQUENCE_NUMBER", false},
	DuplicateSequenceNumber:            {"DUPLICATE_SEQUENCE_NUMBER", false},
	InvalidProducerEpoch:               {"INVALID_PRODUCER_EPOCH", false},
	InvalidTxnState:                    {"INVALID_TXN_STATE", false},
	InvalidProducerIDMapping:           {"INVALID_PRODUCER_ID_MAPPING", false},
	InvalidTransactionTimeout:          {"INVALID_TRANSACTION_TIMEOUT", false},
	ConcurrentTransactions:             {"CONCURRENT_TRANSACTIONS", true},
	TransactionCoordinatorFenced:       {"TRANSACTION_COORDINATOR_FENCED", false},
	TransactionalIDAuthorizationFailed: {"TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false},
	SecurityDisabled:                   {"SECURITY_DISABLED", false},
	OperationNotAttempted:              {"OPERATION_NOT_ATTEMPTED", false},
	KafkaStorageError:                  {"KAFKA_STORAGE_ERROR", true},
	LogDirNotFound:                     {"LOG_DIR_NOT_FOUND", false},
	SASLAuthenticationFailed:           {"SASL_AUTHENTICATION_FAILED", false},
	UnknownProducerID:                  {"UNKNOWN_PRODUCER_ID", false},
	ReassignmentInProgress:             {"REASSIGNMENT_IN_PROGRESS", false},
	UnsupportedCompressionType:         {"UNSUPPORTED_COMPRESSION_TYPE", false},
	MemberIDRequired:                   {"MEMBER_ID_REQUIRED", false},
	InvalidRecord:                      {"INVALID_RECORD", false},
	UnstableOffsetCommit:               {"UNSTABLE_OFFSET_COMMIT", true},
	ProducerFenced:                     {"PRODUCER_FENCED", false},
	UnknownTopicID:                     {"UNKNOWN_TOPIC_ID", true},
	TransactionAbortable:               {"TRANSACTION_ABORTABLE", false},
}

// String returns Kafka's name for the code, such as "CORRUPT_MESSAGE".
func (c Code) String() string {
	if i, ok := infos[c]; ok {
		return i.name
	}
	return fmt.Sprintf("ERROR_CODE_%d", int16(c))
}

// Retriable reports whether Kafka marks the code retriable, so that clients
// retry the request on their own.
func (c Code) Retriable() bool { return infos[c].retriable }

// Error is a Go error carrying a Kafka code, for the few places where a
// failure travels as a Go error before it becomes a code in a response.
type Error struct {
	Code Code
	Msg  string // optional detail
}

func (e *Error) Error() string {
	if e.Msg == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Msg
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}
