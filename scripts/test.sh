#!/usr/bin/env bash
# The project's test command (README): format, lints, then every test of the
# workspace with every feature (unit, integration, trybuild UI and doc tests),
# and the few that check a build without the `redis` feature. The Redis tests
# start their own redis-server processes on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."

# Installs what a fresh machine of this kind may lack. Runs as root in CI.
ensure_tools() {
    for component in rustfmt clippy; do
        if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
            rustup component add "$component"
        fi
    done
    if ! command -v redis-server >/dev/null 2>&1; then
        # Redis tests start their own throwaway redis-server instances.
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server
        command -v redis-server >/dev/null || { echo "redis-server could not be installed" >&2; exit 1; }
    fi
}

# The test and bench packages list their targets (autodiscovery would look in
# tests/tests/): a file left out of the list would silently never run.
check_listed() {
    local dir=$1 missing=0
    for file in "$dir"/*.rs; do
        # lib.rs: the package's own; quickstart.rs: the root package's example.
        case $(basename "$file") in lib.rs | quickstart.rs) continue ;; esac
        grep -q "^path = \"$(basename "$file")\"$" "$dir/Cargo.toml" || { echo "$file is not a target of $dir/Cargo.toml" >&2; missing=1; }
    done
    return $missing
}

ensure_tools
check_listed tests
check_listed benches
check_listed examples
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features -- -D warnings
# Without the default `tokio` feature: sync memoization alone must build cleanly.
cargo clippy -p memocache -p memocache-runtime --lib --no-default-features -- -D warnings
cargo test --workspace --all-features
# API docs build without a warning (broken links, missing docs).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --all-features
# With the default features (no `redis`): the feature errors of the macros, and
# the same function cached in memory instead of Redis.
cargo test -p memocache-tests --test ui_without_redis --test store_swap
