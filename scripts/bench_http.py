#!/usr/bin/env python3
"""HTTP load harness: the release server on a temp SQLite file against a bare poem baseline.

Run through scripts/bench-http.sh, which installs wrk and builds the binaries first. Prints one
Markdown table: route, req/s (median of the runs), p50, p99, ratio to bare poem, RSS after the
route. With --grow N the server is stopped, N orders are written in bulk through the store
(bench-grow), and the purchase and read routes are measured again on the grown database.

Every target is 127.0.0.1; every wait and every load run is bounded.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ADMIN_PHONE = "+919999900901"
USER_PHONE = "+919999900902"
CODE = "123456"
START_TIMEOUT_S = 60
HOT_STOCK = 1_000_000
ADJUST_MAX_PAISE = 10_000_000
HOT_PRICE_PAISE = 100


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        sys.exit(f"bench: {method} {url} answered {e.code}: {e.read().decode(errors='replace')}")


def wait_ready(url, proc):
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench: {url} exited with {proc.returncode} before answering")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"bench: {url} did not answer within {START_TIMEOUT_S} s")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


LAT_RE = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(args, url, lua=None, token=None):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency"]
    cmd += ["--timeout", "5s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    if lua:
        cmd += ["-s", lua]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: float(v) * UNIT_MS[u] for p, v, u in LAT_RE.findall(out)}
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = int(bad.group(1)) if bad else 0
    return rps, lat.get("50", float("nan")), lat.get("99", float("nan")), errors


def measure(args, name, url, pid, lua=None, token=None):
    runs = [wrk(args, url, lua, token) for _ in range(args.runs)]
    runs.sort(key=lambda r: r[0])
    rps, p50, p99, _ = runs[len(runs) // 2]
    errors = sum(r[3] for r in runs)
    rss = rss_mb(pid) if pid else float("nan")
    spread = f"{runs[0][0]:,.0f}–{runs[-1][0]:,.0f}"
    print(f"bench: {name}: {rps:,.0f} req/s (runs {spread}), p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"non-2xx {errors}", file=sys.stderr)
    return {"route": name, "rps": rps, "p50": p50, "p99": p99, "errors": errors, "rss": rss}


class Server:
    def __init__(self, args, work):
        self.args, self.work = args, work
        self.db = os.path.join(work, "bench.db")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTTSONLY_")}
        env.update({
            "OTTSONLY_DATABASE_URL": f"sqlite://{self.db}",
            "OTTSONLY_BIND": f"127.0.0.1:{self.port}",
            "OTTSONLY_ENV": "dev",
            "OTTSONLY_TEST_PHONES": f"{ADMIN_PHONE}:{CODE},{USER_PHONE}:{CODE}",
            "OTTSONLY_IP_RATE_LIMIT": "0",
            "OTTSONLY_LOG": self.args.log,
        })
        return env

    def cli(self, *argv):
        subprocess.run([self.args.server_bin, *argv], env=self.env(), cwd=self.work, check=True,
                       stdout=subprocess.DEVNULL, timeout=120)

    def start(self):
        self.proc = subprocess.Popen([self.args.server_bin, "serve"], env=self.env(), cwd=self.work,
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.work, "server.log"), "a"))
        wait_ready(self.base + "/health", self.proc)

    def stop(self):
        stop(self.proc)

    def login(self, phone):
        http("POST", self.base + "/auth/login", {"phone": phone})
        return http("POST", self.base + "/auth/verify", {"phone": phone, "otp": CODE})["access_token"]


def seed(srv):
    admin = srv.login(ADMIN_PHONE)
    user = srv.login(USER_PHONE)
    me = http("GET", srv.base + "/users/me", token=user)
    for i in range(19):
        http("POST", srv.base + "/products", {"platform_name": f"Platform {i}", "plan_name": "Premium",
                                              "description": "A plan of the benchmark catalog",
                                              "price_paise": 19_900 + i, "duration_days": 30, "stock": 10},
             token=admin)
    hot = http("POST", srv.base + "/products", {"platform_name": "Hot", "plan_name": "Plan", "price_paise": HOT_PRICE_PAISE,
                                                "duration_days": 30, "stock": HOT_STOCK}, token=admin)
    hot_id = hot["id"] if "id" in hot else hot["product"]["id"]
    # Enough for every unit of the hot product, in adjustments within the API's bound.
    for i in range(HOT_STOCK * HOT_PRICE_PAISE // ADJUST_MAX_PAISE):
        http("POST", srv.base + "/wallet/adjust", {"user_id": me["id"], "amount_paise": ADJUST_MAX_PAISE,
                                                    "direction": "credit", "reason": "benchmark funds",
                                                    "request_id": f"bench-funds-{i}"}, token=admin)
    return admin, user, hot_id


def order_script(work, product_id):
    path = os.path.join(work, "order.lua")
    with open(path, "w") as f:
        f.write('wrk.method = "POST"\n')
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.body = \'{{"product_id":"{product_id}"}}\'\n')
    return path


def round_of(args, srv, user, lua, label):
    pid = srv.proc.pid
    return [
        measure(args, f"GET /health{label}", srv.base + "/health", pid),
        measure(args, f"GET /products{label}", srv.base + "/products?limit=20", pid),
        measure(args, f"GET /users/me{label}", srv.base + "/users/me", pid, token=user),
        measure(args, f"POST /orders{label}", srv.base + "/orders", pid, lua=lua, token=user),
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-bin", required=True)
    p.add_argument("--baseline-bin", required=True)
    p.add_argument("--grow-bin", required=True)
    p.add_argument("--grow", type=int, default=0, help="orders to pre-fill before a second round")
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--log", default="warn", help="the server's OTTSONLY_LOG")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="ottsonly-bench-") as work:
        srv = Server(args, work)
        srv.cli("users", "set-role", "--phone", ADMIN_PHONE, "--role", "admin")
        srv.start()
        rows = []
        try:
            _, user, hot = seed(srv)
            health_body = urllib.request.urlopen(srv.base + "/health", timeout=5).read().decode()
            lua = order_script(work, hot)
            rows += round_of(args, srv, user, lua, "")
            if args.grow:
                srv.stop()
                started = time.monotonic()
                subprocess.run([args.grow_bin, srv.db, USER_PHONE, hot, str(args.grow)], check=True,
                               timeout=3600, stdout=subprocess.DEVNULL)
                print(f"bench: grew {args.grow:,} orders in {time.monotonic() - started:.0f} s", file=sys.stderr)
                srv.start()
                user = srv.login(USER_PHONE)
                rows += round_of(args, srv, user, lua, f" ({args.grow:,} orders)")
            final_rss = rss_mb(srv.proc.pid)
        finally:
            srv.stop()

        port = free_port()
        base = subprocess.Popen([args.baseline_bin, f"127.0.0.1:{port}", health_body],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(f"http://127.0.0.1:{port}/health", base)
            bare = measure(args, "bare poem GET /health", f"http://127.0.0.1:{port}/health", base.pid)
        finally:
            stop(base)

    print(f"\n{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s, median of {args.runs}, OTTSONLY_LOG={args.log}\n")
    print("| route | req/s | p50 ms | p99 ms | vs bare poem | non-2xx | RSS MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows + [bare]:
        ratio = "" if r["route"].startswith("POST") else f"{100 * r['rps'] / bare['rps']:.0f} %"
        print(f"| {r['route']} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {r['errors']} "
              f"| {r['rss']:.0f} |")
    print(f"\nserver RSS at the end: {final_rss:.0f} MB")


if __name__ == "__main__":
    main()
