#!/usr/bin/env bash
# Runs a Troupe node on the embedded defaults with its demo page at
# http://127.0.0.1:8080 (WebRTC on port 40000, UDP and TCP). Arguments are
# passed to troupe, e.g. scripts/run.sh --webrtc-port 41000
#
# scripts/run.sh --tls serves it over HTTPS on every interface (port 8443)
# with a self-signed certificate made for this machine's addresses, so
# browsers on the LAN may use their cameras; it prints the addresses and
# the admin token (made at random unless TROUPE_API_TOKEN is set).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
need_rust
build_demo
if [ "${1:-}" = "--tls" ]; then
    shift
    need_debian_packages openssl
    dir=.troupe-tls
    mkdir -p "$dir"
    addresses="$(hostname -I 2>/dev/null || true)"
    first="$(echo "$addresses" | awk '{print $1}')"
    first="${first:-127.0.0.1}"
    if [ ! -s "$dir/cert.pem" ] || [ "$(cat "$dir/addresses" 2>/dev/null)" != "$addresses" ]; then
        san="DNS:localhost,IP:127.0.0.1"
        for a in $addresses; do san="$san,IP:$a"; done
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
            -subj "/CN=troupe" -addext "subjectAltName=$san" \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
        echo "$addresses" > "$dir/addresses"
    fi
    export TROUPE_TLS_CERTIFICATE="$PWD/$dir/cert.pem" TROUPE_TLS_PRIVATE_KEY="$PWD/$dir/key.pem"
    export TROUPE_HTTP_LISTEN="${TROUPE_HTTP_LISTEN:-0.0.0.0:8443}"
    export TROUPE_WEBRTC_LISTEN_IP="${TROUPE_WEBRTC_LISTEN_IP:-0.0.0.0}"
    export TROUPE_ANNOUNCED_ADDRESS="${TROUPE_ANNOUNCED_ADDRESS:-$first}"
    export TROUPE_API_TOKEN="${TROUPE_API_TOKEN:-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')}"
    echo "HTTPS on https://$first:${TROUPE_HTTP_LISTEN##*:}/ (self-signed: accept it once per browser)"
    echo "admin token: $TROUPE_API_TOKEN"
fi
exec cargo run --release --bin troupe -- "$@"
