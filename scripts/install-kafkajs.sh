#!/usr/bin/env bash
# Installs kafkajs and its snappy, lz4 and zstd codecs into .cache/node (or
# $KAFKAJS_DIR), for the example broker's end-to-end tests, at pinned
# versions. Does nothing when every module is already there at its version.
# Needs node and npm on PATH.
#
# The zstd codec compiles a native addon that fails with the default C++
# standard of Debian 12's compiler; CXXFLAGS=-std=gnu++17 fixes that.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KAFKAJS_DIR:-.cache/node}
# Pinned: the versions the README's compatibility table was tested with.
modules=(kafkajs@2.2.4 kafkajs-snappy@1.1.0 kafkajs-lz4@1.2.1 @kafkajs/zstd@0.1.1)
missing=0
for m in "${modules[@]}"; do
  name=${m%@*} want=${m##*@}
  pkg="$dir/node_modules/$name/package.json"
  if [ ! -f "$pkg" ] || ! grep -q "\"version\": *\"$want\"" "$pkg"; then missing=1; fi
done
if [ "$missing" -eq 0 ]; then
  echo "install-kafkajs: already present in $dir"
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "install-kafkajs: npm not found" >&2; exit 1; }
mkdir -p "$dir"
if [ ! -f "$dir/package.json" ]; then
  echo '{"name":"chronik-test-clients","private":true}' >"$dir/package.json"
fi
(cd "$dir" && CXXFLAGS=-std=gnu++17 npm install --no-audit --no-fund --save-exact "${modules[@]}")
echo "install-kafkajs: installed into $dir"
