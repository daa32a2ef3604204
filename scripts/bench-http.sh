#!/usr/bin/env bash
# HTTP load harness: builds the release server and the harness tools, then measures the server on
# a temp SQLite file against a bare poem baseline in the same run (scripts/bench_http.py).
#
#   bash scripts/bench-http.sh                 # health, products, users/me, purchases
#   bash scripts/bench-http.sh --grow 1000000  # ... and again with a million orders stored
#
# Other options (--duration, --runs, --connections, --log) go to bench_http.py. Only loopback
# addresses are used; every run is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "bench-http: installing wrk (Debian)" >&2
    if [[ $(id -u) -eq 0 ]]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

cargo build --release --locked -p ottsonly-server -p ottsonly-bench-harness >&2
target="$(realpath "${CARGO_TARGET_DIR:-target}")/release"
exec python3 scripts/bench_http.py \
    --server-bin "$target/ottsonly-server" \
    --baseline-bin "$target/bare-poem" \
    --grow-bin "$target/bench-grow" \
    "$@"
