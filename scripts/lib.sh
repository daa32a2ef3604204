# Shell helpers shared by the scripts that start a throwaway server (sourced, not run).

# Prints a loopback TCP port that was free a moment ago.
free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Stops a process: SIGTERM, up to 5 s for a clean exit, then SIGKILL. Quiet if it is gone.
stop_pid() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Makes sure the venv $1 holds exactly version $3 of the Python package $2 with its executable
# $4, creating the venv and installing the pin otherwise; further arguments go to pip. Logs
# through the caller's `log`.
ensure_venv_package() {
    local venv=$1 package=$2 version=$3 exe=$4
    shift 4
    local installed=""
    if [[ -x "$venv/bin/$exe" ]]; then
        installed="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null || true)"
    fi
    [[ "$installed" == "$version" ]] && return 0
    log "installing $package $version into $venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" "$package==$version"
    [[ -x "$venv/bin/$exe" ]] || { log "$exe missing after install"; exit 1; }
}
