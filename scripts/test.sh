#!/usr/bin/env bash
# Runs every test of the workspace: SQLite tests on temp files, and the MongoDB backend's tests
# against a MongoDB-wire-compatible test server that scripts/mongo-test-server.sh installs into a
# cache directory on first use, starts on a free loopback port and stops afterwards.
# The browser tests need Debian's chromium and chromium-driver: scripts/browser-deps.sh installs
# them first. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests' headless Chromium and chromedriver (skipped when already installed).
bash scripts/browser-deps.sh
exec bash scripts/mongo-test-server.sh run -- cargo test --workspace --locked "$@"
