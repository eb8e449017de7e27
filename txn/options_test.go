package txn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chronik-go/chronik/errcode"
	"github.com/chronik-go/chronik/metadata"
)

func TestOptionsValidate(t *testing.T) {
	bad := map[string]Options{
		"MaxTransactionTimeout":     {MaxTransactionTimeout: -1},
		"MaxTransactionTimeout ":    {MaxTransactionTimeout: 1 << 62},
		"MaxTransactionTimeout  ":   {MaxTransactionTimeout: time.Microsecond},
		"AbortTimedOutInterval":     {AbortTimedOutInterval: -time.Second},
		"TransactionalIDExpiration": {TransactionalIDExpiration: -time.Second},
		"ExpirationCheckInterval":   {ExpirationCheckInterval: -time.Second},
		"MarkerConcurrency":         {MarkerConcurrency: -1},
		"MarkerRetryBackoff":        {MarkerRetryBackoff: -1},
		"MarkerRetryBackoffMax":     {MarkerRetryBackoff: time.Second, MarkerRetryBackoffMax: time.Millisecond},
		"CompletionWait":            {CompletionWait: -1},
	}
	for field, o := range bad {
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(field)) {
			t.Errorf("%s: Validate = %v", field, err)
		}
		s := metadata.NewMemory(1)
		if _, err := New(s, newIDs(s), newFakeMarkers(), o); err == nil {
			t.Errorf("%s: New accepted invalid options", field)
		}
		s.Close()
	}
	if err := (Options{}).Validate(); err != nil {
		t.Fatal(err)
	}
	d := Options{}.withDefaults()
	if d.MaxTransactionTimeout != 15*time.Minute || d.AbortTimedOutInterval != 10*time.Second ||
		d.TransactionalIDExpiration != 7*24*time.Hour || d.ExpirationCheckInterval != time.Hour ||
		d.MarkerConcurrency != 16 || d.MarkerRetryBackoff != 100*time.Millisecond ||
		d.MarkerRetryBackoffMax != time.Second || d.CompletionWait != 5*time.Second ||
		d.Now == nil || d.Logger == nil || !d.PartitionExists("any", 0) {
		t.Fatalf("defaults %+v", d)
	}
	s := metadata.NewMemory(1)
	defer s.Close()
	for _, missing := range []string{"store", "ids", "markers"} {
		var err error
		switch missing {
		case "store":
			_, err = New(nil, newIDs(s), newFakeMarkers(), Options{})
		case "ids":
			_, err = New(s, nil, newFakeMarkers(), Options{})
		case "markers":
			_, err = New(s, newIDs(s), nil, Options{})
		}
		if err == nil {
			t.Errorf("New without %s succeeded", missing)
		}
	}
}

// MaxTransactionTimeout is the limit InitProducerId enforces.
func TestMaxTransactionTimeout(t *testing.T) {
	e := newEnv(t, "memory", func(o *Options) { o.MaxTransactionTimeout = 2 * time.Second })
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 2001, -1, -1); code != errcode.InvalidTransactionTimeout {
		t.Fatalf("above the limit: %v", code)
	}
	if _, _, code := e.c.InitProducerID(bg, 4, ptr("tx"), 2000, -1, -1); code != errcode.None {
		t.Fatalf("at the limit: %v", code)
	}
}

// The retry backoff grows from MarkerRetryBackoff to MarkerRetryBackoffMax.
func TestBackoff(t *testing.T) {
	e := newEnv(t, "memory", func(o *Options) {
		o.MarkerRetryBackoff = time.Millisecond
		o.MarkerRetryBackoffMax = 4 * time.Millisecond
	})
	b := e.c.newBackoff()
	var got []time.Duration
	for range 4 {
		got = append(got, b.next)
		if !b.wait(bg) {
			t.Fatal("wait gave up")
		}
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if b.wait(ctx) {
		t.Fatal("wait ignored a cancelled context")
	}
}

// Describe reports what the coordinator stored.
func TestDescribe(t *testing.T) {
	e := newEnv(t, "memory", nil)
	if _, ok := e.c.Describe("tx"); ok {
		t.Fatal("unknown id described")
	}
	c := ongoing(e)
	e.c.AddOffsets(bg, 3, "tx", c.pid, c.epoch, "g")
	d, ok := e.c.Describe("tx")
	if !ok || d.State != Ongoing || d.ProducerID != c.pid || d.ProducerEpoch != c.epoch || d.Timeout != time.Minute ||
		!d.StartTime.Equal(e.clock.Now()) || len(d.Partitions["t"]) != 2 || len(d.Groups) != 1 {
		t.Fatalf("Describe = %+v", d)
	}
	d.Partitions["t"][0] = 99 // a private copy
	if d2, _ := e.c.Describe("tx"); d2.Partitions["t"][0] != 0 {
		t.Fatal("Describe shares memory with the coordinator")
	}
}
