#!/usr/bin/env bash
# Runs a Troupe node on the embedded defaults with its demo page at
# http://127.0.0.1:8080 (WebRTC on port 40000, UDP and TCP). Arguments are
# passed to troupe, e.g. scripts/run.sh --webrtc-port 41000
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
build_demo
exec cargo run --release --bin troupe -- "$@"
