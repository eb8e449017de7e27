package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// External clients (kcat, kafkajs) are installed by scripts/install-kcat.sh
// and scripts/install-kafkajs.sh. Without them these tests skip, except
// under CI=true, where a missing client is a failure.

// requireClient skips (or, under CI, fails) the test with a message naming
// the install script when ok is false.
func requireClient(t *testing.T, ok bool, what, script string) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf("%s is not installed: run scripts/%s", what, script)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: external clients are required)")
	}
	t.Skip(msg)
}

// kcatPath returns kcat's path, or skips the test.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	requireClient(t, err == nil, "kcat", "install-kcat.sh")
	return p
}

// runCmd runs a command with stdin and a timeout and returns its stdout;
// it fails the test with stderr on any error.
func runCmd(t *testing.T, stdin []byte, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// kcatRecords returns records kcat can send from stdin with -K: (no ':'
// or newline in keys; values hold non-ASCII UTF-8 to check bytes exactly)
// and the headers set on every record with -H.
func kcatRecords(prefix string, n int) []rec {
	out := make([]rec, n)
	for i := range out {
		out[i] = rec{
			Key:     fmt.Sprintf("%s-key-%04d", prefix, i),
			Value:   fmt.Sprintf(`{"n":%d,"text":%q,"utf8":"é€😀"}`, i, strings.Repeat("chronik stores this ", 8)),
			Headers: []hdr{{"trace", "kcat"}, {"client", "librdkafka"}},
		}
	}
	return out
}

// kcatProduce produces recs with kcat (librdkafka) with the codec and acks.
func kcatProduce(t *testing.T, kcat, addr, topic string, recs []rec, codec string, acks int16) {
	t.Helper()
	var in bytes.Buffer
	for _, r := range recs {
		fmt.Fprintf(&in, "%s:%s\n", r.Key, r.Value)
	}
	args := []string{"-P", "-b", addr, "-t", topic, "-p", "0", "-K:",
		"-X", "compression.codec=" + codec, "-X", fmt.Sprintf("acks=%d", acks), "-X", "linger.ms=20"}
	for _, h := range recs[0].Headers {
		args = append(args, "-H", h.Key+"="+h.Value)
	}
	runCmd(t, in.Bytes(), nil, kcat, args...)
}

// kcatConsume reads partition 0 of topic from the beginning with kcat
// until it holds n records (acks=0 data may become readable a little
// after kcat -P exits).
func kcatConsume(t *testing.T, kcat, addr, topic string, n int) []rec {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Fields separated by US, records by RS: neither occurs in the data.
		out := runCmd(t, nil, nil, kcat, "-C", "-b", addr, "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
			"-f", `%k\x1f%s\x1f%h\x1e`)
		recs := parseKcat(t, out)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// parseKcat parses kcat -f '%k\x1f%s\x1f%h\x1e' output; %h prints
// headers as k=v pairs joined by commas.
func parseKcat(t *testing.T, out []byte) []rec {
	t.Helper()
	var recs []rec
	for _, r := range bytes.Split(out, []byte{0x1e}) {
		if len(bytes.TrimSpace(r)) == 0 {
			continue
		}
		f := strings.Split(string(r), "\x1f")
		if len(f) != 3 {
			t.Fatalf("kcat output record %q has %d fields", r, len(f))
		}
		rr := rec{Key: f[0], Value: f[1]}
		if f[2] != "" {
			for _, kv := range strings.Split(f[2], ",") {
				k, v, _ := strings.Cut(kv, "=")
				rr.Headers = append(rr.Headers, hdr{k, v})
			}
		}
		recs = append(recs, rr)
	}
	return recs
}

// TestKcat produces with kcat with every codec and acks mode and consumes
// back with kcat, checking that librdkafka really compressed (the stored
// batches carry the codec: it sends uncompressed data to a broker that
// does not advertise Produce min version 0), then crosses kcat with
// sarama and franz-go both ways.
func TestKcat(t *testing.T) {
	kcat := kcatPath(t)
	b := newBroker(t, nil)
	addr := b.addrs.Kafka
	for _, codec := range codecs {
		for _, acks := range acksList {
			t.Run(fmt.Sprintf("%s/acks%d", codec, acks), func(t *testing.T) {
				topic := fmt.Sprintf("kcat-%s-acks%d", codec, acks)
				want := kcatRecords(topic, 50)
				kcatProduce(t, kcat, addr, topic, want, codec, acks)
				checkRecords(t, kcatConsume(t, kcat, addr, topic, len(want)), want)
				checkCodec(t, addr, topic, codec)
			})
		}
	}
	t.Run("kcat-to-sarama-and-franz-go", func(t *testing.T) {
		topic := "kcat-to-go"
		want := kcatRecords(topic, 50)
		kcatProduce(t, kcat, addr, topic, want, "zstd", -1)
		checkRecords(t, consumeSarama(t, addr, topic, len(want), sarama.DefaultVersion), want)
		checkRecords(t, consumeKgo(t, addr, topic, len(want)), want)
	})
	t.Run("franz-go-to-kcat", func(t *testing.T) {
		topic := "go-to-kcat"
		want := kcatRecords(topic, 50)
		createTopic(t, addr, topic, 1, nil)
		produceKgo(t, addr, topic, want, "lz4", -1, true)
		checkRecords(t, kcatConsume(t, kcat, addr, topic, len(want)), want)
	})
	t.Run("sarama-to-kcat", func(t *testing.T) {
		topic := "sarama-to-kcat"
		want := kcatRecords(topic, 50)
		produceSarama(t, addr, topic, want, "gzip", 1, sarama.DefaultVersion, false)
		checkRecords(t, kcatConsume(t, kcat, addr, topic, len(want)), want)
	})
}

// kafkajsEnv returns node's path and the NODE_PATH environment for the
// kafkajs modules, or skips the test when node or the modules are missing.
func kafkajsEnv(t *testing.T) (node string, env []string) {
	t.Helper()
	node, env, err := locateKafkajs()
	requireClient(t, err == nil, fmt.Sprint(err), "install-kafkajs.sh (and install node 20)")
	return node, env
}

// optionalKafkajs is kafkajsEnv for tests where kafkajs is one client
// among several: it returns "" (logged) when kafkajs is missing, and under
// CI=true fails instead.
func optionalKafkajs(t *testing.T) (node string, env []string) {
	t.Helper()
	node, env, err := locateKafkajs()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v is not installed: run scripts/install-kafkajs.sh (CI=true: external clients are required)", err)
		}
		t.Logf("%v is not installed (scripts/install-kafkajs.sh): its checks are skipped", err)
		return "", nil
	}
	return node, env
}

