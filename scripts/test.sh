#!/usr/bin/env bash
# The whole suite, on a fresh machine too: installs the test clients (kcat,
# kafkajs) and servers (S3, GCS and Azure emulators), starts the servers on
# loopback, runs lint and every test with -race, a short fuzz pass over
# every fuzz target, and stops the servers even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=${CI:-}

bash scripts/lint.sh
bash scripts/install-kcat.sh
bash scripts/install-kafkajs.sh

source scripts/services.sh
trap services_stop EXIT
services_start

go test -race -count=1 -timeout 25m ./...
# The benchmark tool is its own module: its reconciliation tests and a
# quick side-by-side run against the real broker.
go -C bench vet ./...
go -C bench test -count=1 -timeout 10m ./...
FUZZTIME=${FUZZTIME:-10s} bash scripts/fuzz.sh
