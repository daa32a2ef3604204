#!/usr/bin/env bash
# Runs a command against a throwaway MongoDB-wire-compatible test server.
#
#   scripts/mongo-test-server.sh run -- cargo test -p ottsonly-store-mongo
#   scripts/mongo-test-server.sh install      # only set up the venv (e.g. to warm a CI cache)
#
# There is no `mongod` package for this machine, so tests use SecantusDB (PyPI, GPL), a server
# that speaks the MongoDB wire protocol with sessions, multi-document transactions and unique
# indexes. It runs only as a separate process started here: it is never linked or vendored.
# It always runs as the primary of a one-member replica set named `secantus`.
#
# `run` installs the server into a venv under the cache dir if missing, starts it on a free
# loopback port with a temporary data dir, waits until it answers, exports
# OTTSONLY_TEST_MONGO_URI, runs the command, and always stops the server and removes the data
# dir, exiting with the command's status.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly SECANTUS_VERSION="0.7.0b3" # pre-release: pinned exactly
readonly CACHE_DIR="${OTTSONLY_CACHE:-$HOME/.cache/ottsonly}"
readonly VENV="$CACHE_DIR/secantus-venv"
readonly HOST="127.0.0.1"
readonly READY_TIMEOUT_S=30

log() { echo "mongo-test-server: $*" >&2; }

usage() {
    echo "usage: $0 run -- CMD [ARGS...]" >&2
    echo "       $0 install" >&2
    exit 2
}

# Creates the venv and installs the pinned server unless that exact version is already there.
install_server() {
    ensure_venv_package "$VENV" SecantusDB "$SECANTUS_VERSION" secantusd-py --pre
}

# True once the server answers a MongoDB `hello` on the port (an OP_MSG round trip, so a port
# that merely accepts connections does not count).
answers_hello() {
    python3 - "$1" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
def bson_doc(pairs):
    body = b""
    for key, value in pairs:
        k = key.encode() + b"\x00"
        if isinstance(value, int):
            body += b"\x10" + k + struct.pack("<i", value)
        else:
            v = value.encode() + b"\x00"
            body += b"\x02" + k + struct.pack("<i", len(v)) + v
    return struct.pack("<i", len(body) + 5) + body + b"\x00"
doc = bson_doc([("hello", 1), ("$db", "admin")])
payload = struct.pack("<I", 0) + b"\x00" + doc
msg = struct.pack("<iiii", 16 + len(payload), 1, 0, 2013) + payload
try:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.settimeout(2)
        s.sendall(msg)
        header = s.recv(16)
        ok = len(header) == 16 and struct.unpack("<i", header[12:16])[0] == 2013
except OSError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

# Globals, not locals: the traps read them.
data_dir=""
server_pid=""
cmd_pid=""

cleanup() {
    # A moment for a clean exit (the MongoDB-wire server closes its files), then insist.
    stop_pid "$server_pid"
    if [[ -n "$data_dir" ]]; then
        rm -rf "$data_dir"
    fi
}

# Passes INT/TERM on to the command, waits for it, and exits (the EXIT trap then cleans up).
on_signal() {
    local code=$1
    if [[ -n "$cmd_pid" ]]; then
        kill "-$2" "$cmd_pid" 2>/dev/null || true
        wait "$cmd_pid" 2>/dev/null || true
    fi
    exit "$code"
}

# Starts the server on a free port; sets server_pid and port, or returns 1.
start_server() {
    # Another process could take the port between picking and binding: try a few ports.
    for _ in 1 2 3; do
        port="$(free_port)"
        "$VENV/bin/secantusd-py" --host "$HOST" --port "$port" --storage-path "$data_dir/db" \
            >"$data_dir/server.log" 2>&1 </dev/null &
        server_pid=$!
        local deadline=$((SECONDS + READY_TIMEOUT_S))
        while ((SECONDS < deadline)) && kill -0 "$server_pid" 2>/dev/null; do
            if answers_hello "$port"; then
                return 0
            fi
            sleep 0.2
        done
        log "server on port $port did not answer within ${READY_TIMEOUT_S}s; its log:"
        tail -n 20 "$data_dir/server.log" >&2 || true
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
        rm -rf "$data_dir/db"
    done
    return 1
}

run() {
    [[ $# -gt 0 ]] || usage
    install_server

    trap cleanup EXIT
    trap 'on_signal 130 INT' INT
    trap 'on_signal 143 TERM' TERM
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/ottsonly-mongo.XXXXXX")"
    local port status
    if ! start_server; then
        log "giving up: no server came up"
        exit 1
    fi

    export OTTSONLY_TEST_MONGO_URI="mongodb://$HOST:$port/?replicaSet=secantus"
    log "SecantusDB $SECANTUS_VERSION (pid $server_pid) at $OTTSONLY_TEST_MONGO_URI"
    # In the background so that a signal to this script reaches the traps at once (bash runs a
    # trap only after a foreground command ends); stdin is passed on explicitly.
    "$@" <&0 &
    cmd_pid=$!
    set +e
    wait "$cmd_pid"
    status=$?
    set -e
    cmd_pid=""
    if ((status != 0)); then
        log "command exited with $status; the server's last log lines:"
        tail -n 30 "$data_dir/server.log" >&2 || true
    fi
    exit "$status"
}

case "${1:-}" in
    install)
        install_server
        ;;
    run)
        shift
        [[ "${1:-}" == "--" ]] && shift
        run "$@"
        ;;
    *)
        usage
        ;;
esac
