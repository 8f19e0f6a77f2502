#!/usr/bin/env bash
# Runs the wsactor comparison benchmarks and prints a markdown table.
#
#   ./run.sh              full suite (5 reps, a few minutes on 2 cores)
#   ./run.sh -quick       smoke test (< 1 minute)
#   ./run.sh -h           all flags (they are passed to cmd/compare)
#
# Builds cmd/compare and cmd/echoserver into a temporary directory. If the
# wsactor root package does not build yet, the wsactor adapter is left out
# (build tag nowsactor) and the other adapters still run.
set -euo pipefail
cd "$(dirname "$0")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tags=()
if ! (cd .. && go build -o /dev/null . 2>"$tmp/wsactor-build.log"); then
	echo "run.sh: the wsactor package does not build; running without the wsactor adapter:" >&2
	head -n 20 "$tmp/wsactor-build.log" >&2
	tags=(-tags nowsactor)
fi

go build "${tags[@]}" -o "$tmp/compare" ./cmd/compare
go build -o "$tmp/echoserver" ./cmd/echoserver

"$tmp/compare" -server "$tmp/echoserver" "$@"
