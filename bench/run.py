#!/usr/bin/env python3
"""blog-api load benchmark: one command, everything measured side by side in one run.

    python3 bench/run.py [--duration 8] [--connections 64] [--quick] [--no-write]

Builds the release binary and the bench tools, installs wrk (apt) if missing, seeds stores of 1k,
100k and 1M posts, runs wrk against loopback servers it starts and stops itself, and prints a
table. Without --no-write it rewrites docs/benchmarks.md (the "Measured" section) with the
machine, date and commit. Bounded: every wrk run lasts --duration seconds; all servers listen
on 127.0.0.1 and are killed at the end. --quick skips the 1M-post store (about a minute to seed
and 20 s to load).
"""
import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
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

    def __init__(self, argv, env=None, health="/health"):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = {**os.environ, "BLOG_LISTEN": f"127.0.0.1:{self.port}", "BLOG_LOG": "warn", **LIMITS, **(env or {})}
        argv = [a.replace("{addr}", f"127.0.0.1:{self.port}") for a in argv]
        started = time.time()
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

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def wrk(url, seconds, connections, script=None, env=None):
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "errors": int(non2xx.group(1)) if non2xx else 0}


LUA = {
    "post": """
local n = 0
request = function()
  n = n + 1
  local body = '{"title":"bench ' .. n .. ' ' .. math.random(1e9) .. '","content":"Load test content.","tags":["bench"]}'
  return wrk.format("POST", "/api/v1/posts", {["content-type"]="application/json", ["authorization"]="Bearer " .. os.getenv("TOKEN")}, body)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
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
        ratio = f"{result['rps'] / baseline['rps'] * 100:.0f}%" if baseline else ""
        rows.append((name, result, ratio))
        print(f"{name:55s} {result['rps']:>10.0f}/s  p50 {result['p50']:.2f} ms  p99 {result['p99']:.2f} ms  {ratio} errors={result['errors']}", flush=True)

    try:
        cores = os.cpu_count() or 1
        argon = json.loads(subprocess.check_output([str(SEED), "argon2", "20"]))
        notes["argon2_ms"] = argon["ms_per_hash"]
        notes["cores"] = cores

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
        row("authenticated GET /api/v1/users/me (JWT + session check)",
            wrk(small.base, d, c, scripts["get_auth"], {**env, "PATH_TO": "/api/v1/users/me"}), base)
        row("authenticated GET one post (token sent, ignored: public route)",
            wrk(small.base, d, c, scripts["get_auth"], {**env, "PATH_TO": f"/api/v1/posts/{post_id}"}), base)
        idle_read = wrk(small.base + "/api/v1/posts?limit=20", d, 8)
        row("GET a page, 8 connections, idle server", idle_read)
        small.stop()

        # Store size: a page read must not slow down as the store grows. The sizes are served
        # at once and measured in alternation, median of three, so that drift in the machine's
        # speed during the run does not pass for an effect of size.
        by_size = {}
        for n in sizes:
            srv = Server([str(BIN)], {"BLOG_DATA_DIR": str(work / f"seed{n}")})
            servers.append(srv)
            by_size[n] = srv
            if n > sizes[0]:
                notes[f"load_{n}_s"] = srv.ready_seconds
                notes[f"rss_{n}_kib"] = srv.rss_kib()
        samples = {n: [] for n in sizes}
        for _ in range(3):
            for n, srv in by_size.items():
                samples[n].append(wrk(srv.base + "/api/v1/posts?limit=20", max(2, d // 2), c))
        median = {n: sorted(runs, key=lambda r: r["rps"])[1] for n, runs in samples.items()}
        for n in sizes:
            label = f"{n // 1000}k posts"
            row(f"(b) GET a page of 20 posts ({label}), median of 3 alternating runs", median[n],
                None if n == sizes[0] else median[sizes[0]])
        for srv in by_size.values():
            srv.stop()

        # Writes: ephemeral vs durable (group commit).
        for storage, env_extra in [("memory", {"BLOG_STORAGE": "memory"}), ("disk", {"BLOG_DATA_DIR": str(work / "durable")})]:
            srv = Server([str(BIN)], env_extra)
            servers.append(srv)
            signup = http("POST", srv.base + "/api/v1/auth/signup", {"username": "bench", "email": "bench@example.com", "password": PASSWORD})
            tok = signup["access_token"]
            pid = http("POST", srv.base + "/api/v1/posts", {"title": "to patch", "content": "x"}, tok)["id"]
            row(f"authenticated POST /api/v1/posts ({storage} store)", wrk(srv.base, d, c, scripts["post"], {"TOKEN": tok}), base)
            row(f"authenticated PATCH /api/v1/posts/{{id}} ({storage} store)", wrk(srv.base, d, c, scripts["patch"], {"TOKEN": tok, "POST_ID": pid}), base)
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


def render(rows, notes, d, c):
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines() if l.startswith("model name")), platform.processor())
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit `{commit}`, {notes['cores']} cores ({cpu}), "
        f"{platform.system()} {platform.release()}. wrk, 2 threads, {c} connections, {d} s per row unless noted; loopback.",
        "",
        "| workload | requests/s | p50 ms | p99 ms | vs baseline | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r, ratio in rows:
        lines.append(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {ratio} | {r['errors']} |")
    base = find(rows, "(a)")
    page1k = find(rows, "GET a page of 20 posts (1k")
    auth_get = find(rows, "authenticated GET /api/v1/users/me")
    post_mem = find(rows, "authenticated POST /api/v1/posts (memory")
    post_disk = find(rows, "authenticated POST /api/v1/posts (disk")
    login_all = find(rows, "login (cap")
    ceiling = notes["cores"] / (notes["argon2_ms"] / 1000)
    targets = [
        ("authenticated GET >= 70% of bare", auth_get["rps"] / base["rps"]),
        ("authenticated POST (ephemeral) >= 50% of bare", post_mem["rps"] / base["rps"]),
        ("logins/s >= 80% of cores / argon2 time", login_all["rps"] / ceiling),
    ]
    big = [n for n in (1_000_000, 100_000) if f"rss_{n}_kib" in notes]
    lines += ["", f"argon2id (m=19456 KiB, t=2, p=1): {notes['argon2_ms']:.1f} ms per hash on one core; "
              f"ceiling {ceiling:.0f} logins/s on {notes['cores']} cores.", ""]
    lines += ["| target | measured | met |", "|---|---:|---|"]
    for name, value in targets:
        need = float(re.search(r">= (\d+)%", name).group(1)) / 100
        lines.append(f"| {name} | {value * 100:.0f}% | {'yes' if value >= need else 'no'} |")
    if big:
        n = big[0]
        ratio = find(rows, f"(b) GET a page of 20 posts ({n // 1000}k")["rps"] / find(rows, "(b) GET a page of 20 posts (1k")["rps"]
        lines.append(f"| page read at {n // 1000}k posts >= 90% of at 1k | {ratio * 100:.0f}% | {'yes' if ratio >= 0.9 else 'no'} |")
        per_post = (notes[f"rss_{n}_kib"] - notes["rss_empty_kib"]) * 1024 / n
        overhead = per_post - notes[f"seed_{n}_text_bytes"]
        lines.append(f"| memory overhead per post beyond its text <= 2048 B | {overhead:.0f} B | {'yes' if overhead <= 2048 else 'no'} |")
    if "storm_p99_ratio" in notes:
        lines.append(f"| read p99 during a login storm <= 10x idle | {notes['storm_p99_ratio']:.1f}x | {'yes' if notes['storm_p99_ratio'] <= 10 else 'no'} |")
    lines.append(f"| durable POST (group commit) vs ephemeral | {post_disk['rps'] / post_mem['rps'] * 100:.0f}% | (figure) |")
    lines.append("")
    for n in sorted({n for n in (1_000_000, 100_000) if f"load_{n}_s" in notes}, reverse=True):
        if f"load_{n}_s" in notes:
            lines.append(f"- {n} posts: server ready (snapshot loaded) in {notes[f'load_{n}_s']:.1f} s; RSS {notes[f'rss_{n}_kib'] / 1024:.0f} MiB "
                         f"({(notes[f'rss_{n}_kib'] - notes['rss_empty_kib']) * 1024 / n:.0f} B per post, of which {notes[f'seed_{n}_text_bytes']} B text).")
    lines.append(f"- empty server RSS: {notes['rss_empty_kib'] / 1024:.1f} MiB.")
    return "\n".join(dict.fromkeys(lines) if False else lines)


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
