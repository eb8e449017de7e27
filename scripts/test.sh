#!/usr/bin/env bash
# The whole suite: lint, every test with -race, and a short fuzz pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/lint.sh
go test -race -count=1 -timeout 20m ./...
FUZZTIME=${FUZZTIME:-10s} bash scripts/fuzz.sh
