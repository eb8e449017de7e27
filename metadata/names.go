package metadata

import (
	"crypto/rand"
	"fmt"
	"strings"
)

// ValidateTopicName applies Kafka's topic name rules
// (org.apache.kafka.common.internals.Topic.validate): 1..249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..". The error wraps ErrInvalidTopic.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("%w: the name cannot be \".\" or \"..\"", ErrInvalidTopic)
	case len(name) > MaxTopicNameLen:
		return fmt.Errorf("%w: the name is %d characters long, the limit is %d", ErrInvalidTopic, len(name), MaxTopicNameLen)
	}
	for i := 0; i < len(name); i++ {
		if !legalNameByte(name[i]) {
			return fmt.Errorf("%w: byte %d (%q) is not an ASCII letter, digit, '.', '_' or '-'", ErrInvalidTopic, i, name[i])
		}
	}
	return nil
}

func legalNameByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}

// collisionKey is Kafka's Topic.unifyCollisionChars: '.' and '_' may collide
// in metric names, so two topics differing only there cannot coexist.
func collisionKey(name string) string { return strings.ReplaceAll(name, ".", "_") }

// validateNamespace checks a key-value namespace: the topic name alphabet,
// so that a namespace can be a path segment in any backend.
func validateNamespace(ns string) error {
	if ns == "" || len(ns) > MaxNamespaceLen {
		return fmt.Errorf("%w: namespace must be 1..%d bytes, got %d", ErrInvalidArgument, MaxNamespaceLen, len(ns))
	}
	for i := 0; i < len(ns); i++ {
		if !legalNameByte(ns[i]) {
			return fmt.Errorf("%w: namespace byte %d (%q) is not an ASCII letter, digit, '.', '_' or '-'", ErrInvalidArgument, i, ns[i])
		}
	}
	return nil
}

func validateKey(ns, key string) error {
	if err := validateNamespace(ns); err != nil {
		return err
	}
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("%w: key must be 1..%d bytes, got %d", ErrInvalidArgument, MaxKeyLen, len(key))
	}
	return nil
}

func validateValue(v []byte) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("%w: value is %d bytes, the limit is %d", ErrInvalidArgument, len(v), MaxValueLen)
	}
	return nil
}

// validateReplicas returns the replica list to use: def alone for an empty
// list, else a copy of replicas once checked (ids >= 0, no duplicates).
func validateReplicas(replicas []int32, def int32) ([]int32, error) {
	if len(replicas) == 0 {
		return []int32{def}, nil
	}
	for i, r := range replicas {
		if r < 0 {
			return nil, fmt.Errorf("%w: replica %d has negative node id %d", ErrInvalidReplicas, i, r)
		}
		for _, q := range replicas[:i] {
			if q == r {
				return nil, fmt.Errorf("%w: node %d listed twice", ErrInvalidReplicas, r)
			}
		}
	}
	return append([]int32(nil), replicas...), nil
}

// newTopicID returns a random version-4 UUID the way Kafka's
// Uuid.randomUuid does: never the reserved all-zero or 0...01 ids, and never
// one whose base64 form starts with '-' (it would read as a command-line
// flag).
func newTopicID() [16]byte {
	for {
		var id [16]byte
		if _, err := rand.Read(id[:]); err != nil {
			// crypto/rand.Read never fails on supported platforms (Go 1.24+).
			panic(err)
		}
		id[6] = id[6]&0x0f | 0x40 // version 4
		id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
		// Base64 index 62 is '-': the first character comes from the top
		// six bits of byte 0. The version bits alone already rule out the
		// two reserved ids.
		if id[0]>>2 != 62 {
			return id
		}
	}
}
