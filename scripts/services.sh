#!/usr/bin/env bash
# Installs (once, into .cache) and starts the servers the integration tests
# use, each on a free loopback port, and prints the environment the tests
# read. Source it: `source scripts/services.sh start` exports the variables
# and sets SERVICE_PIDS; `services_stop` stops what it started.
#
#   S3    versitygw (checks SigV4 signatures)  CHRONIK_TEST_S3_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
#   GCS   fake-gcs-server                       CHRONIK_TEST_GCS_URL, STORAGE_EMULATOR_HOST
#   Azure azurite                               CHRONIK_TEST_AZURE_URL, AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY
#
# The credentials are the emulators' own test values, not secrets.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$root/.cache"
bin="$cache/bin"
mkdir -p "$bin"
SERVICE_PIDS=()
SERVICE_DIR=$(mktemp -d)

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_port() { # host port name
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "services: $3 did not start on $1:$2" >&2
  return 1
}

install_go_tool() { # name module@version
  if [ ! -x "$bin/$1" ]; then
    echo "services: installing $2"
    GOBIN="$bin" go install "$2"
  fi
}

services_start() {
  install_go_tool versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
  install_go_tool fake-gcs-server github.com/fsouza/fake-gcs-server@v1.56.1
  if [ ! -x "$cache/azurite/node_modules/.bin/azurite-blob" ]; then
    echo "services: installing azurite"
    mkdir -p "$cache/azurite"
    (cd "$cache/azurite" && npm install --no-audit --no-fund azurite@3.35.0 >/dev/null)
  fi

  # S3: a bucket is a directory of versitygw's data dir.
  local s3port; s3port=$(free_port)
  mkdir -p "$SERVICE_DIR/s3" # the test creates the bucket through the S3 API
  "$bin/versitygw" --access chronik-test-key --secret chronik-test-secret --port "127.0.0.1:$s3port" \
    posix "$SERVICE_DIR/s3" >"$SERVICE_DIR/versitygw.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_port 127.0.0.1 "$s3port" versitygw
  export CHRONIK_TEST_S3_URL="s3://chronik?endpoint=http://127.0.0.1:$s3port&region=us-east-1&use_path_style=true"
  export AWS_ACCESS_KEY_ID=chronik-test-key AWS_SECRET_ACCESS_KEY=chronik-test-secret

  # GCS: without -public-host every read fails with NotFound.
  local gport; gport=$(free_port)
  "$bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$gport" -public-host "127.0.0.1:$gport" \
    -backend memory >"$SERVICE_DIR/fake-gcs.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_port 127.0.0.1 "$gport" fake-gcs-server
  curl -sf -X POST "http://127.0.0.1:$gport/storage/v1/b?project=p" -H 'Content-Type: application/json' \
    -d '{"name":"chronik"}' >/dev/null
  export CHRONIK_TEST_GCS_URL="gs://chronik" STORAGE_EMULATOR_HOST="127.0.0.1:$gport"

  # Azure: azurite's well-known development account; the test creates the container.
  local aport; aport=$(free_port)
  "$cache/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$aport" \
    --location "$SERVICE_DIR/azurite" --skipApiVersionCheck --loose --disableTelemetry --silent \
    >"$SERVICE_DIR/azurite.log" 2>&1 &
  SERVICE_PIDS+=($!)
  wait_port 127.0.0.1 "$aport" azurite
  export CHRONIK_TEST_AZURE_URL="azblob://chronik?localemu=true&domain=127.0.0.1:$aport&protocol=http"
  export AZURE_STORAGE_ACCOUNT=devstoreaccount1
  export AZURE_STORAGE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
  echo "services: S3 on $s3port, GCS on $gport, Azure on $aport"
}

services_stop() {
  for pid in "${SERVICE_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${SERVICE_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$SERVICE_DIR"
}

if [ "${1:-}" = start ]; then
  services_start
fi
