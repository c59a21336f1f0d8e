#!/usr/bin/env python3
"""blog-api load benchmark: one command, everything measured side by side in one run.

    python3 bench/run.py [--duration 8] [--connections 64] [--quick] [--no-write]

Builds the release binary and the bench tools, installs wrk (apt) if missing, seeds stores of 1k,
100k and 1M posts, runs wrk against loopback servers it starts and stops itself, and prints a
table. Without --no-write it rewrites docs/benchmarks.md (the "Measured" section) with the
machine, date and commit. Bounded: every wrk run lasts --duration seconds; all servers listen
on 127.0.0.1 and are killed at the end. --quick skips the 1M-post store (about a minute to seed
and 20 s to load) and runs the memory measurements of issue 16 smaller.

Beside the throughput rows it measures the targets of issue 11 (reads beside a saturating
durable writer, read p99 while whole-store snapshots are written, durable vs ephemeral and
same-title vs distinct-title creates, load time and bytes per post), issue 13 (the RealWorld
adapter's GET /api/articles against GET /api/v1/posts?limit=20 on the same server and store) and
issue 16 (resident memory across 20,000 refreshes of one session; 10,000 sessions created, expired
and swept), and writes a "Targets" table saying which are met. It never asserts a target: it
reports.

Issue 12's PostgreSQL engine is measured in the same run, on the local PostgreSQL (127.0.0.1:5432,
user postgres, trust auth): for 1k and (without --quick) 1M posts, a fresh database `blog_bench`
(dropped again at the end), posts bulk-loaded by SQL, then a page of 20, an authenticated GET of
one post and authenticated creates, beside the embedded engine's same rows (--pg-pool-size sets
BLOG_DATABASE_POOL_SIZE, 16 by default). Where PostgreSQL does not answer (pg_isready), those
rows are skipped with a note.

Issue 16's expiry test logs in 10,000 times (1,000 with --quick) right after the argon2
measurement, with a refresh TTL just longer than those logins take, and reads the resident memory
after the sweep at the very end of the run, so that the wait for expiry overlaps the other rows.
"""
import argparse
from http.client import HTTPConnection, HTTPException  # (the name `http` is the helper below)
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = TARGET / "release" / "blog-api"
SEED = TARGET / "release" / "examples" / "seed"
BARE = TARGET / "release" / "examples" / "bare"
PASSWORD = "correct horse battery staple"
LIMITS = {  # the abuse limits would turn a load test into a 429 test
    "BLOG_AUTH_BURST": "100000000",
    "BLOG_AUTH_RATE_PER_MINUTE": "100000000",
    "BLOG_LOGIN_FAILURE_LIMIT": "100000000",
    "BLOG_LOGIN_ACCOUNT_FAILURES_PER_HOUR": "100000000",
    "BLOG_HASH_QUEUE": "100000",
}
# Info from the store (load time, compactions) and the sweeper only: at info everywhere the
# server would log a line per request.
LOG_STORE = "warn,blog_api::store=info,blog_api::startup=info"
COMPACT_MIN = 4096  # the smallest BLOG_JOURNAL_COMPACT_BYTES the config accepts


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read() or b"null")


