#!/usr/bin/env bash
# Regenerates the Go code of proto/ with the plugin versions pinned in go.mod
# (tool directives): the messages (protoc-gen-go), the service
# (protoc-gen-go-grpc) and reflection-free MarshalVT/UnmarshalVT/SizeVT
# methods (protoc-gen-go-vtproto) that proto/txc/v1's gRPC codec uses.
# With --check, regenerates into a temporary directory and
# fails if the committed code differs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_protoc
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" google.golang.org/protobuf/cmd/protoc-gen-go google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  github.com/planetscale/vtprotobuf/cmd/protoc-gen-go-vtproto

out=.
if [ "${1:-}" = "--check" ]; then
  out="$bin/gen"
  mkdir -p "$out"
fi
PATH="$bin:$PATH" protoc -I . \
  --go_out="$out" --go_opt=module=github.com/txcio/txc \
  --go-grpc_out="$out" --go-grpc_opt=module=github.com/txcio/txc \
  --go-vtproto_out="$out" --go-vtproto_opt=module=github.com/txcio/txc,features=marshal+unmarshal+size \
  proto/txc/v1/*.proto

if [ "${1:-}" = "--check" ]; then
  stale=0
  for f in "$out"/proto/txc/v1/*.go; do
    rel=${f#"$out"/}
    if ! cmp -s "$f" "$rel"; then
      echo "proto: $rel is stale; run 'make proto' and commit the result" >&2
      stale=1
    fi
  done
  [ "$stale" = 0 ] && echo "proto: generated code is current"
  exit "$stale"
fi