// locateKafkajs finds node and the kafkajs modules (in $KAFKAJS_DIR or
// .cache/node at the module root); the error names what is missing.
func locateKafkajs() (node string, env []string, err error) {
	node, err = exec.LookPath("node")
	if err != nil {
		return "", nil, errors.New("node")
	}
	dir := os.Getenv("KAFKAJS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".cache", "node")
	}
	modules, err := filepath.Abs(filepath.Join(dir, "node_modules"))
	if err != nil {
		return "", nil, err
	}
	for _, m := range []string{"kafkajs", "kafkajs-snappy", "kafkajs-lz4", "@kafkajs/zstd"} {
		if _, err := os.Stat(filepath.Join(modules, m, "package.json")); err != nil {
			return "", nil, fmt.Errorf("kafkajs (in %s)", modules)
		}
	}
	return node, []string{"NODE_PATH=" + modules}, nil
}

// TestKafkajs produces with a kafkajs producer (Node) with every codec and
// acks mode; Go consumers check every record and the stored codec.
func TestKafkajs(t *testing.T) {
	node, env := kafkajsEnv(t)
	b := newBroker(t, nil)
	addr := b.addrs.Kafka
	script, err := filepath.Abs(filepath.Join("testdata", "kafkajs_produce.js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, codec := range codecs {
		for _, acks := range acksList {
			t.Run(fmt.Sprintf("%s/acks%d", codec, acks), func(t *testing.T) {
				topic := fmt.Sprintf("kafkajs-%s-acks%d", codec, acks)
				const n = 40
				runCmd(t, nil, env, node, script, addr, topic, codec, fmt.Sprint(acks), fmt.Sprint(n))
				want := make([]rec, n)
				for i := range want {
					want[i] = rec{
						Key:     fmt.Sprintf("%s-key-%04d", topic, i),
						Value:   fmt.Sprintf(`{"n":%d,"source":%q,"text":%q}`, i, topic, strings.Repeat("chronik stores this ", 8)),
						Headers: []hdr{{"trace", fmt.Sprint("t-", i)}, {"client", "kafkajs"}},
					}
				}
				checkRecords(t, consumeKgo(t, addr, topic, n), want)
				checkCodec(t, addr, topic, codec)
			})
		}
	}
}