class Server:
    """A blog-api (or bare) process on a free loopback port."""

    def __init__(self, argv, env=None, health="/health", log=None):
        self.port = free_port()
        self.log = log
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "BLOG_LISTEN": f"127.0.0.1:{self.port}", "BLOG_LOG": "warn", **LIMITS, **(env or {})}
        argv = [a.replace("{addr}", f"127.0.0.1:{self.port}") for a in argv]
        started = time.time()
        if log:
            with open(log, "ab") as sink:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(argv, env=full_env, stdout=sink, stderr=subprocess.STDOUT)
        else:
            self.proc = subprocess.Popen(argv, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                urllib.request.urlopen(self.base + health, timeout=1)
                break
            except Exception:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {self.proc.returncode}")
                if time.time() - started > 120:
                    raise RuntimeError("server did not start in 120 s")
                time.sleep(0.05)
        self.ready_seconds = time.time() - started

    def rss_kib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def log_text(self):
        return Path(self.log).read_text(errors="replace") if self.log and Path(self.log).exists() else ""

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wrk_args(url, seconds, connections, script=None, threads=2):
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    return args + [url]


def wrk(url, seconds, connections, script=None, env=None):
    out = subprocess.run(wrk_args(url, seconds, connections, script), check=True, capture_output=True, text=True,
                         env={**os.environ, **(env or {})}).stdout
    return parse_wrk(out)


def parse_wrk(out):
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(m.group(1)) if m else float("nan")

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": int(non2xx.group(1)) if non2xx else 0}


def background_wrk(url, seconds, connections, script=None, env=None):
    """wrk in the background (one thread); parse_wrk(proc.communicate()[0]) once it ends."""
    return subprocess.Popen(wrk_args(url, seconds, connections, script, threads=1), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env={**os.environ, **(env or {})})


class Client:
    """One keep-alive HTTP/1.1 connection, for request chains that wrk's scripts cannot express
    (a refresh token taken from the previous answer) or counted request totals."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, body=None, token=None, retry=True):
        # Bytes, so that http.client sends head and body in one write (a str body goes in a
        # second one, and Nagle's algorithm against delayed ACKs then costs 40 ms a request).
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if payload is not None else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = HTTPConnection("127.0.0.1", self.port, timeout=120)
                    self.conn.connect()
                    self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.conn.request(method, path, payload, headers)
                resp = self.conn.getresponse()
                data = resp.read()
            except (HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt or not retry:
                    raise
                continue
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            return resp.status, parsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def settle_rss(srv, seconds=1.0):
    """RSS after a short pause: the allocator (mimalloc) hands freed pages back after a delay."""
    time.sleep(seconds)
    return srv.rss_kib()


LUA = {
    "post": """
local n = 0
request = function()
  n = n + 1
  local body = '{"title":"bench ' .. n .. ' ' .. math.random(1e9) .. '","content":"Load test content.","tags":["bench"]}'
  return wrk.format("POST", "/api/v1/posts", {["content-type"]="application/json", ["authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
end
""",
    "post_same": """
request = function()
  return wrk.format("POST", "/api/v1/posts", {["content-type"]="application/json", ["authorization"]="Bearer " .. os.getenv("TOKEN")}, '{"title":"The same title every time","content":"Load test content.","tags":["bench"]}')
end
""",
    "patch": """
local n = 0
request = function()
  n = n + 1
  local body = '{"title":"edit ' .. n .. ' ' .. math.random(1e9) .. '"}'
  return wrk.format("PATCH", "/api/v1/posts/" .. os.getenv("POST_ID"), {["content-type"]="application/json", ["authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
end
""",
    "get_auth": """
request = function()
  return wrk.format("GET", os.getenv("PATH_TO"), {["authorization"]="Bearer " .. os.getenv("TOKEN")})
end
""",
    "get_token": """
request = function()
  return wrk.format("GET", os.getenv("PATH_TO"), {["authorization"]="Token " .. os.getenv("TOKEN")})
end
""",
    "login": """
request = function()
  return wrk.format("POST", "/api/v1/auth/login", {["content-type"]="application/json"}, '{"username":"author' .. math.random(0, 99) .. '","password":"correct horse battery staple"}')
end
""",
    "mixed": """
local n = 0
request = function()
  n = n + 1
  local r = math.random(100)
  local auth = {["content-type"]="application/json", ["authorization"]="Bearer " .. os.getenv("TOKEN")}
  if r <= 2 then
    return wrk.format("POST", "/api/v1/auth/login", {["content-type"]="application/json"}, '{"username":"author' .. math.random(0, 99) .. '","password":"correct horse battery staple"}')
  elseif r <= 10 then
    return wrk.format("POST", "/api/v1/posts", auth, '{"title":"mixed ' .. n .. ' ' .. math.random(1e9) .. '","content":"Mixed workload."}')
  elseif r <= 55 then
    return wrk.format("GET", "/api/v1/posts?limit=20")
  else
    return wrk.format("GET", "/api/v1/posts/" .. os.getenv("POST_ID"))
  end
end
""",
}


def logins(port, count, concurrency, username):
    """`count` logins of `username` from `concurrency` keep-alive connections; returns
    (successes, {status: count} of the others). Each one is a session and an argon2 hash."""
    local = threading.local()
    failures, lock = {}, threading.Lock()

    def one(_):
        if not hasattr(local, "client"):
            local.client = Client(port)
        try:
            status, _ = local.client.call("POST", "/api/v1/auth/login", {"username": username, "password": PASSWORD})
        except (HTTPException, OSError) as error:
            status = type(error).__name__
        if status != 200:
            with lock:
                failures[status] = failures.get(status, 0) + 1
        return status == 200

    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        ok = sum(pool.map(one, range(count)))
    return ok, failures


def sessions_begin(work, cores, argon_ms, count, warmup, servers):
    """Issue 16, part one: a disk-store server whose sessions expire `ttl` seconds after the
    login that made them and are swept every second; `warmup` logins (so that every hashing thread
    has had its 19 MiB), the RSS baseline, then `count` logins, each a new session of one account
    (the per-account cap is raised above the count, or the cap would end them instead of expiry).
    The TTL is the shortest the config allows (BLOG_REFRESH_TOKEN_TTL >= BLOG_ACCESS_TOKEN_TTL >=
    60 s), or longer when the logins take longer, so that every session is live at once before
    any expires. sessions_end() waits out the TTL and reads the RSS after the sweep."""
    estimate = count * argon_ms / 1000 / max(1, cores)
    ttl = max(60, int(estimate * 1.5) + 30)
    log = work / "sessions.log"
    srv = Server([str(BIN)], {
        "BLOG_DATA_DIR": str(work / "sessions"),
        "BLOG_ACCESS_TOKEN_TTL": "60",
        "BLOG_REFRESH_TOKEN_TTL": str(ttl),
        "BLOG_SWEEP_SECONDS": "1",
        "BLOG_HASH_CONCURRENCY": str(cores),
        "BLOG_SESSIONS_PER_ACCOUNT": str(count + warmup + 100),
        "BLOG_LOG": LOG_STORE,
    }, log=log)
    servers.append(srv)
    http("POST", srv.base + "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
    concurrency = 2 * cores  # keeps every hashing thread busy
    warm_ok, _ = logins(srv.port, warmup, concurrency, "bench")
    baseline = settle_rss(srv, 2)
    started = time.time()
    ok, failures = logins(srv.port, count, concurrency, "bench")
    finished = time.time()
    peak = settle_rss(srv, 0.5)
    state = {"srv": srv, "ttl": ttl, "count": count, "created": ok, "failures": failures,
             "sessions": 1 + warm_ok + ok, "baseline": baseline, "peak": peak,
             "seconds": finished - started, "expires": finished + ttl}
    print(f"sessions: {ok} of {count} logins in {finished - started:.1f} s (TTL {ttl} s), RSS {baseline} KiB -> {peak} KiB; "
          f"expiry read at the end of the run", flush=True)
    return state


def sessions_end(state, notes):
    """Issue 16, part two: once the last session's refresh token expired and the sweeper logged
    as many sessions swept as were made, the RSS against the baseline."""
    srv = state["srv"]

    def swept():
        return sum(int(m) for m in re.findall(r"swept expired entries.*?\bsessions=(\d+)", srv.log_text()))

    deadline = state["expires"] + 2  # the last session's expiry, plus a sweep (every second)
    waited = time.time()
    while time.time() < deadline + 30 and srv.proc.poll() is None:
        if time.time() >= deadline and swept() >= state["sessions"]:
            break
        time.sleep(0.5)
    notes["sessions_waited_s"] = time.time() - waited
    notes["sessions_swept"] = swept()
    if srv.proc.poll() is not None:
        notes["sessions_error"] = f"the server exited with {srv.proc.returncode} before the sweep"
        return
    after = settle_rss(srv, 2)
    notes.update({
        "sessions_count": state["count"], "sessions_created": state["created"], "sessions_made": state["sessions"],
        "sessions_failures": state["failures"], "sessions_ttl_s": state["ttl"], "sessions_login_s": state["seconds"],
        "sessions_rss_base_kib": state["baseline"], "sessions_rss_peak_kib": state["peak"], "sessions_rss_after_kib": after,
    })
    print(f"sessions: {notes['sessions_swept']} swept; RSS baseline {state['baseline']} KiB, after {state['count']} sessions "
          f"{state['peak']} KiB, after the sweep {after} KiB ({(after / state['baseline'] - 1) * 100:+.1f}%)", flush=True)
    srv.stop()


def refresh_chain(servers, warmup, count, notes, row):
    """Issue 16: RSS across `count` refreshes of one session, after `warmup` refreshes (memory
    store: each refresh waits for the previous answer's token, so on the disk store the chain would
    measure fdatasync latency, about 10 ms each here, not memory). One keep-alive connection."""
    srv = Server([str(BIN)], {"BLOG_STORAGE": "memory"})
    servers.append(srv)
    client = Client(srv.port)
    status, body = client.call("POST", "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
    token = body["refresh_token"]
    latencies, broken = [], None

    def chain(n):
        nonlocal token, broken
        for _ in range(n):
            started = time.perf_counter()
            status, body = client.call("POST", "/api/v1/auth/refresh", {"refresh_token": token}, retry=False)
            latencies.append((time.perf_counter() - started) * 1000)
            if status != 200 or not body or "refresh_token" not in body:
                broken = f"refresh {len(latencies)} answered {status}"
                return
            token = body["refresh_token"]

    chain(warmup)
    before = settle_rss(srv)
    latencies.clear()
    started = time.perf_counter()
    if broken is None:
        chain(count)
    elapsed = time.perf_counter() - started
    after = settle_rss(srv)
    client.close()
    srv.stop()
    done = len(latencies) - (1 if broken else 0)
    notes.update({"refresh_warmup": warmup, "refresh_count": count, "refresh_done": done,
                  "refresh_rss_before_kib": before, "refresh_rss_after_kib": after})
    if broken:
        notes["refresh_error"] = broken
    row(f"POST /api/v1/auth/refresh, one session, {count:,} chained (1 keep-alive Python client, memory store)",
        {"rps": done / elapsed if elapsed else float("nan"), "p50": percentile(latencies, 50),
         "p99": percentile(latencies, 99), "errors": 1 if broken else 0})
    print(f"refresh: RSS {before} KiB after {warmup:,} warm-up refreshes, {after} KiB after {done:,} more "
          f"({after - before:+d} KiB)", flush=True)


def compaction_reads(srv, data_dir, n, seconds, notes, row):
    """Issue 11: page reads (8 connections) on the `n`-post store, idle, then while a writer keeps
    the journal past BLOG_JOURNAL_COMPACT_BYTES (the minimum, set when `srv` started) so that
    snapshots of the whole store are written back to back. A light writer (one connection, a
    pause between creates) so that the figure is the snapshot's cost, not the writer's; whether a
    snapshot is under way is seen from `journal.old`, which exists exactly while one is written."""
    label = f"{n // 1000}k posts"
    idle = wrk(srv.base + "/api/v1/posts?limit=20", seconds, 8)
    row(f"GET a page, 8 connections, {label}, idle", idle)
    token = http("POST", srv.base + "/api/v1/auth/login", {"username": "author3", "password": PASSWORD})["access_token"]
    stop, written, failed = threading.Event(), [0], [0]

    def writer():
        client = Client(srv.port)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                status, _ = client.call("POST", "/api/v1/posts", {"title": f"during a snapshot {i}", "content": "Written while the store is compacted."}, token)
            except (HTTPException, OSError):
                status = None
            if status == 201:
                written[0] += 1
            else:
                failed[0] += 1
            time.sleep(0.005)
        client.close()

    sealed = data_dir / "journal.old"
    samples = [0, 0]

    def sampler(until):
        while not until.is_set():
            samples[0] += 1
            samples[1] += sealed.exists()
            time.sleep(0.01)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    began = time.time()
    while not sealed.exists() and time.time() - began < 30:
        time.sleep(0.01)
    notes["compact_first_after_s"] = time.time() - began if sealed.exists() else None
    compacted = lambda: [int(m) for m in re.findall(r"journal compacted into a snapshot.*?\belapsed_ms=(\d+)", srv.log_text())]
    before = len(compacted())
    measuring = threading.Event()
    watch = threading.Thread(target=sampler, args=(measuring,), daemon=True)
    writes_before = written[0]
    watch.start()
    window = time.time()
    during = wrk(srv.base + "/api/v1/posts?limit=20", seconds, 8)
    window = time.time() - window
    measuring.set()
    watch.join()
    writes = written[0] - writes_before
    stop.set()
    thread.join(timeout=30)
    done = compacted()
    row(f"GET a page, 8 connections, {label}, while snapshots of the store are written", during, idle)
    notes.update({
        "compact_posts": n, "compact_p99_ratio": during["p99"] / idle["p99"] if idle["p99"] else float("nan"),
        "compact_done": len(done) - before, "compact_ms": done[before:] or done[-1:],
        "compact_coverage": samples[1] / samples[0] if samples[0] else 0.0,
        "compact_writes_per_s": writes / window if window else 0.0, "compact_write_failures": failed[0],
    })
    print(f"compaction: {notes['compact_done']} snapshots finished in the window, one under way "
          f"{notes['compact_coverage'] * 100:.0f}% of it, snapshot ms {notes['compact_ms']}, writer {notes['compact_writes_per_s']:.0f}/s",
          flush=True)


RW_PAGE = "/api/articles?limit=20"
V1_PAGE = "/api/v1/posts?limit=20"


def realworld_pages(srv, scripts, d, c, rounds, notes, row):
    """Issue 13: the RealWorld adapter's article list against the native page read it adapts,
    on the same server and store (1k posts): GET /api/articles?limit=20 and
    GET /api/v1/posts?limit=20, each anonymous and with a token of the same account (author1;
    `Token <jwt>` from POST /api/users/login, `Bearer <jwt>` from POST /api/v1/auth/login), the four
    measured in alternation, median of `rounds`, so that drift in the machine's speed during the
    run does not pass for the adapter's cost."""
    credentials = {"email": "author1@example.com", "password": PASSWORD}
    try:
        rw_token = http("POST", srv.base + "/api/users/login", {"user": credentials})["user"]["token"]
        # The token must be accepted and the page full, or the rows would measure 401s or less work.
        req = urllib.request.Request(srv.base + RW_PAGE, headers={"authorization": f"Token {rw_token}"})
        with urllib.request.urlopen(req) as resp:
            articles = len(json.loads(resp.read())["articles"])
    except (urllib.error.URLError, KeyError, TypeError, ValueError) as error:
        notes["realworld_error"] = f"/api not served as expected: {error}"
        print(f"realworld: {notes['realworld_error']}; its rows skipped", flush=True)
        return
    v1_token = http("POST", srv.base + "/api/v1/auth/login", {"username": "author1", "password": PASSWORD})["access_token"]
    workloads = {
        "v1": (srv.base + V1_PAGE, None, {}),
        "v1_token": (srv.base, scripts["get_auth"], {"TOKEN": v1_token, "PATH_TO": V1_PAGE}),
        "rw": (srv.base + RW_PAGE, None, {}),
        "rw_token": (srv.base, scripts["get_token"], {"TOKEN": rw_token, "PATH_TO": RW_PAGE}),
    }
    seconds = d if rounds == 1 else max(2, d // 2)
    samples = {name: [] for name in workloads}
    for _ in range(rounds):
        for name, (url, script, env) in workloads.items():
            samples[name].append(wrk(url, seconds, c, script, env))
    median = {name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2] for name, runs in samples.items()}
    row("(c) GET /api/v1/posts?limit=20 (1k posts), anonymous", median["v1"])
    row("(c) GET /api/v1/posts?limit=20 (1k posts), Authorization: Bearer", median["v1_token"])
    row("(c) GET /api/articles?limit=20 (1k posts), anonymous, vs /api/v1", median["rw"], median["v1"])
    row("(c) GET /api/articles?limit=20 (1k posts), Authorization: Token, vs /api/v1 Bearer",
        median["rw_token"], median["v1_token"])
    notes.update({"realworld_rounds": rounds, "realworld_seconds": seconds, "realworld_articles": articles})


# Issue 12: the PostgreSQL engine, on the local server (trust auth, user postgres). Its bench
# database is dropped and made anew for each store size, and dropped at the end.
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"
PG_DB = "blog_bench"
PG_JWT_SECRET = "bench-only-secret-for-the-postgres-engine-rows"  # BLOG_JWT_SECRET: >= 32 bytes
SEED_WORDS = ["rust", "actix", "server", "latency", "journal", "snapshot", "blog", "token", "argon2",
              "index", "cursor", "page", "memory", "store", "thread", "async", "tracing", "request",
              "response", "tests"]  # bench/seed.rs's WORDS: the same titles, contents and tags


def psql(db, sql):
    """Runs `sql` (a script: statements outside BEGIN/COMMIT each commit alone) on database `db`;
    returns what it printed, unaligned, one row a line."""
    return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", PG_HOST, "-p", PG_PORT,
                           "-U", PG_USER, "-d", db, "-f", "-"], input=sql, text=True, capture_output=True,
                          check=True).stdout.strip()


def pg_unreachable():
    """Why the PostgreSQL rows cannot run here, or None when they can."""
    missing = [tool for tool in ("pg_isready", "psql") if not shutil.which(tool)]
    if missing:
        return f"{' and '.join(missing)} not installed"
    try:
        ready = subprocess.run(["pg_isready", "-h", PG_HOST, "-p", PG_PORT, "-t", "3"], capture_output=True, text=True)
    except OSError as error:
        return f"pg_isready failed: {error}"
    if ready.returncode != 0:
        return f"PostgreSQL not accepting connections on {PG_HOST}:{PG_PORT} (pg_isready: {(ready.stdout or ready.stderr).strip()})"
    try:
        psql("postgres", "SELECT 1")
    except subprocess.CalledProcessError as error:
        return f"cannot connect as {PG_USER} without a password: {error.stderr.strip()}"
    return None


def pg_bulk_sql(n, author):
    """`n` published posts by `author`, as bench/seed.rs writes them (the same 20 titles and
    contents of 150 words, titles numbered, two tags), published a minute apart up to a minute
    ago (milliseconds, as the store writes times), each with its `post_tags` rows. No
    `post_words`: search is not measured on PostgreSQL."""
    words = "ARRAY[" + ", ".join(f"'{w}'" for w in SEED_WORDS) + "]"
    k = len(SEED_WORDS)
    return f"""
SET synchronous_commit = off;
BEGIN;
CREATE TEMP TABLE bench_texts ON COMMIT DROP AS
  SELECT k,
         array_to_string(ARRAY(SELECT w[(k * 7 + j * 13) % {k} + 1] FROM generate_series(0, 4) j ORDER BY j), ' ') AS title,
         array_to_string(ARRAY(SELECT w[(k * 7 + j * 13) % {k} + 1] FROM generate_series(0, 149) j ORDER BY j), ' ') AS content
  FROM generate_series(0, {k - 1}) k, (SELECT {words} AS w) words;
INSERT INTO posts (id, author, slug, title, description, content, tags, status, published_at, created_at, updated_at, version)
SELECT gen_random_uuid(), '{author}'::uuid, replace(t.title, ' ', '-') || '-' || i, t.title || ' ' || i, NULL, t.content,
       CASE WHEN w[i % {k} + 1] = w[(i / 3) % {k} + 1] THEN ARRAY[w[i % {k} + 1]]
            ELSE ARRAY[w[i % {k} + 1], w[(i / 3) % {k} + 1]] END,
       'published', at, at, at, 1
FROM generate_series(0, {n - 1}) i
  CROSS JOIN LATERAL (SELECT date_trunc('milliseconds', now() - make_interval(mins => {n} - i)) AS at) ts
  JOIN bench_texts t ON t.k = i % {k}
  CROSS JOIN (SELECT {words} AS w) words;
INSERT INTO post_tags (tag, published_at, post) SELECT unnest(tags), published_at, id FROM posts WHERE status = 'published';
COMMIT;
VACUUM (ANALYZE) posts, post_tags;
"""


def pg_drop():
    psql("postgres", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def postgres_rows(work, sizes, pool_size, scripts, d, c, embedded, notes, row, servers):
    """Issue 12: the PostgreSQL engine, for each store size on a fresh database: a server on it
    (pool of `pool_size`), an author signed up through the API, `n` posts bulk-loaded by SQL,
    then a page of 20, an authenticated GET of one post, (at the first size) GET /users/me, and
    authenticated creates last (they add posts). `embedded` holds the embedded engine's rows to
    compare with: {"page": r, "get": {n: r}, "me": r, "create": r}."""
    pg = notes["pg"] = {"pool": pool_size, "sizes": {}}
    srv = None
    try:
        info = psql("postgres", "SELECT current_setting('server_version'), current_setting('fsync'), "
                                "current_setting('synchronous_commit'), current_setting('shared_buffers')").split("|")
        pg.update({"version": info[0], "fsync": info[1], "synchronous_commit": info[2], "shared_buffers": info[3]})
        for n in sizes:
            label = f"{size_label(n)} posts"
            pg_drop()
            psql("postgres", f"CREATE DATABASE {PG_DB}")
            srv = Server([str(BIN)], {
                "BLOG_DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}",
                "BLOG_DATABASE_POOL_SIZE": str(pool_size),
                "BLOG_JWT_SECRET": PG_JWT_SECRET,
                "BLOG_DATA_DIR": str(work / f"pg-unused-{n}"),
            }, log=work / f"pg{n}.log")
            servers.append(srv)
            http("POST", srv.base + "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
            author = psql(PG_DB, "SELECT id FROM users WHERE username = 'bench'")
            started = time.time()
            psql(PG_DB, pg_bulk_sql(n, author))
            loaded = time.time() - started
            db_bytes = int(psql("postgres", f"SELECT pg_database_size('{PG_DB}')"))
            print(f"postgres: {n:,} posts bulk-loaded in {loaded:.1f} s, database {db_bytes / 2**20:.0f} MiB", flush=True)
            # A token taken after the load, so that it outlives the rows (access tokens last 15 min).
            token = http("POST", srv.base + "/api/v1/auth/login", {"username": "bench", "password": PASSWORD})["access_token"]
            post_id = http("GET", srv.base + "/api/v1/posts?limit=1")["data"][0]["id"]
            env = {"TOKEN": token, "POST_ID": post_id}
            first = n == sizes[0]
            result = {"load_s": loaded, "db_bytes": db_bytes}

            page = wrk(srv.base + V1_PAGE, d, c)
            if first:
                row(f"PostgreSQL: GET a page of 20 posts ({label}), vs embedded", page, embedded.get("page"))
            else:
                row(f"PostgreSQL: GET a page of 20 posts ({label}), vs PostgreSQL at {sizes[0] // 1000}k", page,
                    pg["sizes"][sizes[0]]["page"])
            get = wrk(srv.base, d, c, scripts["get_auth"], {**env, "PATH_TO": f"/api/v1/posts/{post_id}"})
            row(f"PostgreSQL: authenticated GET one post ({label}), vs embedded", get, embedded["get"].get(n))
            # What a RealWorld front page asks for besides its page: the tags in use, and the
            # page with its articlesCount (both counts are read-cached since session 6).
            tags = wrk(srv.base + "/api/tags", d, c)
            rw = wrk(srv.base + RW_PAGE, d, c)
            if first:
                row(f"PostgreSQL: GET /api/tags ({label})", tags)
                row(f"PostgreSQL: GET /api/articles?limit=20, with articlesCount ({label}), vs its /api/v1 page",
                    rw, page)
            else:
                row(f"PostgreSQL: GET /api/tags ({label}), vs PostgreSQL at {sizes[0] // 1000}k", tags,
                    pg["sizes"][sizes[0]]["tags"])
                row(f"PostgreSQL: GET /api/articles?limit=20, with articlesCount ({label}), vs PostgreSQL at "
                    f"{sizes[0] // 1000}k", rw, pg["sizes"][sizes[0]]["rw"])
            result.update({"tags": tags, "rw": rw})
            if first:
                me = wrk(srv.base, d, c, scripts["get_auth"], {**env, "PATH_TO": "/api/v1/users/me"})
                row("PostgreSQL: authenticated GET /api/v1/users/me (JWT + session query), vs embedded", me, embedded.get("me"))
            create = wrk(srv.base, d, c, scripts["post"], {"TOKEN": token})
            row(f"PostgreSQL: authenticated POST /api/v1/posts ({label} before), vs embedded disk store", create,
                embedded.get("create"))
            result.update({"page": page, "get": get, "create": create, "get_embedded": embedded["get"].get(n)})
            pg["sizes"][n] = result
            srv.stop()
            if first:
                # The same GET with the read cache off: what a request costs when it is a miss
                # (two round trips: the session check, then the post).
                srv = Server([str(BIN)], {
                    "BLOG_DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}",
                    "BLOG_DATABASE_POOL_SIZE": str(pool_size),
                    "BLOG_DATABASE_CACHE_ENTRIES": "0",
                    "BLOG_JWT_SECRET": PG_JWT_SECRET,
                    "BLOG_DATA_DIR": str(work / f"pg-unused-{n}"),
                }, log=work / f"pg{n}-nocache.log")
                servers.append(srv)
                uncached = wrk(srv.base, d, c, scripts["get_auth"], {**env, "PATH_TO": f"/api/v1/posts/{post_id}"})
                row(f"PostgreSQL: authenticated GET one post ({label}), read cache off, vs embedded", uncached,
                    embedded["get"].get(n))
                result["get_uncached"] = uncached
                srv.stop()
    except (subprocess.CalledProcessError, RuntimeError, OSError, KeyError, IndexError, ValueError, TypeError) as error:
        detail = error.stderr.strip() if isinstance(error, subprocess.CalledProcessError) and error.stderr else ""
        pg["error"] = f"{type(error).__name__}: {error}" + (f" ({detail})" if detail else "")
        print(f"postgres: stopped: {pg['error']}", file=sys.stderr, flush=True)
    finally:
        if srv is not None and srv.proc.poll() is None:
            srv.stop()
        try:
            pg_drop()
        except (subprocess.CalledProcessError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--pg-pool-size", type=int, default=16,
                    help="BLOG_DATABASE_POOL_SIZE of the PostgreSQL rows (the server's default: 16)")
    opts = ap.parse_args()
    d, c = opts.duration, opts.connections

    sh("cargo", "build", "--release", "--bin", "blog-api", "--example", "seed", "--example", "bare", cwd=ROOT)
    if not shutil.which("wrk"):
        sh("apt-get", "update", "-qq")
        sh("apt-get", "install", "-y", "-qq", "wrk", env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})

    work = Path(tempfile.mkdtemp(prefix="blog-bench-"))
    scripts = {}
    for name, body in LUA.items():
        scripts[name] = str(work / f"{name}.lua")
        Path(scripts[name]).write_text(body)
    rows, notes, servers = [], {}, []

    def row(name, result, baseline=None):
        ratio = f"{result['rps'] / baseline['rps'] * 100:.0f}%" if baseline and baseline["rps"] else ""
        rows.append((name, result, ratio))
        print(f"{name:55s} {result['rps']:>10.0f}/s  p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms  {ratio} errors={result['errors']}", flush=True)

    try:
        cores = os.cpu_count() or 1
        argon = json.loads(subprocess.check_output([str(SEED), "argon2", "20"]))
        notes["argon2_ms"] = argon["ms_per_hash"]
        notes["cores"] = cores
        notes["quick"] = opts.quick

        # Issue 16: sessions created, then expired and swept. The logins run now, alone on the
        # machine; the wait for their expiry overlaps the rest of the run (sessions_end at the end).
        sessions = sessions_begin(work, cores, notes["argon2_ms"], 1_000 if opts.quick else 10_000,
                                  20 if opts.quick else 50, servers)

        sizes = [1_000, 100_000] + ([] if opts.quick else [1_000_000])
        seeded = {}
        for n in sizes:
            out = json.loads(subprocess.check_output([str(SEED), "seed", str(work / f"seed{n}"), str(n)]))
            seeded[n] = out
            notes[f"seed_{n}_text_bytes"] = out["text_bytes_per_post"]

        # Empty server: the memory baseline.
        empty = Server([str(BIN)], {"BLOG_STORAGE": "memory"})
        servers.append(empty)
        notes["rss_empty_kib"] = empty.rss_kib()
        empty.stop()

        # 1k posts on disk: the main read figures.
        small = Server([str(BIN)], {"BLOG_DATA_DIR": str(work / "seed1000")})
        servers.append(small)
        token = http("POST", small.base + "/api/v1/auth/login", {"username": "author1", "password": PASSWORD})["access_token"]
        post_id = http("GET", small.base + "/api/v1/posts?limit=1")["data"][0]["id"]
        body = urllib.request.urlopen(f"{small.base}/api/v1/posts/{post_id}").read()
        (work / "post.json").write_bytes(body)

        bare = Server([str(BARE), "{addr}", str(work / "post.json"), str(cores)], health="/bare")
        servers.append(bare)
        base = wrk(bare.base + "/bare", d, c)
        row("(a) bare actix-web handler, same bytes as GET one post", base)
        bare.stop()

        env = {"TOKEN": token, "POST_ID": post_id}
        page_1k = wrk(small.base + "/api/v1/posts?limit=20", d, c)
        row("GET a page of 20 posts (1k posts)", page_1k, base)
        row("GET one post (public)", wrk(f"{small.base}/api/v1/posts/{post_id}", d, c), base)
        me_1k = wrk(small.base, d, c, scripts["get_auth"], {**env, "PATH_TO": "/api/v1/users/me"})
        row("authenticated GET /api/v1/users/me (JWT + session check)", me_1k, base)
        get_1k = wrk(small.base, d, c, scripts["get_auth"], {**env, "PATH_TO": f"/api/v1/posts/{post_id}"})
        row("authenticated GET one post (token sent, ignored: public route)", get_1k, base)
        embedded = {"page": page_1k, "me": me_1k, "get": {1_000: get_1k}}  # issue 12 compares with these
        idle_read = wrk(small.base + "/api/v1/posts?limit=20", d, 8)
        row("GET a page, 8 connections, idle server", idle_read)
        # Issue 13: the RealWorld adapter against the page read it adapts, on this server and store.
        realworld_pages(small, scripts, d, c, 1 if opts.quick else 3, notes, row)
        small.stop()

        # Store size: a page read must not slow down as the store grows. The sizes are served
        # at once and measured in alternation, median of three, so that drift in the machine's
        # speed during the run does not pass for an effect of size.
        # The largest store compacts at the smallest journal size allowed: nothing writes to it
        # until compaction_reads() below, which then makes every few creates a whole-store snapshot.
        by_size = {}
        for n in sizes:
            extra = {"BLOG_DATA_DIR": str(work / f"seed{n}"), "BLOG_LOG": LOG_STORE}
            if n == sizes[-1]:
                extra["BLOG_JOURNAL_COMPACT_BYTES"] = str(COMPACT_MIN)
            srv = Server([str(BIN)], extra, log=work / f"server{n}.log")
            servers.append(srv)
            by_size[n] = srv
            if n > sizes[0]:
                notes[f"load_{n}_s"] = srv.ready_seconds
                notes[f"rss_{n}_kib"] = srv.rss_kib()
                loaded = re.search(r"store loaded.*?\belapsed_ms=(\d+)", srv.log_text())
                if loaded:
                    notes[f"store_load_{n}_ms"] = int(loaded.group(1))
        samples = {n: [] for n in sizes}
        for _ in range(3):
            for n, srv in by_size.items():
                samples[n].append(wrk(srv.base + "/api/v1/posts?limit=20", max(2, d // 2), c))
        median = {n: sorted(runs, key=lambda r: r["rps"])[1] for n, runs in samples.items()}
        for n in sizes:
            label = f"{n // 1000}k posts"
            row(f"(b) GET a page of 20 posts ({label}), median of 3 alternating runs", median[n],
                None if n == sizes[0] else median[sizes[0]])
        # Issue 14: a one-word search against a plain page read, both at 100k posts.
        if 100_000 in by_size:
            srv = by_size[100_000]
            plain = wrk(srv.base + "/api/v1/posts?limit=20", d, c)
            row("GET a page of 20 posts (100k posts), beside the search", plain)
            row("GET ?q=rust, one-word search, page of 20 (100k posts)",
                wrk(srv.base + "/api/v1/posts?q=rust&limit=20", d, c), plain)
            row("GET ?q=rust+server, two-word search, page of 20 (100k posts)",
                wrk(srv.base + "/api/v1/posts?q=rust+server&limit=20", d, c), plain)
        for n, srv in by_size.items():
            if n != sizes[-1]:
                srv.stop()

        # Issue 12: the embedded engine's authenticated GET of one post at 1M posts, beside which
        # the PostgreSQL engine's is put (before the snapshots below, so on an idle store).
        if 1_000_000 in by_size:
            srv = by_size[1_000_000]
            tok = http("POST", srv.base + "/api/v1/auth/login", {"username": "author1", "password": PASSWORD})["access_token"]
            pid = http("GET", srv.base + "/api/v1/posts?limit=1")["data"][0]["id"]
            embedded["get"][1_000_000] = wrk(srv.base, d, c, scripts["get_auth"], {"TOKEN": tok, "PATH_TO": f"/api/v1/posts/{pid}"})
            row("authenticated GET one post (1M posts, disk store)", embedded["get"][1_000_000], base)

        # Issue 11: read p99 while snapshots of the largest store are written, against idle.
        compaction_reads(by_size[sizes[-1]], work / f"seed{sizes[-1]}", sizes[-1], d, notes, row)
        by_size[sizes[-1]].stop()

        # Writes: ephemeral vs durable (group commit).
        creates = {}
        for storage, env_extra in [("memory", {"BLOG_STORAGE": "memory"}), ("disk", {"BLOG_DATA_DIR": str(work / "durable")})]:
            srv = Server([str(BIN)], env_extra)
            servers.append(srv)
            signup = http("POST", srv.base + "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
            tok = signup["access_token"]
            pid = http("POST", srv.base + "/api/v1/posts", {"title": "to patch", "content": "x"}, tok)["id"]
            creates[storage] = wrk(srv.base, d, c, scripts["post"], {"TOKEN": tok})
            row(f"authenticated POST /api/v1/posts ({storage} store)", creates[storage], base)
            row(f"authenticated PATCH /api/v1/posts/{{id}} ({storage} store)", wrk(srv.base, d, c, scripts["patch"], {"TOKEN": tok, "POST_ID": pid}), base)
            if storage == "disk":
                # Issue 11: GET one post alone, then beside a writer saturating durable creates
                # (wrk, POST script, enough connections that a flush always has a batch waiting),
                # on the same server and store (the creates and patches above in it).
                read_id = http("POST", srv.base + "/api/v1/posts", {"title": "read beside the writer", "content": "Read while posts are created. " * 35}, tok)["id"]
                url = f"{srv.base}/api/v1/posts/{read_id}"
                alone = wrk(url, d, c)
                row("GET one post alone (disk store, after the writes above)", alone, base)
                writers = max(16, c // 2)
                writer = background_wrk(srv.base, d + 2, writers, scripts["post"], {"TOKEN": tok})
                time.sleep(1)
                beside = wrk(url, d, c)
                wrote = parse_wrk(writer.communicate()[0])
                row("GET one post beside a writer saturating durable creates (vs alone)", beside, alone)
                row(f"  the writer: durable POST /api/v1/posts, {writers} connections, 1 wrk thread", wrote)
                notes["beside_writers"] = writers
            srv.stop()

        # Issue 11: creates that all share one title against the distinct titles above (memory
        # store, each from an empty store).
        srv = Server([str(BIN)], {"BLOG_STORAGE": "memory"})
        servers.append(srv)
        tok = http("POST", srv.base + "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})["access_token"]
        row("authenticated POST, every post the same title (memory store, vs distinct)",
            wrk(srv.base, d, c, scripts["post_same"], {"TOKEN": tok}), creates["memory"])
        srv.stop()

        # Logins: the argon2 ceiling, with the hash cap at all cores and at its default.
        for cap, label in [(str(cores), f"cap {cores} = all cores"), (None, "default cap: half the cores")]:
            extra = {"BLOG_DATA_DIR": str(work / "seed1000")}
            if cap:
                extra["BLOG_HASH_CONCURRENCY"] = cap
            srv = Server([str(BIN)], extra)
            servers.append(srv)
            row(f"login ({label})", wrk(srv.base, d, 16, scripts["login"]))
            if cap is None:
                # Reads while a login storm saturates the hash pool.
                storm = subprocess.Popen(["wrk", "-t1", "-c32", f"-d{d + 2}s", "-s", scripts["login"], srv.base],
                                         stdout=subprocess.DEVNULL, env=os.environ)
                time.sleep(1)
                during = wrk(srv.base + "/api/v1/posts?limit=20", d, 8)
                storm.wait()
                row("GET a page, 8 connections, during a login storm", during)
                notes["storm_p99_ratio"] = during["p99"] / idle_read["p99"]
                tok = http("POST", srv.base + "/api/v1/auth/login", {"username": "author2", "password": PASSWORD})["access_token"]
                pid = http("GET", srv.base + "/api/v1/posts?limit=1")["data"][0]["id"]
                row("mixed: 90% reads, 8% creates, 2% logins (disk store)", wrk(srv.base, d, c, scripts["mixed"], {"TOKEN": tok, "POST_ID": pid}), base)
            srv.stop()

        # Issue 12: the PostgreSQL engine, at 1k and (without --quick) 1M posts, beside the
        # embedded engine's rows above; skipped with a note where no PostgreSQL answers.
        embedded["create"] = creates["disk"]
        unreachable = pg_unreachable()
        if unreachable:
            notes["pg_skipped"] = unreachable
            print(f"postgres: rows skipped: {unreachable}", flush=True)
        else:
            postgres_rows(work, [1_000] + ([] if opts.quick else [1_000_000]), opts.pg_pool_size, scripts, d, c,
                          embedded, notes, row, servers)

        # Issue 16: resident memory across refreshes of one session.
        if opts.quick:
            refresh_chain(servers, 500, 5_000, notes, row)
        else:
            refresh_chain(servers, 1_000, 20_000, notes, row)

        # Issue 16: the sessions made at the start have expired by now (or soon): RSS after the sweep.
        sessions_end(sessions, notes)
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.stop()
        shutil.rmtree(work, ignore_errors=True)

    report = render(rows, notes, d, c)
    print(report)
    if not opts.no_write:
        write_doc(report)


def find(rows, prefix):
    return next(r for name, r, _ in rows if name.startswith(prefix))


def find_opt(rows, prefix):
    return next((r for name, r, _ in rows if name.startswith(prefix)), None)


def size_label(n):
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def kib(value):
    return f"{value / 1024:.1f} MiB"


def render(rows, notes, d, c):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit `{commit}`, {notes['cores']} cores ({cpu}), "
        f"{platform.system()} {platform.release()}. wrk, 2 threads, {c} connections, {d} s per row unless noted; loopback."
        + (" `--quick`: no 1M-post store, issue 16's counts smaller." if notes.get("quick") else ""),
        "",
        "| workload | requests/s | p50 ms | p99 ms | vs baseline | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r, ratio in rows:
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {r['errors']} |")
    base = find(rows, "(a)")
    auth_get = find(rows, "authenticated GET /api/v1/users/me")
    post_mem = find(rows, "authenticated POST /api/v1/posts (memory")
    post_disk = find(rows, "authenticated POST /api/v1/posts (disk")
    login_all = find(rows, "login (cap")
    ceiling = notes["cores"] / (notes["argon2_ms"] / 1000)
    lines += ["", f"argon2id (m=19456 KiB, t=2, p=1): {notes['argon2_ms']:.1f} ms per hash on one core; "
              f"ceiling {ceiling:.0f} logins/s on {notes['cores']} cores.", ""]

    # Targets: (issue, target, measured, met). met is None where this run cannot say (--quick
    # runs smaller stores and counts than the target names).
    targets = []

    def target(issue, name, measured, met):
        targets.append((issue, name, measured, "n/a" if met is None else "yes" if met else "no"))

    def pct(value):
        return f"{value * 100:.0f}%"

    target("", "authenticated GET >= 70% of bare", pct(auth_get["rps"] / base["rps"]), auth_get["rps"] / base["rps"] >= 0.7)
    target("", "authenticated POST (ephemeral) >= 50% of bare", pct(post_mem["rps"] / base["rps"]), post_mem["rps"] / base["rps"] >= 0.5)
    target("", "logins/s >= 80% of cores / argon2 time", pct(login_all["rps"] / ceiling), login_all["rps"] / ceiling >= 0.8)
    big = [n for n in (1_000_000, 100_000) if f"rss_{n}_kib" in notes]
    if big:
        n = big[0]
        ratio = find(rows, f"(b) GET a page of 20 posts ({n // 1000}k")["rps"] / find(rows, "(b) GET a page of 20 posts (1k")["rps"]
        target("", f"page read at {n // 1000}k posts >= 90% of at 1k", pct(ratio), ratio >= 0.9)
        per_post = (notes[f"rss_{n}_kib"] - notes["rss_empty_kib"]) * 1024 / n
        overhead = per_post - notes[f"seed_{n}_text_bytes"]
        target("", "memory overhead per post beyond its text <= 2048 B", f"{overhead:.0f} B", overhead <= 2048)
    if "storm_p99_ratio" in notes:
        target("", "read p99 during a login storm <= 10x idle", f"{notes['storm_p99_ratio']:.1f}x", notes["storm_p99_ratio"] <= 10)

    # Issue 11.
    alone, beside = find_opt(rows, "GET one post alone"), find_opt(rows, "GET one post beside a writer")
    wrote = find_opt(rows, "  the writer:")
    if alone and beside and alone["rps"]:
        ratio = beside["rps"] / alone["rps"]
        target(11, "GET one post beside a writer saturating durable creates >= 25% of the same reads alone",
               f"{pct(ratio)} ({beside['rps']:.0f} vs {alone['rps']:.0f}/s; writer {wrote['rps'] if wrote else float('nan'):.0f} creates/s)", ratio >= 0.25)
        target(11, "... and its p99 <= 10 ms", f"{beside['p99']:.2f} ms (alone {alone['p99']:.2f} ms)", beside["p99"] <= 10)
    if "compact_p99_ratio" in notes:
        n = notes["compact_posts"]
        ratio = notes["compact_p99_ratio"]
        under_way = notes.get("compact_coverage", 0) > 0
        measured = (f"{ratio:.1f}x" if under_way else "no snapshot under way in the window") + f" ({n:,}-post store)"
        target(11, "read p99 while a 1M-post snapshot is written <= 3x idle", measured,
               (ratio <= 3) if under_way and n == 1_000_000 else None)
    ratio = post_disk["rps"] / post_mem["rps"]
    target(11, "durable creates >= 25% of ephemeral creates", f"{pct(ratio)} ({post_disk['rps']:.0f} vs {post_mem['rps']:.0f}/s)", ratio >= 0.25)
    same = find_opt(rows, "authenticated POST, every post the same title")
    if same:
        ratio = same["rps"] / post_mem["rps"]
        target(11, "same-title creates >= 80% of distinct-title creates", f"{pct(ratio)} ({same['rps']:.0f} vs {post_mem['rps']:.0f}/s)", ratio >= 0.8)
    one_word = find_opt(rows, "GET ?q=rust, one-word search")
    if one_word:
        plain = find(rows, "GET a page of 20 posts (100k posts), beside the search")
        ratio = one_word["rps"] / plain["rps"]
        target(14, "one-word search at 100k posts >= 20% of a plain page read", f"{pct(ratio)} ({one_word['rps']:.0f} vs {plain['rps']:.0f}/s)", ratio >= 0.2)
    if "load_1000000_s" in notes:
        target(11, "1M posts ready in <= 5 s", f"{notes['load_1000000_s']:.1f} s", notes["load_1000000_s"] <= 5)
        per_post = (notes["rss_1000000_kib"] - notes["rss_empty_kib"]) * 1024 / 1_000_000
        target(11, "1M posts held in <= 1,800 B per post, text included", f"{per_post:.0f} B", per_post <= 1800)
    elif "load_100000_s" in notes:
        per_post = (notes["rss_100000_kib"] - notes["rss_empty_kib"]) * 1024 / 100_000
        target(11, "1M posts ready in <= 5 s", f"not run (--quick); 100k: {notes['load_100000_s']:.1f} s", None)
        target(11, "1M posts held in <= 1,800 B per post, text included", f"not run (--quick); 100k: {per_post:.0f} B", None)

    # Issue 12: the PostgreSQL engine against the embedded one, and against itself at 1k.
    pg = notes.get("pg")
    name_get = "PostgreSQL authenticated GET one post >= 40% of the embedded engine's"
    name_page = "PostgreSQL page of 20 at 1M >= 80% of at 1k"
    if "pg_skipped" in notes:
        target(12, name_get, f"not measured: {notes['pg_skipped']}", None)
        target(12, name_page, "not measured (--quick)" if notes.get("quick") else f"not measured: {notes['pg_skipped']}", None)
    elif pg is not None:
        failed = "error" in pg
        stopped = f"; stopped: {pg['error']}" if failed else ""
        parts, met = [], []
        for n, r in pg["sizes"].items():
            emb = r.get("get_embedded")
            if emb and emb["rps"]:
                ratio = r["get"]["rps"] / emb["rps"]
                met.append(ratio >= 0.4)
                parts.append(f"{pct(ratio)} at {size_label(n)} ({r['get']['rps']:.0f} vs {emb['rps']:.0f}/s; "
                             f"p99 {r['get']['p99']:.2f} vs {emb['p99']:.2f} ms)")
        target(12, name_get, "; ".join(parts or ["not measured"]) + f"; pool {pg['pool']}{stopped}",
               False if failed else all(met) if met else None)
        small, large = pg["sizes"].get(1_000), pg["sizes"].get(1_000_000)
        if small and large and small["page"]["rps"]:
            ratio = large["page"]["rps"] / small["page"]["rps"]
            target(12, name_page, f"{pct(ratio)} ({large['page']['rps']:.0f} vs {small['page']['rps']:.0f}/s; p99 "
                                  f"{large['page']['p99']:.2f} vs {small['page']['p99']:.2f} ms); pool {pg['pool']}", ratio >= 0.8)
        elif notes.get("quick"):
            target(12, name_page, "not measured (--quick)" + stopped, False if failed else None)
        else:
            target(12, name_page, "not measured" + stopped, False if failed else None)

    # Issue 13: the RealWorld adapter costs <= 20% of throughput (anonymous pages; the token pair
    # is reported beside it). Non-2xx answers in any of the four rows void the comparison.
    rw, v1 = find_opt(rows, "(c) GET /api/articles?limit=20 (1k posts), anonymous"), find_opt(rows, "(c) GET /api/v1/posts?limit=20 (1k posts), anonymous")
    rw_tok = find_opt(rows, "(c) GET /api/articles?limit=20 (1k posts), Authorization: Token")
    v1_tok = find_opt(rows, "(c) GET /api/v1/posts?limit=20 (1k posts), Authorization: Bearer")
    name13 = "GET /api/articles >= 80% of GET /api/v1/posts?limit=20 (the adapter costs <= 20% of throughput), anonymous"
    if rw and v1 and rw_tok and v1_tok and v1["rps"] and v1_tok["rps"]:
        ratio, ratio_tok = rw["rps"] / v1["rps"], rw_tok["rps"] / v1_tok["rps"]
        errors = sum(r["errors"] for r in (rw, v1, rw_tok, v1_tok))
        measured = (f"{pct(ratio)} ({rw['rps']:.0f} vs {v1['rps']:.0f}/s); with a token (Token vs Bearer): "
                    f"{pct(ratio_tok)} ({rw_tok['rps']:.0f} vs {v1_tok['rps']:.0f}/s)")
        if errors:
            measured += f"; {errors} non-2xx answers"
        target(13, name13, measured, ratio >= 0.8 and errors == 0)
    elif "realworld_error" in notes:
        target(13, name13, notes["realworld_error"], False)

    # Issue 16.
    if "refresh_rss_after_kib" in notes:
        delta = notes["refresh_rss_after_kib"] - notes["refresh_rss_before_kib"]
        full = notes["refresh_count"] >= 20_000 and notes["refresh_warmup"] >= 1_000
        measured = f"{delta:+d} KiB after {notes['refresh_done']:,} refreshes ({notes['refresh_warmup']:,} warm-up)"
        if "refresh_error" in notes:
            target(16, "RSS after 20,000 refreshes of one session within 1 MB (1,024 KiB) of before", f"chain broken: {notes['refresh_error']}; {measured}", False)
        else:
            target(16, "RSS after 20,000 refreshes of one session within 1 MB (1,024 KiB) of before", measured,
                   abs(delta) <= 1024 if full else None)
    if "sessions_error" in notes:
        target(16, "10,000 sessions created and then expired: RSS within 10% of the baseline after a sweep", notes["sessions_error"], False)
    elif "sessions_rss_after_kib" in notes:
        base_kib, after = notes["sessions_rss_base_kib"], notes["sessions_rss_after_kib"]
        change = after / base_kib - 1
        full = notes["sessions_count"] >= 10_000 and notes["sessions_created"] >= notes["sessions_count"]
        target(16, "10,000 sessions created and then expired: RSS within 10% of the baseline after a sweep",
               f"{change * 100:+.1f}% ({notes['sessions_created']:,} sessions; {kib(base_kib)} -> {kib(notes['sessions_rss_peak_kib'])} -> {kib(after)})",
               after <= base_kib * 1.10 if full else None)

    lines += ["### Targets", "", "| issue | target | measured | met |", "|---|---|---:|---|"]
    for issue, name, measured, met in targets:
        lines.append(f"| {issue} | {name} | {measured} | {met} |")
    lines.append("")

    for n in (1_000_000, 100_000):
        if f"load_{n}_s" in notes:
            loaded = f", store load {notes[f'store_load_{n}_ms'] / 1000:.1f} s of it" if f"store_load_{n}_ms" in notes else ""
            lines.append(f"- {n} posts: server ready (snapshot loaded) in {notes[f'load_{n}_s']:.1f} s{loaded}; RSS {notes[f'rss_{n}_kib'] / 1024:.0f} MiB "
                         f"({(notes[f'rss_{n}_kib'] - notes['rss_empty_kib']) * 1024 / n:.0f} B per post, of which {notes[f'seed_{n}_text_bytes']} B text; "
                         f"targets at 1M: ready <= 5 s, <= 1,800 B per post).")
    lines.append(f"- empty server RSS: {notes['rss_empty_kib'] / 1024:.1f} MiB.")
    lines.append(f"- durable creates (disk store, group commit) are {post_disk['rps'] / post_mem['rps'] * 100:.0f}% of ephemeral ones "
                 f"(memory store), same script and connections (target >= 25%).")
    if "realworld_rounds" in notes:
        runs = (f"median of {notes['realworld_rounds']} alternating runs of {notes['realworld_seconds']} s each"
                if notes["realworld_rounds"] > 1 else f"one run of {notes['realworld_seconds']} s each (--quick)")
        lines.append(f"- (c) RealWorld adapter (issue 13): the 1k-post server of the rows above; GET /api/articles?limit=20 "
                     f"({notes['realworld_articles']} articles a page) and GET /api/v1/posts?limit=20, anonymous and with an "
                     f"access token of the same account (`Token` from POST /api/users/login, `Bearer` from "
                     f"POST /api/v1/auth/login), the four measured in turn, {runs}.")
    elif "realworld_error" in notes:
        lines.append(f"- (c) RealWorld adapter (issue 13): not measured: {notes['realworld_error']}.")
    if "pg_skipped" in notes:
        lines.append(f"- PostgreSQL engine (issue 12): not measured: {notes['pg_skipped']}.")
    elif "pg" in notes:
        pg = notes["pg"]
        loads = ", ".join(f"{size_label(n)} in {r['load_s']:.1f} s ({r['db_bytes'] / 2**20:.0f} MiB database)"
                          for n, r in pg["sizes"].items())
        p99s = "; ".join(f"{size_label(n)}: GET one post {r['get']['p99']:.2f} ms, page of 20 {r['page']['p99']:.2f} ms, "
                         f"create {r['create']['p99']:.2f} ms" for n, r in pg["sizes"].items())
        lines.append(f"- PostgreSQL engine (issue 12): PostgreSQL {pg.get('version', '?')} on this machine, over loopback, sharing its "
                     f"cores with the server and wrk (fsync={pg.get('fsync', '?')}, synchronous_commit={pg.get('synchronous_commit', '?')}, "
                     f"shared_buffers={pg.get('shared_buffers', '?')}); BLOG_DATABASE_POOL_SIZE={pg['pool']}. For each size a fresh "
                     f"database `{PG_DB}`: the server creates the schema, one author signs up through the API, then the posts are "
                     f"bulk-loaded by SQL (INSERT ... SELECT FROM generate_series: bench/seed.rs's titles, contents and tags, one "
                     f"author, published a minute apart, with their `post_tags` rows; no `post_words`, so search is not measured on "
                     f"PostgreSQL) and vacuumed: {loads or 'none loaded'}. The GET rows are compared with the embedded engine's "
                     f"authenticated GET of one post on its disk store of the same size, measured earlier in this run (not "
                     f"alternated); creates with the embedded disk store's (group commit, from an empty store), the creates run "
                     f"last, on the loaded database. The GET rows repeat one post with one token: with the read cache "
                     f"(default, BLOG_DATABASE_CACHE_ENTRIES=10000) every request after the first is a hit; the row "
                     f"\"read cache off\" is the same GET with BLOG_DATABASE_CACHE_ENTRIES=0, two round trips each, what a "
                     f"miss costs. The /api/tags and /api/articles rows are anonymous; their counts (tags in use, "
                     f"articlesCount) come from the read cache, counted again after every change and at the 5 s TTL, one "
                     f"count per key at a time while the other requests wait for it. p99s: {p99s or 'none'}."
                     + (f" Stopped early: {pg['error']}." if "error" in pg else ""))
    if "beside_writers" in notes:
        lines.append(f"- GET one post beside a writer: the same server (disk store) and post, alone and then while a second wrk "
                     f"({notes['beside_writers']} connections, 1 thread) creates posts as fast as the journal takes them; the "
                     f"writer's own figures are the row under it.")
    if "compact_p99_ratio" in notes:
        first = notes.get("compact_first_after_s")
        lines.append(f"- Snapshots under reads: the {notes['compact_posts']:,}-post store started with BLOG_JOURNAL_COMPACT_BYTES={COMPACT_MIN} "
                     f"(the minimum); one client creates a post every ~5 ms ({notes['compact_writes_per_s']:.0f}/s in the window, "
                     f"{notes['compact_write_failures']} failed), so every few creates start a snapshot of the whole store. "
                     f"A snapshot was under way (`journal.old` present) {notes['compact_coverage'] * 100:.0f}% of the read window; "
                     f"{notes['compact_done']} finished in it (log: \"journal compacted into a snapshot\", elapsed_ms {notes['compact_ms']}); "
                     + (f"the first began {first:.1f} s after the writer started." if first is not None else "none began within 30 s of the writer starting."))
    if "refresh_rss_after_kib" in notes:
        delta = notes["refresh_rss_after_kib"] - notes["refresh_rss_before_kib"]
        per = delta * 1024 / notes["refresh_done"] if notes["refresh_done"] else float("nan")
        lines.append(f"- Refreshes of one session (memory store, each with the token the previous one returned, one keep-alive "
                     f"connection): RSS {kib(notes['refresh_rss_before_kib'])} after {notes['refresh_warmup']:,} warm-up refreshes, "
                     f"{kib(notes['refresh_rss_after_kib'])} after {notes['refresh_done']:,} more: {delta:+d} KiB, {per:.0f} B per refresh. "
                     f"Not on the disk store: a chain waits for one fdatasync per refresh.")
    if "sessions_rss_after_kib" in notes:
        fails = notes.get("sessions_failures") or {}
        lines.append(f"- Sessions created, expired and swept (disk store, BLOG_SWEEP_SECONDS=1, BLOG_HASH_CONCURRENCY={notes['cores']}): "
                     f"{notes['sessions_created']:,} of {notes['sessions_count']:,} logins of one account (cap per account raised above that) "
                     f"in {notes['sessions_login_s']:.0f} s"
                     + (f", failures {fails}" if fails else "")
                     + f"; BLOG_REFRESH_TOKEN_TTL={notes['sessions_ttl_s']} s (the config's minimum is 60 s: at least "
                     f"BLOG_ACCESS_TOKEN_TTL, itself >= 60; longer when the logins take longer, so that all are live at once). "
                     f"RSS {kib(notes['sessions_rss_base_kib'])} after the warm-up logins, {kib(notes['sessions_rss_peak_kib'])} "
                     f"with the sessions, {kib(notes['sessions_rss_after_kib'])} once the sweeper had logged {notes['sessions_swept']:,} "
                     f"sessions swept (of {notes['sessions_made']:,} made); the rest of the run went on meanwhile.")
    elif "sessions_error" in notes:
        lines.append(f"- Sessions: {notes['sessions_error']}.")
    return "\n".join(lines)


def write_doc(report):
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text() if doc.exists() else "# Benchmarks\n\n<!-- measured -->\n<!-- /measured -->\n"
    start, end = "<!-- measured -->", "<!-- /measured -->"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{report}\n{end}{tail}")
    print(f"wrote {doc}")


if __name__ == "__main__":
    sys.exit(main())
