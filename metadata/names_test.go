package metadata

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	valid := []string{"a", "A-Z_0.9", "...", "._-", strings.Repeat("x", 249), "__transaction_state"}
	for _, name := range valid {
		if err := ValidateTopicName(name); err != nil {
			t.Errorf("ValidateTopicName(%q) = %v", name, err)
		}
	}
	invalid := []string{"", ".", "..", strings.Repeat("x", 250), "a b", "a/b", "a\\b", "ü", "a\x7f", "a#b"}
	for _, name := range invalid {
		if err := ValidateTopicName(name); !errors.Is(err, ErrInvalidTopic) {
			t.Errorf("ValidateTopicName(%q) = %v, want ErrInvalidTopic", name, err)
		}
	}
}

func TestCollisionKey(t *testing.T) {
	if collisionKey("a.b_c") != collisionKey("a_b.c") || collisionKey("a.b") == collisionKey("ab") {
		t.Error("collisionKey must identify names differing only in '.' and '_'")
	}
}

func TestNewTopicID(t *testing.T) {
	seen := make(map[[16]byte]bool)
	for i := 0; i < 10000; i++ {
		id := newTopicID()
		if seen[id] {
			t.Fatalf("duplicate id %x", id)
		}
		seen[id] = true
		if id[6]>>4 != 4 || id[8]>>6 != 2 {
			t.Fatalf("id %x is not a version-4 RFC 4122 UUID", id)
		}
		if s := base64.RawURLEncoding.EncodeToString(id[:]); s[0] == '-' {
			t.Fatalf("id %s starts with '-'", s)
		}
	}
}

func TestValidateReplicas(t *testing.T) {
	got, err := validateReplicas(nil, 4)
	if err != nil || len(got) != 1 || got[0] != 4 {
		t.Errorf("nil replicas = %v, %v; want [4]", got, err)
	}
	in := []int32{2, 0, 1}
	got, err = validateReplicas(in, 4)
	if err != nil || len(got) != 3 {
		t.Fatalf("validateReplicas(%v) = %v, %v", in, got, err)
	}
	in[0] = 9
	if got[0] != 2 {
		t.Error("validateReplicas returned the caller's slice")
	}
}
