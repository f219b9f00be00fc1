# Shared by scripts/run.sh and scripts/test.sh: install what is missing.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
# Installs the Debian packages given that are not installed yet.
need_debian_packages() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing Debian packages: ${missing[*]}"
        if [ -z "$apt_updated" ]; then
            as_root apt-get update -qq
            apt_updated=1
        fi
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    fi
}

need_rust() {
    command -v cargo >/dev/null || { echo "cargo is required: https://rustup.rs" >&2; exit 1; }
    # protoc: etcd-client's build compiles etcd's protobuf definitions.
    need_debian_packages gcc protobuf-compiler
}

# Installs PyPI packages whose command is missing: need_pip COMMAND PACKAGE...
need_pip() {
    local command="$1"
    shift
    if ! command -v "$command" >/dev/null; then
        need_debian_packages python3-pip
        echo "installing from PyPI: $*"
        python3 -m pip install --quiet "$@" 2>/dev/null \
            || python3 -m pip install --quiet --break-system-packages "$@"
    fi
}

need_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        need_debian_packages nodejs npm
    fi
}

# Installs the demo's npm packages (mediasoup-client, esbuild, playwright-core)
# and bundles the demo page into demo/dist/app.js.
build_demo() {
    need_node
    if [ ! -d demo/node_modules ] || [ demo/package-lock.json -nt demo/node_modules ]; then
        (cd demo && npm ci --no-audit --no-fund)
        touch demo/node_modules
    fi
    (cd demo && npm run --silent build)
}
