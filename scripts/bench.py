#!/usr/bin/env python3
"""Lockdev benchmarks: floors and scenarios, reported as ratios measured in the same run.

This machine's absolute numbers drift by tens of percent between runs, so every figure is a
ratio against a floor measured in the same run, baseline and candidate alternated
(A B A B ...) at least five times, median of the pair ratios quoted.

Floors measured now:
  F_http        the cheapest response the binary can give (`lockdev bench floor`: one static
                handler, no middleware)
  F_sql(1)      pgbench running `SELECT 1`, prepared, same connection count
  F_sql(pk)     pgbench running a primary-key lookup on a 100k-row table

  F_sql(S1)     pgbench running the Fortunes page's one statement on as many connections as
                the server's pool
  reference     the Fortunes handler on axum and pipelined tokio-postgres connections, nothing
                else (bench/fortunes-reference)

Scenarios measured against them (more arrive with the features they exercise):
  S1 fortunes   the Fortunes page (read a 12-row table, add a fortune, sort, escape, render)
                through the application's stack (`lockdev bench floor`'s /fortunes: every
                middleware layer, the runtime pool, askama): throughput vs F_sql(S1) and vs
                the reference, both at --connections HTTP connections.
  stack/health  GET /health through the full middleware stack, vs F_http
  S5 envelope   the tenant envelope exactly as TenantTx sends it (BEGIN and the four
                transaction-local settings in one message, the read, COMMIT: 3 round trips)
                around an index lookup of one patient among 20,000 under row-level
                security, vs the same lookup alone with the tenant set for the session
                (1 round trip). Both in pgbench's simple protocol, which is what carries
                the combined BEGIN message.
  S6 login storm   p99 of a page (GET /, at a steady 40 requests a second) while 16
                clients sign in as fast as they can (CSRF token, Argon2id, session insert,
                each from its own forwarded address), vs the same page alone. The ratio is
                of p99 latencies (storm / alone; the bar is <= 2). Sign-ins per second and
                refusals (503 when the hashing queue is full) are reported.
  S7 session    queries and row writes per request for a signed-in person whose session is
                not modified (GET /home): from pg_stat_database over a burst of requests,
                minus a quiet window of the same length (the bar: 1 query, 0 writes).
  S2 summary    the patient summary page (session, tenant transaction, the chart's reads,
                the audit append, the page) for a signed-in front-desk user: throughput vs
                F_sql(S2) at the same load, and p50 at one connection vs F_http + F_sql(S2) at
                one connection each. F_sql(S2) is pgbench replaying exactly the statements one
                summary request sends, captured from the server's statement log while the
                request runs, on as many connections as the server's pool.
  S8 audit      WAL flushes per summary request (pg_stat_wal over a run), and F_sql(S2) with
                its audit append vs without it.
  S9 growth     the summary's p99 (4 connections) before and after appending --audit-rows
                audit events (5 million by default so the run stays under 20 minutes;
                50000000 is the specification's full growth), each run paired with the
                primary-key floor so the comparison is free of machine drift.
  S11 mixed     bench/mixed-flow (goose): --users front-desk staff (500), each with a cookie
                jar and an address of their own, sign in (password and authenticator code)
                and work through a day 2-8 s apart (workspace, search, summary, contacts,
                appointments, schedule) for --s11-seconds once all have signed in; p99 vs
                the same flow's p50 with one person, errors, server memory at its peak.
  flood         the rate limiter under a flood spread over 200,000 addresses (`lockdev
                bench rate-limit`): cost per check and addresses tracked, for the capped
                limiter and for the uncapped design it replaced.
  S4 search     the registry's search statements at the database, under row-level security
                as the runtime role, one client: a rare name fragment and the commonest
                surname (mean latency, bars 1 ms and 5 ms), exact MRN and phone lookups vs
                reading a patient by primary key (same table, security and columns; bar
                1.2x), and vs the primary-key floor. The plans are kept in the report.

Data: `lockdev bench seed` (50 clinics x 20,000 patients by default; --orgs and
--patients-per-org make it smaller for a quick run).

Needs LOCKDEV_DATABASE_URL / LOCKDEV_MIGRATION_DATABASE_URL (`just bench` provides a
throw-away cluster), wrk, and pgbench. Load targets 127.0.0.1 only, bounded in time.
Writes target/bench/report.md and target/bench/report.json; when a previous report.json
exists, ratios that got worse by more than 15% are flagged.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"
REGRESSION = 0.15


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# What a real browser sends with every request (Chromium's values): the server compresses
# pages for these, and that cost belongs in the figures.
BROWSER_HEADERS = [
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Encoding: gzip, deflate, br, zstd",
    "Accept-Language: en-US,en;q=0.9",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def target_dir():
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return Path(json.loads(meta.stdout)["target_directory"])


def tool(name, hint):
    path = shutil.which(name)
    if path:
        return path
    bindir = os.environ.get("LOCKDEV_PG_BINDIR")
    if bindir and Path(bindir, name).exists():
        return str(Path(bindir, name))
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {hint} with apt-get")
        subprocess.run(["apt-get", "install", "-y", "-q", hint], check=False, capture_output=True)
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"bench: {name} not found; install the `{hint}` package")


def psql(url, sql):
    subprocess.run([tool("psql", "postgresql-client"), "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                   check=True, capture_output=True)


def psql_value(url, sql):
    """The last line psql prints for `sql` (unaligned, tuples only)."""
    out = subprocess.run([tool("psql", "postgresql-client"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                          url, "-c", sql], check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def uuid_to_ulid(text):
    """The ULID spelling (Crockford base32) of a uuid, as the application's URLs use."""
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    value = int(text.replace("-", ""), 16)
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def with_database(url, name):
    return url.rsplit("/", 1)[0] + "/" + name


def wait_http(url, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as res:
                if res.status == 200:
                    return time.monotonic()
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def parse_latency(text):
    """wrk prints latencies like 312.00us, 1.20ms, 2.01s; returns milliseconds."""
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, seconds, connections, headers=()):
    extra = [arg for header in [*BROWSER_HEADERS, *headers] for arg in ("-H", header)]
    out = subprocess.run(
        [tool("wrk", "wrk"), f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        check=True, capture_output=True, text=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_latency(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = parse_latency(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} non-2xx responses under load")
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99}


def pgbench(url, script, seconds, clients, mode="prepared", env=None, transactions=None, defines=()):
    """`transactions` per client instead of a duration (for scripts that consume rows);
    `defines`: name=value variables for the script."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
        path = f.name
    amount = ["-t", str(transactions)] if transactions else ["-T", str(seconds)]
    try:
        out = subprocess.run(
            [tool("pgbench", "postgresql-contrib"), "-n", "-M", mode, "-c", str(clients), "-j", "2",
             *amount, *[arg for d in defines for arg in ("-D", d)], "-f", path, url],
            check=True, capture_output=True, text=True, env=env,
        ).stdout
    finally:
        os.unlink(path)
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return {"rps": tps, "mean_ms": latency}


def alternate(name, baseline, candidate, pairs, key="rps"):
    """Runs baseline and candidate alternately; ratio = candidate / baseline per pair."""
    ratios, a_runs, b_runs = [], [], []
    for i in range(pairs):
        a = baseline()
        b = candidate()
        a_runs.append(a)
        b_runs.append(b)
        ratios.append(b[key] / a[key])
        log(f"{name} pair {i + 1}/{pairs}: {b[key]:.0f} / {a[key]:.0f} = {ratios[-1]:.3f}")
    return {
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "baseline": {k: statistics.median(r[k] for r in a_runs) for k in a_runs[0]},
        "candidate": {k: statistics.median(r[k] for r in b_runs) for k in b_runs[0]},
    }


# ---- signing in over HTTP (S6, S7) ------------------------------------------------------

DEMO_PATIENT = ("maria.lopez@example.com", "lockdev-demo-2026")


class Browser:
    """One cookie jar over one keep-alive connection, like a person's browser tab."""

    def __init__(self, port, forwarded_for=None):
        import http.client
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookie = None
        self.forwarded_for = forwarded_for

    def request(self, method, path, form=None):
        import gzip
        import urllib.parse
        # A browser's headers, but only the compression Python can read back (gzip).
        headers = {"Host": "localhost", "Accept": "text/html", "Accept-Encoding": "gzip"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        res = self.connection.getresponse()
        raw = res.read()
        if res.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8", "replace")
        for name, value in res.getheaders():
            if name.lower() == "set-cookie" and value.startswith("lockdev_session="):
                self.cookie = value.split(";", 1)[0]
        return res.status, res.getheader("Location"), text

    def token(self, html):
        found = re.search(r'name="csrf_token" value="([^"]+)"', html)
        return found.group(1) if found else None

    def sign_in(self, email, password):
        _, _, page = self.request("GET", "/sign-in")
        return self.request("POST", "/sign-in",
                            {"email": email, "password": password, "csrf_token": self.token(page)})

    def close(self):
        self.connection.close()


def probe(port, seconds, rate=40):
    """GET / at a steady rate on one connection; latencies in ms."""
    browser = Browser(port)
    latencies, interval = [], 1.0 / rate
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, _, _ = browser.request("GET", "/")
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"GET / answered {status} during the probe")
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    browser.close()
    latencies.sort()
    return {"p50_ms": latencies[len(latencies) // 2], "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "samples": len(latencies)}


def login_storm(port, seconds, clients=16):
    """Clients signing in back to back, each attempt with a fresh session and address."""
    import random
    import threading
    counts, lock = {}, threading.Lock()
    deadline = time.monotonic() + seconds

    def run(worker):
        n = 0
        while time.monotonic() < deadline:
            n += 1
            address = f"10.{worker}.{n // 250 % 250}.{n % 250 + 1}"
            browser = Browser(port, forwarded_for=address)
            try:
                status, _, _ = browser.sign_in(*DEMO_PATIENT)
            except OSError:
                status = "error"
            browser.close()
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(i + 1,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def s6_login_storm(port, seconds, pairs):
    """Alternates: the probe alone, then the probe during a storm."""
    import multiprocessing
    ratios, alone_runs, storm_runs, storms = [], [], [], []
    for i in range(pairs):
        alone = probe(port, seconds)
        # The storm runs in its own process: its sixteen client threads would otherwise
        # hold this interpreter's lock for up to its 5 ms switch interval at a time, and
        # the probe would measure Python, not the server.
        with multiprocessing.get_context("fork").Pool(1) as pool:
            pending = pool.apply_async(login_storm, (port, seconds + 1))
            time.sleep(0.5)
            during = probe(port, seconds)
            result = pending.get()
        alone_runs.append(alone)
        storm_runs.append(during)
        storms.append(result)
        ratios.append(during["p99_ms"] / alone["p99_ms"])
        log(f"S6 pair {i + 1}/{pairs}: p99 {during['p99_ms']:.2f} ms during the storm / {alone['p99_ms']:.2f} ms "
            f"alone = {ratios[-1]:.2f}; sign-ins {result}")
    signed_in = [s.get(303, 0) / (seconds + 1) for s in storms]
    refused = sum(s.get(503, 0) for s in storms)
    unexpected = {k: v for s in storms for k, v in s.items() if k not in (303, 503)}
    if unexpected:
        log(f"S6: unexpected sign-in answers {unexpected} (the server's log is in {OUT / 'server.log'})")
    return {
        "unexpected": {str(k): v for k, v in unexpected.items()},
        "ratio": statistics.median(ratios), "ratios": ratios,
        "baseline": {k: statistics.median(r[k] for r in alone_runs) for k in ("p50_ms", "p99_ms")},
        "candidate": {k: statistics.median(r[k] for r in storm_runs) for k in ("p50_ms", "p99_ms")},
        "sign_ins_per_second": statistics.median(signed_in),
        "refused_503": refused,
    }


def database_counters(owner_url):
    out = subprocess.run(
        [tool("psql", "postgresql-client"), "-X", "-A", "-t", owner_url, "-c",
         "SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted "
         "FROM pg_stat_database WHERE datname = current_database()"],
        check=True, capture_output=True, text=True).stdout.strip()
    transactions, writes = out.split("|")
    return int(transactions), int(writes)


def table_writes(owner_url):
    """Rows inserted, updated or deleted per table since the statistics were reset."""
    out = subprocess.run(
        [tool("psql", "postgresql-client"), "-X", "-A", "-t", owner_url, "-c",
         "SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del "
         "FROM pg_stat_all_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0"],
        check=True, capture_output=True, text=True).stdout
    return {name: int(n) for name, n in (line.split("|") for line in out.splitlines() if line)}


def s7_session_overhead(port, owner_url, super_url, seal, requests=2000, settle=11.0):
    """Queries and writes per request for an unmodified signed-in session (GET /home).

    Statistics reach pg_stat_database when a backend flushes them (at most every second,
    and within ten seconds of going idle), so each window ends with a settle period; the
    same window without requests measures the background (the audit sealer, our reads)."""
    browser = Browser(port)
    status, location, _ = browser.sign_in(*DEMO_PATIENT)
    if status != 303:
        raise RuntimeError(f"S7: the demo patient could not sign in ({status})")
    if location == "/consent":
        _, _, page = browser.request("GET", "/consent")
        form = [("accept", v) for v in re.findall(r'name="accept" value="([^"]+)"', page)]
        form.append(("csrf_token", browser.token(page)))
        import urllib.parse
        browser.connection.request("POST", "/consent", body=urllib.parse.urlencode(form), headers={
            "Host": "localhost", "Cookie": browser.cookie, "Content-Type": "application/x-www-form-urlencoded"})
        browser.connection.getresponse().read()
    for _ in range(20):
        browser.request("GET", "/home")
    # The audit events of earlier scenarios (thousands of sign-ins) are sealed now, so the
    # server's sealer has nothing left to write during the windows.
    seal()
    # Autovacuum is paused for the windows: an analyze that happens to start during one
    # (thousands of sign-ins earlier make it due) counts its own transactions and catalog
    # writes, which are not the request's.
    psql(super_url, "ALTER SYSTEM SET autovacuum = off")
    psql(super_url, "SELECT pg_reload_conf()")
    try:
        return s7_windows(browser, owner_url, requests, settle)
    finally:
        psql(super_url, "ALTER SYSTEM RESET autovacuum")
        psql(super_url, "SELECT pg_reload_conf()")


def s7_windows(browser, owner_url, requests, settle):
    """S7's two windows: the requests, then a quiet one of the same length."""
    time.sleep(settle)
    before, tables_before = database_counters(owner_url), table_writes(owner_url)
    started = time.monotonic()
    for _ in range(requests):
        status, location, _ = browser.request("GET", "/home")
        if status != 303 or location in ("/sign-in", None):
            raise RuntimeError(f"S7: GET /home answered {status} {location}")
    burst = time.monotonic() - started
    time.sleep(settle)
    after, tables_after = database_counters(owner_url), table_writes(owner_url)

    quiet_before, tables_quiet_before = database_counters(owner_url), table_writes(owner_url)
    time.sleep(burst + settle)
    quiet_after, tables_quiet_after = database_counters(owner_url), table_writes(owner_url)
    browser.close()

    def changed(first, last):
        return {t: last[t] - first.get(t, 0) for t in last if last[t] != first.get(t, 0)}

    background = [quiet_after[i] - quiet_before[i] for i in range(2)]
    loaded = [after[i] - before[i] for i in range(2)]
    return {
        "requests": requests,
        "queries_per_request": (loaded[0] - background[0]) / requests,
        "writes_per_request": (loaded[1] - background[1]) / requests,
        "background": {"transactions": background[0], "row_writes": background[1],
                       "tables": changed(tables_quiet_before, tables_quiet_after)},
        "tables_written_during_requests": changed(tables_before, tables_after),
        "requests_per_second": requests / burst,
    }


BENCH_DESK = ("desk@bench.example", "bench-password-2026")
BENCH_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def totp(secret, at=None):
    import base64, hashlib, hmac, struct
    key = base64.b32decode(secret)
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 15
    code = (struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


def accept_consents(browser):
    _, _, page = browser.request("GET", "/consent")
    form = [("accept", v) for v in re.findall(r'name="accept" value="([^"]+)"', page)]
    form.append(("csrf_token", browser.token(page)))
    return browser.request("POST", "/consent", form)


def staff_browser(port):
    """The bench front-desk user, signed in with password and authenticator code."""
    browser = Browser(port)
    status, location, _ = browser.sign_in(*BENCH_DESK)
    if status != 303 or location != "/mfa":
        raise RuntimeError(f"bench desk sign-in answered {status} {location}")
    _, _, page = browser.request("GET", "/mfa")
    status, location, _ = browser.request("POST", "/mfa/totp", {"code": totp(BENCH_TOTP_SECRET),
                                                               "csrf_token": browser.token(page)})
    for _ in range(3):
        if location == "/consent":
            status, location, _ = accept_consents(browser)
        elif location == "/contexts":
            _, _, page = browser.request("GET", "/contexts")
            key = re.search(r'name="context" value="([^"]+)"', page).group(1)
            status, location, _ = browser.request("POST", "/contexts/select",
                                                  {"context": key, "csrf_token": browser.token(page)})
        else:
            break
    return browser


def page_p50_against_floors(label, app_port, floor_port, runtime_url, script, defines, path, cookie, args):
    """p50 of a page at one connection vs F_http + F_sql at one connection each, where
    F_sql replays exactly the page's statements (pgbench reports a mean, which for one
    client is within noise of its median). Pairs alternate; the ratio is their median."""
    ratios, pages, https, sqls = [], [], [], []
    for i in range(args.pairs):
        http = wrk(f"http://127.0.0.1:{floor_port}/", args.seconds, 1)
        sql = pgbench(runtime_url, script, args.seconds, 1, defines=defines)
        page = wrk(f"http://127.0.0.1:{app_port}{path}", args.seconds, 1,
                   headers=[f"Cookie: {cookie}", "Host: localhost"])
        ratios.append(page["p50_ms"] / (http["p50_ms"] + sql["mean_ms"]))
        pages.append(page["p50_ms"]); https.append(http["p50_ms"]); sqls.append(sql["mean_ms"])
        log(f"{label} pair {i + 1}/{args.pairs}: {page['p50_ms']:.3f} / "
            f"({http['p50_ms']:.3f} + {sql['mean_ms']:.3f}) = {ratios[-1]:.3f}")
    return {"ratio": statistics.median(ratios), "ratios": ratios, "page_p50_ms": statistics.median(pages),
            "f_http_p50_ms": statistics.median(https), "f_sql_mean_ms": statistics.median(sqls)}


def s2_patient_summary(app_port, floor_port, runtime_url, script, defines, path, cookie, args):
    """p50 of the summary page vs F_http + F_sql(S2)."""
    found = page_p50_against_floors("S2 latency", app_port, floor_port, runtime_url, script, defines, path,
                                    cookie, args)
    found["f_sql_s2_mean_ms"] = found.pop("f_sql_mean_ms")
    return found


LOG_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d [\d:.]+ \w+ \[(\d+)\] (LOG|DETAIL):  ", re.M)


def split_simple(sql):
    """The statements of a simple-protocol message, split at semicolons outside quotes."""
    parts, current, quoted = [], "", False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_parameters(text):
    """`$1 = 'a''b', $2 = NULL` -> {1: "a'b", 2: None}."""
    values = {}
    for match in re.finditer(r"\$(\d+) = (NULL|'((?:[^']|'')*)')", text):
        values[int(match.group(1))] = None if match.group(2) == "NULL" else match.group(3).replace("''", "'")
    return values


def capture_statements(super_url, action):
    """The statements the application sends while `action()` runs, read from the server's
    statement log: [(kind, sql, parameters)], kind "simple" (one simple-protocol message,
    possibly several statements) or "prepared" (extended protocol, parameters by number)."""
    data_dir = psql_value(super_url, "SHOW data_directory")
    log_path = Path(os.environ.get("LOCKDEV_PG_LOG", data_dir + ".log"))
    psql(super_url, "ALTER SYSTEM SET log_min_duration_statement = 0")
    psql(super_url, "ALTER SYSTEM SET log_parameter_max_length = -1")
    psql(super_url, "SELECT pg_reload_conf()")
    time.sleep(0.5)
    start = log_path.stat().st_size
    try:
        action()
        time.sleep(0.3)
    finally:
        psql(super_url, "ALTER SYSTEM RESET log_min_duration_statement")
        psql(super_url, "ALTER SYSTEM RESET log_parameter_max_length")
        psql(super_url, "SELECT pg_reload_conf()")
    with open(log_path, "rb") as f:
        f.seek(start)
        text = f.read().decode("utf-8", "replace")
    marks = list(LOG_ENTRY.finditer(text))
    entries = []
    for i, mark in enumerate(marks):
        body = text[mark.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)].rstrip("\n")
        entries.append((mark.group(2), body))
    statements = []
    for i, (level, body) in enumerate(entries):
        if level != "LOG":
            continue
        found = re.match(r"duration: [\d.]+ ms  (statement|execute [^:]+): (.*)", body, re.S)
        if not found:
            continue
        # Line comments go before the lines are joined (else one swallows the rest).
        sql = " ".join(re.sub(r"--[^\n]*", "", found.group(2)).split())
        if sql.startswith(("ALTER SYSTEM", "SELECT pg_reload_conf")):
            continue
        if found.group(1) == "statement":
            statements.append(("simple", sql, {}))
        else:
            detail = entries[i + 1][1] if i + 1 < len(entries) and entries[i + 1][0] == "DETAIL" else ""
            statements.append(("prepared", sql, parse_parameters(detail)))
    return statements


TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?[+-]\d\d(:\d\d)?")


def pgbench_script(statements):
    """A pgbench script (prepared mode) sending `statements` as the application does: one
    round trip each, the simple-protocol BEGIN-with-settings message as one pipeline.
    Parameters become pgbench variables (returned as -D definitions), NULLs literal NULLs,
    and the audit event's id the database default, so every run appends a new event."""
    lines, defines = [], []
    for n, (kind, sql, params) in enumerate(statements):
        if kind == "simple":
            parts = split_simple(sql)
            if len(parts) > 1:
                lines.append("\\startpipeline")
                lines += [part + ";" for part in parts]
                lines.append("\\endpipeline")
            else:
                lines.append(parts[0] + ";")
            continue
        fresh_id = sql.startswith("INSERT INTO audit_events")

        def substitute(match, n=n, fresh_id=fresh_id):
            index = int(match.group(1))
            value = params.get(index)
            if fresh_id and index == 1:
                return "new_ulid()"
            if value is None:
                return "NULL"
            name = f"s{n}p{index}"
            defines.append(f"{name}={value}")
            # The application binds instants as timestamptz; pgbench sends text, which the
            # server cannot type where the statement does arithmetic on it ($1 - interval).
            if TIMESTAMP.fullmatch(value):
                return f":{name}::timestamptz"
            return f":{name}"

        lines.append(re.sub(r"\$(\d+)", substitute, sql) + ";")
    return "\n".join(lines) + "\n", defines


def wal_syncs(super_url):
    """WAL flushes (fsync or equivalent) the server has made since its statistics reset."""
    return int(psql_value(super_url, "SELECT wal_sync FROM pg_stat_wal"))


def s8_audit_append(app_port, path, cookie, super_url, runtime_url, script, defines, clients, args):
    """WAL flushes per summary request (the page appends one audit event and commits it
    durably), and the summary's statements with their audit append vs the same without it
    (pgbench, the same connections)."""
    before = wal_syncs(super_url)
    out = subprocess.run(
        [tool("wrk", "wrk"), "-t2", "-c8", f"-d{args.seconds}s", "-H", f"Cookie: {cookie}", "-H", "Host: localhost",
         f"http://127.0.0.1:{app_port}{path}"], check=True, capture_output=True, text=True).stdout
    time.sleep(1.5)  # backends report their WAL statistics when they go idle, at most every second
    flushes = wal_syncs(super_url) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    without = "\n".join(line for line in script.splitlines() if not line.startswith("INSERT INTO audit_events")) + "\n"
    run = lambda text: (lambda: pgbench(runtime_url, text, args.seconds, clients, defines=defines))
    ratio = alternate("S8 with audit/without", run(without), run(script), args.pairs)
    return {"requests": requests, "wal_flushes": flushes, "flushes_per_request": flushes / max(requests, 1),
            "with_vs_without": ratio}


def settle_audit(super_url):
    """Brings the audit log to the state a long-lived one is in before a measurement:
    vacuumed and analysed (autovacuum does that over the months real events take to
    arrive) and checkpointed, so the measurement does not run beside the write-back of a
    bulk load of gigabytes done minutes earlier."""
    started = time.monotonic()
    psql(super_url, "VACUUM (ANALYZE) audit_events")
    psql(super_url, "CHECKPOINT")
    return time.monotonic() - started


def s9_audit_growth(binary, env, app_port, path, cookie, floor_url, super_url, args):
    """p99 of the summary page (4 connections) before and after appending audit events.
    Each run is paired with the primary-key floor (a database of its own, untouched by the
    growth) and the ratio of the two is compared, so drift of the machine cancels out.
    Both measurements start from a vacuumed, checkpointed audit log (settle_audit)."""
    pk = lambda: pgbench(floor_url, "\\set id random(1, 100000)\nSELECT payload FROM bench_floor WHERE id = :id;\n",
                         args.seconds, 1)
    page = lambda: wrk(f"http://127.0.0.1:{app_port}{path}", args.seconds, 4,
                       headers=[f"Cookie: {cookie}", "Host: localhost"])

    def measure(label):
        ratios, pages = [], []
        for i in range(args.pairs):
            floor = pk()
            p = page()
            ratios.append(p["p99_ms"] / floor["mean_ms"])
            pages.append(p["p99_ms"])
            log(f"S9 {label} pair {i + 1}/{args.pairs}: p99 {p['p99_ms']:.3f} ms / pk {floor['mean_ms']:.3f} ms")
        return {"normalized": statistics.median(ratios), "p99_ms": statistics.median(pages)}

    settle_audit(super_url)
    before = measure("before")
    log(f"appending {args.audit_rows} audit events")
    out = subprocess.run([str(binary), "bench", "seed", "--organizations", str(args.orgs), "--patients-per-org",
                          str(args.patients_per_org), "--audit-rows", str(args.audit_rows)],
                         env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    log(out)
    settled = settle_audit(super_url)
    log(f"S9: audit log vacuumed and checkpointed in {settled:.0f} s")
    after = measure("after")
    return {"audit_rows": args.audit_rows, "seeded": out, "settle_seconds": round(settled, 1),
            "before": before, "after": after,
            "ratio": after["normalized"] / before["normalized"]}


def list_audit_cost(counts_binary, app_env, app_port, summary_path, cookie, mixed_flow_binary, args):
    """What naming the patients a list showed in its audit event costs: S2 (the summary
    page's p50 at one connection) and S11 (the loaded front-desk day's p50 and p99, whose
    registry searches and schedules are lists) on the measured server and on a second one
    run from the baseline build (`--features bench-list-audit-counts`: the count only),
    against the same database, alternately. Ratios are measured / baseline."""
    port = free_port()
    log_file = open(OUT / "server-list-audit-counts.log", "w")
    baseline = subprocess.Popen([str(counts_binary), "serve"], env=dict(app_env, LOCKDEV_BIND=f"127.0.0.1:{port}"),
                                stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/health")
        page = lambda p: (lambda: wrk(f"http://127.0.0.1:{p}{summary_path}", args.seconds, 1,
                                      headers=[f"Cookie: {cookie}", "Host: localhost"]))
        s2 = alternate("A.2 S2 p50 names/count", page(port), page(app_port), args.pairs, key="p50_ms")
        rounds = []
        for i in range(2):
            # Alternately, and each run over 30 s after the last, so every authenticator
            # code the simulated staff type is fresh.
            counted = mixed_flow(mixed_flow_binary, port, args.users, 20, args.s11_seconds, "2000-8000", baseline.pid)
            named = mixed_flow(mixed_flow_binary, app_port, args.users, 20, args.s11_seconds, "2000-8000")
            rounds.append({"count_only": counted, "named": named})
            log(f"A.2 S11 round {i + 1}: p50 {named['p50_ms']:.2f} / {counted['p50_ms']:.2f} ms, "
                f"p99 {named['p99_ms']:.2f} / {counted['p99_ms']:.2f} ms, errors {named['errors']} / {counted['errors']}")
    finally:
        baseline.send_signal(signal.SIGTERM)
        try:
            baseline.wait(timeout=10)
        except subprocess.TimeoutExpired:
            baseline.kill()
    ratio = lambda key: statistics.median(r["named"][key] / max(r["count_only"][key], 0.001) for r in rounds)
    return {"s2_p50": s2, "s11_rounds": rounds, "s11_p50_ratio": ratio("p50_ms"), "s11_p99_ratio": ratio("p99_ms")}


def mixed_flow(binary, port, users, rate, seconds, think, app_pid=None):
    """One run of the mixed flow (bench/mixed-flow): its JSON summary, and the server's
    largest resident memory while it ran (sampled every half second)."""
    import threading
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            if app_pid:
                peak[0] = max(peak[0], rss_kib(app_pid))
            done.wait(0.5)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out = subprocess.run(
            [str(binary), "--host", f"http://127.0.0.1:{port}", "--users", str(users), "--increase-rate", str(rate),
             "--run-time", f"{seconds}s", "--quiet", "--no-print-metrics"],
            env=dict(os.environ, LOCKDEV_THINK_MS=think), check=True, capture_output=True, text=True,
            timeout=seconds + users / rate + 120).stdout
    finally:
        done.set()
        sampler.join()
    summary = json.loads(out.strip().splitlines()[-1])
    summary["rss_peak_kib"] = peak[0]
    return summary


def s11_mixed_flow(binary, port, app_pid, args):
    """S11: the front-desk day of --users staff with think time, vs the same flow by one
    person at a time (unloaded). The bar: p99 under load <= 3x the unloaded p50, no error."""
    # Staff arrive at 20 a second: within what one hashing thread signs in (about 40 a
    # second), so the morning does not queue into 503s (S6 measures that storm).
    loaded = mixed_flow(binary, port, args.users, 20, args.s11_seconds, "2000-8000", app_pid)
    log(f"S11 {args.users} users: p50 {loaded['p50_ms']:.2f} ms, p99 {loaded['p99_ms']:.2f} ms over "
        f"{loaded['requests']} requests, {loaded['errors']} errors")
    # After the load, not before: the one person is desk000 again, and an authenticator
    # code is good once, so a second sign-in in the same 30 s step would be refused.
    unloaded = mixed_flow(binary, port, 1, 1, max(10, args.seconds * 5), "300-600")
    log(f"S11 unloaded: p50 {unloaded['p50_ms']:.2f} ms over {unloaded['requests']} requests, "
        f"{unloaded['errors']} errors")
    return {"users": args.users, "unloaded": unloaded, "loaded": loaded,
            "ratio": loaded["p99_ms"] / max(unloaded["p50_ms"], 0.001)}


SEARCH_NAMES = """WITH terms AS (SELECT t AS low, t || chr(1114111) AS high FROM search_tokens('{term}') AS t),
matched AS (SELECT s.patient_id FROM terms q JOIN patient_search_tokens s ON s.token >= q.low AND s.token < q.high
            GROUP BY s.patient_id HAVING count(DISTINCT q.low) = (SELECT count(*) FROM terms)),
hits AS MATERIALIZED (SELECT p.id, p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex
                        FROM matched m CROSS JOIN LATERAL (SELECT * FROM patients p
                              WHERE p.id = m.patient_id AND p.deleted_at IS NULL OFFSET 0) AS p)
SELECT * FROM hits ORDER BY family_name, given_name, id LIMIT 26"""

SEARCH_MRN = """SELECT id, given_name, family_name, preferred_name, date_of_birth, mrn, legal_sex
  FROM patients WHERE mrn = upper({mrn}) AND deleted_at IS NULL"""

SEARCH_CONTACT = """SELECT p.id, p.given_name, p.family_name, p.preferred_name, p.date_of_birth, p.mrn, p.legal_sex
  FROM contact_methods m JOIN patients p ON p.id = m.patient_id
 WHERE m.value = {value} AND m.deleted_at IS NULL AND p.deleted_at IS NULL
 ORDER BY p.family_name, p.given_name, p.id LIMIT 26"""


SEARCH_PK = """SELECT id, given_name, family_name, preferred_name, date_of_birth, mrn, legal_sex
  FROM patients WHERE id = {id} AND deleted_at IS NULL"""

# `bench seed` gives a third of the patients a number shared by a household of three
# (patients 3h, 3h+1, 3h+2 for h divisible by 3 hold 2000000 + h) and everyone else a
# number of their own (patient g holds 3000000 + g). The household's three patients are
# read by primary key in the order the lookup returns them.
SEARCH_HOUSEHOLD_PK = """SELECT id, given_name, family_name, preferred_name, date_of_birth, mrn, legal_sex
  FROM patients WHERE id IN ({ids}) AND deleted_at IS NULL ORDER BY family_name, given_name, id"""


def s4_search(runtime_url, floor_url, clinic_env, org, rare, common, args):
    """The registry's statements (as src/patients/repo.rs sends them) at one client.
    Exact lookups are compared with two primary-key reads: the floor's (a bigint key in a
    100k-row table of its own) and the patient's own (the same table, row-level security
    and columns as the search, by id; `bench seed` derives ids from the clinic and a number,
    so the id is computed in SQL as the MRN is)."""
    one_line = lambda sql: " ".join(sql.split()) + ";\n"
    pk = lambda: pgbench(floor_url, "\\set id random(1, 100000)\nSELECT payload FROM bench_floor WHERE id = :id;\n",
                         args.seconds, 1)
    run = lambda script: (lambda: pgbench(runtime_url, script, args.seconds, 1, env=clinic_env))
    rare_q = one_line(SEARCH_NAMES.format(term=rare))
    common_q = one_line(SEARCH_NAMES.format(term=common))
    mrn_q = "\\set n random(1, 20000)\n" + one_line(SEARCH_MRN.format(mrn="'b' || lpad(:n::text, 7, '0')"))
    # A number of one's own: g = 9k + 3 .. 9k + 8, whose g / 3 is not divisible by three.
    own = "\\set k random(0, 2000)\n\\set g 9 * :k + 3 + :k % 6\n"
    phone_q = own + one_line(SEARCH_CONTACT.format(value="'+1617' || (3000000 + :g)"))
    own_pk_q = own + one_line(SEARCH_PK.format(id=f"md5('{org} patient ' || :g)::uuid"))
    # A household's number: h divisible by three, members 3h .. 3h + 2.
    shared = "\\set h 3 * random(1, 2221)\n"
    household_q = shared + one_line(SEARCH_CONTACT.format(value="'+1617' || (2000000 + :h)"))
    household = ", ".join(f"md5('{org} patient ' || (:h * 3 + {i}))::uuid" for i in range(3))
    household_pk_q = shared + one_line(SEARCH_HOUSEHOLD_PK.format(ids=household))
    member_pk_q = shared + one_line(SEARCH_PK.format(id=f"md5('{org} patient ' || (:h * 3))::uuid"))
    rare_runs = [run(rare_q)()["mean_ms"] for _ in range(args.pairs)]
    common_runs = [run(common_q)()["mean_ms"] for _ in range(args.pairs)]
    patient_pk_q = "\\set n random(1, 20000)\n" + one_line(
        SEARCH_PK.format(id=f"md5('{org} patient ' || :n)::uuid"))
    mrn = alternate("S4 MRN vs PK", pk, run(mrn_q), args.pairs, key="mean_ms")
    phone = alternate("S4 phone vs PK", pk, run(phone_q), args.pairs, key="mean_ms")
    mrn_patient = alternate("S4 MRN vs patient PK", run(patient_pk_q), run(mrn_q), args.pairs, key="mean_ms")
    phone_patient = alternate("S4 phone vs patient PK", run(own_pk_q), run(phone_q), args.pairs, key="mean_ms")
    household_one = alternate("S4 household phone vs one member's PK", run(member_pk_q), run(household_q),
                              args.pairs, key="mean_ms")
    household_all = alternate("S4 household phone vs the household by PK", run(household_pk_q), run(household_q),
                              args.pairs, key="mean_ms")
    plans = {}
    for name, sql in (("common surname", SEARCH_NAMES.format(term=common)),
                      ("rare fragment", SEARCH_NAMES.format(term=rare))):
        out = subprocess.run([tool("psql", "postgresql-client"), "-X", "-A", "-t", runtime_url,
                              "-c", "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + sql],
                             check=True, capture_output=True, text=True, env=clinic_env).stdout
        plans[name] = out.strip()
    matches = {}
    for name, term in (("common surname", common), ("rare fragment", rare)):
        sql = SEARCH_NAMES.format(term=term).replace(" LIMIT 26", "")
        matches[name] = int(subprocess.run([tool("psql", "postgresql-client"), "-X", "-A", "-t", runtime_url,
                                            "-c", f"SELECT count(*) FROM ({sql}) x"],
                                           check=True, capture_output=True, text=True, env=clinic_env).stdout.strip())
    return {"rare_fragment": rare, "common_surname": common, "matches": matches,
            "rare_mean_ms": statistics.median(rare_runs), "common_mean_ms": statistics.median(common_runs),
            "mrn_vs_pk": mrn, "phone_vs_pk": phone, "mrn_vs_patient_pk": mrn_patient,
            "phone_vs_patient_pk": phone_patient, "household_vs_member_pk": household_one,
            "household_vs_household_pk": household_all, "plans": plans}


def s17_schedule_grid(app_port, floor_port, runtime_url, super_url, clinic_env, patient, kind, args):
    """S17: the front desk's day grid of a ten-provider clinic (today: sixteen visits per
    provider) at one connection, against F_http + F_sql(S17) at one connection each, where
    F_sql(S17) replays exactly the statements one grid request sends; and the slot finder's
    statement (the next ten free slots for a kind of visit across the ten providers) alone
    at the database, as the chart's appointments section sends it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo
    desk = staff_browser(app_port)
    day = datetime.now(ZoneInfo("America/New_York")).date().isoformat()
    path = f"/schedule?date={day}"
    status, _, page = desk.request("GET", path)
    if status != 200:
        raise RuntimeError(f"S17: the day grid answered {status}")
    columns = page.count('class="time-grid__column"')
    visits = page.count('class="block__visit ')
    if columns != 10:
        raise RuntimeError(f"S17: the grid shows {columns} provider columns, not ten")

    def one_grid():
        status, _, _ = desk.request("GET", path)
        if status != 200:
            raise RuntimeError(f"S17: the day grid answered {status}")
    captured = capture_statements(super_url, one_grid)
    script, defines = pgbench_script(captured)
    (OUT / "f_sql_s17.sql").write_text(script)
    grid = page_p50_against_floors("S17 grid", app_port, floor_port, runtime_url, script, defines, path,
                                   desk.cookie, args)

    finder = f"/patients/{patient}/appointments/free-slots?type_id={kind}&provider_id="

    def one_finder():
        status, _, body = desk.request("GET", finder)
        if status != 200 or body.count('name="time" value="') != 10:
            raise RuntimeError(f"S17: the slot finder answered {status} without ten slots")
    # The finder reads busy times a day at a time until it has ten slots: all of those
    # reads, as one request sends them.
    found = [c for c in capture_statements(super_url, one_finder) if "provider_busy_times" in c[1]]
    if not found:
        raise RuntimeError("S17: the slot finder's reads of busy times were not captured")
    desk.close()
    finder_script, finder_defines = pgbench_script(found)
    finder_runs = [pgbench(runtime_url, finder_script, args.seconds, 1, env=clinic_env,
                           defines=finder_defines)["mean_ms"] for _ in range(args.pairs)]
    log(f"S17 slot finder at the database: {statistics.median(finder_runs):.3f} ms")
    first, _ = pgbench_script(found[:1])
    for define in finder_defines:
        name, value = define.split("=", 1)
        first = first.replace(f":{name}", "'" + value.replace("'", "''") + "'")
    plan = subprocess.run([tool("psql", "postgresql-client"), "-X", "-A", "-t", runtime_url,
                           "-c", "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + first.strip().rstrip(";")],
                          check=True, capture_output=True, text=True, env=clinic_env).stdout.strip()
    return {"day": day, "columns": columns, "visits": visits, "round_trips": len(captured),
            "ratio": grid["ratio"], "ratios": grid["ratios"], "grid_p50_ms": grid["page_p50_ms"],
            "f_http_p50_ms": grid["f_http_p50_ms"], "f_sql_s17_mean_ms": grid["f_sql_mean_ms"],
            "statements": [sql for _, sql, _ in captured],
            "slot_finder_mean_ms": statistics.median(finder_runs), "slot_finder_runs_ms": finder_runs,
            "slot_finder_days_read": len(found),
            "slot_finder_plan": plan}


FORTUNES_SQL = "SELECT id, message FROM bench.fortune"


def s1_fortunes(floor_port, reference_port, runtime_url, pool_size, args):
    """S1: the Fortunes page through the application's stack (`bench floor`'s /fortunes: the
    full middleware, the runtime pool, askama) vs pgbench running its one statement on as
    many connections as the pool, and vs the reference handler (axum, pipelined
    tokio-postgres, hand-written escaping). Both pages must list the same fortunes."""
    def rows(port):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/fortunes", headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=5) as res:
            return res.read().decode().count("<tr><td>")
    ours, theirs = rows(floor_port), rows(reference_port)
    if ours != theirs or ours < 2:
        raise RuntimeError(f"S1: the pages disagree ({ours} fortunes vs the reference's {theirs})")
    page = lambda: wrk(f"http://127.0.0.1:{floor_port}/fortunes", args.seconds, args.connections,
                       headers=["Host: localhost"])
    reference = lambda: wrk(f"http://127.0.0.1:{reference_port}/fortunes", args.seconds, args.connections)
    floor = lambda: pgbench(runtime_url, FORTUNES_SQL + ";\n", args.seconds, pool_size)
    return {"fortunes": ours,
            "vs_floor": alternate("S1 Fortunes/F_sql(S1)", floor, page, args.pairs),
            "vs_reference": alternate("S1 Fortunes/reference", reference, page, args.pairs)}


S10_FLOOR = (
    "WITH due AS (SELECT id FROM jobs WHERE state IN ('queued', 'running') AND run_at <= now() ORDER BY run_at "
    "LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, "
    "run_at = now() + interval '120 seconds', locked_until = now() + interval '120 seconds', "
    "locked_by = 'floor:' || new_ulid()::text, started_at = coalesce(j.started_at, now()) FROM due "
    "WHERE j.id = due.id RETURNING j.id AS job_id, j.locked_by AS claim \\gset\n"
    "BEGIN \\; SELECT set_config('app.organization_id', '', true), set_config('app.user_id', '', true), "
    "set_config('app.acting_for_user_id', '', true), set_config('app.break_glass', 'off', true);\n"
    "UPDATE jobs SET state = 'done', finished_at = now(), locked_by = NULL, locked_until = NULL, last_error = NULL "
    "WHERE id = ':job_id' AND locked_by = ':claim' AND state = 'running';\n"
    "COMMIT;\n"
)


def s10_jobs(binary, env, runtime_url, owner_url, args):
    """S10: no-op jobs through the real worker (4 slots) against pgbench running the same
    statements per job (claim; BEGIN with the settings; finish; COMMIT) on 4 clients, then
    batched claims against unbatched, then enqueue-to-start latency."""
    def cli(*extra):
        out = subprocess.run([str(binary), "bench", "jobs", *extra], env=env, check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        return json.loads(out)

    # Both sides start from the same queue: the same number of jobs, a freshly vacuumed
    # table (a queue's dead rows slow every claim that follows), and run until it is empty.
    size = 2000

    def fresh():
        psql(owner_url, "DELETE FROM jobs WHERE kind = 'noop'")
        psql(owner_url, "VACUUM ANALYZE jobs")

    def worker(batch, jobs):
        def run():
            fresh()
            return {"rps": cli("--jobs", str(jobs), "--workers", "4", "--batch", str(batch))["jobs_per_second"]}
        return run

    def floor():
        fresh()
        psql(owner_url, f"INSERT INTO jobs (kind, payload) SELECT 'noop', '{{}}' FROM generate_series(1, {size})")
        result = pgbench(runtime_url, S10_FLOOR, args.seconds, 4, mode="simple", transactions=size // 4)
        psql(owner_url, "DELETE FROM jobs WHERE kind = 'noop'")
        return result

    unbatched = worker(1, size)
    batched = worker(64, size * 10)
    vs_floor = alternate("S10 unbatched/F_sql(S10)", floor, unbatched, args.pairs)
    vs_unbatched = alternate("S10 batched/unbatched", unbatched, batched, args.pairs)
    latency = cli("--latency-samples", "200")
    return {"vs_floor": vs_floor, "batched": vs_unbatched, "latency": latency}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=5, help="baseline/candidate pairs per scenario (>= 5)")
    parser.add_argument("--seconds", type=int, default=3, help="seconds per load run")
    parser.add_argument("--connections", type=int, default=32, help="HTTP connections (wrk)")
    parser.add_argument("--clients", type=int, default=8, help="database clients (pgbench)")
    parser.add_argument("--orgs", type=int, default=50, help="bench clinics (bench seed)")
    parser.add_argument("--patients-per-org", type=int, default=20000, help="patients per clinic (bench seed)")
    parser.add_argument("--audit-rows", type=int, default=5_000_000,
                        help="audit events appended for S9 (the specification's full growth is 50000000)")
    parser.add_argument("--users", type=int, default=500, help="simulated front-desk staff in S11")
    parser.add_argument("--s11-seconds", type=int, default=45, help="S11 steady-state length once all are signed in")
    parser.add_argument("--compare-list-audit", action="store_true",
                        help="also build the baseline whose lists' audit events hold only a count, and measure S2 "
                             "and S11 against it (the cost of naming the patients a list showed)")
    parser.add_argument("--only", choices=["s2", "s4", "s10", "s17"],
                        help="run one scenario alone (report in target/bench/<name>.json), for tuning")
    args = parser.parse_args()
    if args.pairs < 5:
        sys.exit("bench: at least 5 pairs, so a median of ratios means something")

    # Plain TCP over loopback for everything measured: the application's pool, pgbench and
    # psql (libpq and sqlx both read PGSSLMODE) and the reference (no sslmode: plain). The
    # clusters serve TLS for the tests that need it; left to `prefer`, the floors and the
    # pool would pay for a handshake and encryption that the reference does not, and the
    # ratios would compare transports.
    os.environ["PGSSLMODE"] = "disable"
    runtime_url = os.environ["LOCKDEV_DATABASE_URL"]
    owner_url = os.environ["LOCKDEV_MIGRATION_DATABASE_URL"]
    super_url = os.environ["LOCKDEV_TEST_SUPERUSER_URL"]
    # The application's pool size: F_sql(S2) runs on as many connections as the server has.
    pool_size = int(os.environ.get("LOCKDEV_DB_MAX_CONNECTIONS", "10"))

    log("building the release binary")
    started = time.monotonic()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "lockdev"], cwd=ROOT, check=True)
    build_seconds = time.monotonic() - started
    # The main crate's target directory, wherever cargo puts it (a machine may set one for
    # every project; a fresh clone uses ./target). The two helper programs are workspaces
    # of their own: told the same directory, their binaries land beside the server's.
    target = target_dir()
    binary = target / "release" / "lockdev"
    # S11's load generator, a program of its own (goose), built beside the server.
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", "bench/mixed-flow/Cargo.toml",
                    "--target-dir", str(target)], cwd=ROOT, check=True)
    mixed_flow_binary = target / "release" / "lockdev-mixed-flow"
    # S1's reference, the Fortunes handler on bare tokio-postgres, likewise.
    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path",
                    "bench/fortunes-reference/Cargo.toml", "--target-dir", str(target)], cwd=ROOT, check=True)
    reference_binary = target / "release" / "lockdev-fortunes-reference"
    for built in (binary, mixed_flow_binary, reference_binary):
        if not built.exists():
            sys.exit(f"bench: {built} was not built where cargo said it would be")
    counts_binary = None
    if args.compare_list_audit:
        # The same code but for one line (audit::shown_patients), built aside; then the
        # measured binary again, so target/release/lockdev is what ships.
        log("building the baseline whose lists record only a count")
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "lockdev", "--features",
                        "bench-list-audit-counts"], cwd=ROOT, check=True)
        counts_binary = target / "release" / "lockdev-list-audit-counts"
        shutil.copy2(binary, counts_binary)
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "lockdev"], cwd=ROOT, check=True)

    env = dict(os.environ, LOCKDEV_ENV="development", LOCKDEV_RATE_LIMIT_PER_SECOND="0",
               LOCKDEV_LOG_FORMAT="json", LOCKDEV_LOG="info,sqlx=warn,tower_http=warn")
    subprocess.run([str(binary), "migrate"], env=env, check=True, capture_output=True)
    if args.only == "s10":
        s10 = s10_jobs(binary, env, runtime_url, owner_url, args)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "s10.json").write_text(json.dumps(s10, indent=2) + "\n")
        print(json.dumps({"unbatched_vs_floor": s10["vs_floor"]["ratio"], "batched_vs_unbatched": s10["batched"]["ratio"],
                          "latency": s10["latency"]}, indent=2))
        return
    # The demo's patient signs in during S6 and S7.
    subprocess.run([str(binary), "seed-demo"], env=env, check=True, capture_output=True)

    # The PK floor's table lives in a database of its own, outside the application schema.
    floor_db = "lockdev_bench_floor"
    psql(with_database(owner_url, "postgres"), f"DROP DATABASE IF EXISTS {floor_db}")
    psql(with_database(owner_url, "postgres"), f"CREATE DATABASE {floor_db}")
    psql(with_database(owner_url, floor_db),
         "CREATE TABLE bench_floor (id bigint PRIMARY KEY, payload text NOT NULL);"
         "INSERT INTO bench_floor SELECT g, md5(g::text) FROM generate_series(1, 100000) g;"
         "ANALYZE bench_floor; GRANT SELECT ON bench_floor TO lockdev_runtime;")
    floor_url = with_database(runtime_url, floor_db)

    # Clinics with patients, contacts, care teams, appointments and notes (S2, S4, S5).
    log(f"generating {args.orgs} clinics x {args.patients_per_org} patients")
    seeded = subprocess.run([str(binary), "bench", "seed", "--organizations", str(args.orgs),
                             "--patients-per-org", str(args.patients_per_org)],
                            env=env, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    log(seeded)
    bench_org = psql_value(owner_url, "SELECT id FROM organizations WHERE name = 'Bench Clinic 00'")
    bench_user = "01000000-0000-4000-8000-000000000002"
    in_clinic = f"SET app.organization_id = '{bench_org}'"
    summary_patient = psql_value(owner_url, f"{in_clinic}; SELECT id FROM patients WHERE mrn = 'B0000042'")
    common_surname = psql_value(owner_url, f"{in_clinic}; SELECT lower(family_name) FROM patients "
                                           "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    rare_fragment = psql_value(owner_url, f"{in_clinic}; SELECT lower(left(family_name, 5)) FROM patients "
                                          "GROUP BY family_name HAVING count(*) = 1 ORDER BY family_name LIMIT 1")

    floor_port, app_port, reference_port = free_port(), free_port(), free_port()
    # F_http at / and S1's Fortunes page at /fortunes (`bench seed` wrote its table).
    floor = subprocess.Popen([str(binary), "bench", "floor", "--bind", f"127.0.0.1:{floor_port}"], env=env,
                             stdout=subprocess.DEVNULL)
    reference = subprocess.Popen([str(reference_binary), f"127.0.0.1:{reference_port}", runtime_url],
                                 stdout=subprocess.DEVNULL)
    # The login storm comes from many forwarded addresses, as through a load balancer.
    # No job workers in the measured server: the reminder planner would otherwise work
    # through the bench clinics' appointments during the runs. S10 measures the queue.
    app_env = dict(env, LOCKDEV_BIND=f"127.0.0.1:{app_port}", LOCKDEV_TRUSTED_PROXIES="127.0.0.1/32",
                   LOCKDEV_JOB_WORKERS="0")
    spawned = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    server_log = open(OUT / "server.log", "w")
    app = subprocess.Popen([str(binary), "serve"], env=app_env, stdout=server_log, stderr=subprocess.STDOUT)
    try:
        cold_start_ms = (wait_http(f"http://127.0.0.1:{app_port}/health") - spawned) * 1000
        wait_http(f"http://127.0.0.1:{floor_port}/")
        wait_http(f"http://127.0.0.1:{reference_port}/fortunes")
        idle_rss = rss_kib(app.pid)

        f_http = lambda: wrk(f"http://127.0.0.1:{floor_port}/", args.seconds, args.connections)
        health = lambda: wrk(f"http://127.0.0.1:{app_port}/health", args.seconds, args.connections)
        sql_one = lambda: pgbench(floor_url, "SELECT 1;\n", args.seconds, args.clients)
        sql_pk = lambda: pgbench(floor_url,
                                 "\\set id random(1, 100000)\nSELECT payload FROM bench_floor WHERE id = :id;\n",
                                 args.seconds, args.clients)

        lookup = "SELECT given_name FROM patients WHERE mrn = 'B' || lpad(:n::text, 7, '0');\n"
        bare = lambda: pgbench(runtime_url, "\\set n random(1, 20000)\n" + lookup, args.seconds, args.clients,
                               mode="simple",
                               env=dict(os.environ, PGOPTIONS=f"-c app.organization_id={bench_org} -c jit=off -c max_parallel_workers_per_gather=0"))
        envelope = lambda: pgbench(
            runtime_url,
            "\\set n random(1, 20000)\n"
            f"BEGIN \\; SELECT set_config('app.organization_id', '{bench_org}', true), "
            f"set_config('app.user_id', '{bench_user}', true), set_config('app.acting_for_user_id', '', true), "
            "set_config('app.break_glass', 'off', true);\n" + lookup + "COMMIT;\n",
            args.seconds, args.clients, mode="simple")

        clinic_env = dict(os.environ, PGOPTIONS=f"-c app.organization_id={bench_org} -c jit=off -c max_parallel_workers_per_gather=0")
        if args.only == "s4":
            s4 = s4_search(runtime_url, floor_url, clinic_env, bench_org, rare_fragment, common_surname, args)
            (OUT / "s4.json").write_text(json.dumps(s4, indent=2) + "\n")
            print(json.dumps({k: (v["ratio"] if isinstance(v, dict) and "ratio" in v else v)
                              for k, v in s4.items() if k != "plans"}, indent=2))
            return
        if args.only == "s17":
            bench_kind = psql_value(owner_url, f"{in_clinic}; SELECT id FROM appointment_types LIMIT 1")
            s17 = s17_schedule_grid(app_port, floor_port, runtime_url, super_url, clinic_env,
                                    uuid_to_ulid(summary_patient), uuid_to_ulid(bench_kind), args)
            (OUT / "s17.json").write_text(json.dumps(s17, indent=2) + "\n")
            print(json.dumps({k: s17[k] for k in ("ratio", "grid_p50_ms", "f_http_p50_ms", "f_sql_s17_mean_ms",
                                                  "round_trips", "columns", "visits", "slot_finder_mean_ms")},
                             indent=2))
            return
        desk = staff_browser(app_port)
        summary_path = f"/patients/{uuid_to_ulid(summary_patient)}"
        status, _, _ = desk.request("GET", summary_path)
        if status != 200:
            raise RuntimeError(f"S2: the summary page answered {status}")
        cookie = desk.cookie

        # F_sql(S2): exactly the statements one summary request sends, read from the
        # server's statement log while one request runs (after a first one, so the session
        # is not due for its periodic refresh), replayed by pgbench.
        def one_summary():
            status, _, _ = desk.request("GET", summary_path)
            if status != 200:
                raise RuntimeError(f"S2: the summary page answered {status}")
        captured = capture_statements(super_url, one_summary)
        desk.close()
        session_writes = [sql for _, sql, _ in captured
                          if re.match(r"\s*(INSERT INTO|UPDATE|DELETE FROM) tower_sessions", sql)]
        if session_writes:
            raise RuntimeError("S2: the captured request wrote its session; S7 says it should not")
        s2_script, s2_defines = pgbench_script(captured)
        (OUT / "f_sql_s2.sql").parent.mkdir(parents=True, exist_ok=True)
        (OUT / "f_sql_s2.sql").write_text(s2_script)
        log(f"F_sql(S2): {len(captured)} round trips captured")
        f_sql_s2 = lambda: pgbench(runtime_url, s2_script, args.seconds, pool_size, defines=s2_defines)
        summary_page = lambda: wrk(f"http://127.0.0.1:{app_port}{summary_path}", args.seconds, args.connections,
                                   headers=[f"Cookie: {cookie}", "Host: localhost"])
        s2 = s2_patient_summary(app_port, floor_port, runtime_url, s2_script, s2_defines, summary_path, cookie, args)
        if args.only == "s2":
            s2["round_trips"] = len(captured)
            s2["throughput"] = alternate("S2 summary", f_sql_s2, summary_page, args.pairs)
            (OUT / "f_sql_s2.defines").write_text("\n".join(s2_defines) + "\n")
            (OUT / "s2.json").write_text(json.dumps(s2, indent=2) + "\n")
            print(json.dumps({k: s2[k] for k in ("ratio", "page_p50_ms", "f_http_p50_ms", "f_sql_s2_mean_ms",
                                                "round_trips")} | {"throughput": s2["throughput"]["ratio"]}, indent=2))
            return
        s4 = s4_search(runtime_url, floor_url, clinic_env, bench_org, rare_fragment, common_surname, args)
        bench_kind = psql_value(owner_url, f"{in_clinic}; SELECT id FROM appointment_types LIMIT 1")
        s17 = s17_schedule_grid(app_port, floor_port, runtime_url, super_url, clinic_env,
                                uuid_to_ulid(summary_patient), uuid_to_ulid(bench_kind), args)
        s1 = s1_fortunes(floor_port, reference_port, runtime_url, pool_size, args)

        results = {
            "F_sql(pk) vs F_sql(1)": alternate("F_sql(pk)/F_sql(1)", sql_one, sql_pk, args.pairs),
            "S2 patient summary vs F_sql(S2)": alternate("S2 summary", f_sql_s2, summary_page, args.pairs),
            "stack/health vs F_http": alternate("stack/health", f_http, health, args.pairs),
            "S5 tenant envelope vs bare read": alternate("S5 envelope", bare, envelope, args.pairs),
        }
        login = s6_login_storm(app_port, args.seconds, args.pairs)
        seal = lambda: subprocess.run([str(binary), "audit", "seal"], env=env, check=True, capture_output=True)
        session = s7_session_overhead(app_port, owner_url, super_url, seal)
        loaded_rss = rss_kib(app.pid)
        s8 = s8_audit_append(app_port, summary_path, cookie, super_url, runtime_url, s2_script, s2_defines,
                             pool_size, args)
        s10 = s10_jobs(binary, env, runtime_url, owner_url, args)
        s11 = s11_mixed_flow(mixed_flow_binary, app_port, app.pid, args)
        flood = json.loads(subprocess.run([str(binary), "bench", "rate-limit"], env=env, check=True,
                                          capture_output=True, text=True).stdout.strip().splitlines()[-1])
        log(f"rate limiter flood: {flood}")
        list_audit = None
        if counts_binary:
            list_audit = list_audit_cost(counts_binary, app_env, app_port, summary_path, cookie, mixed_flow_binary,
                                         args)
        # Last: it grows the audit log for good.
        s9 = s9_audit_growth(binary, env, app_port, summary_path, cookie, floor_url, super_url, args)
    finally:
        for proc in (app, floor, reference):
            proc.send_signal(signal.SIGTERM)
        for proc in (app, floor, reference):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        psql(with_database(owner_url, "postgres"), f"DROP DATABASE IF EXISTS {floor_db} WITH (FORCE)")

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"pairs": args.pairs, "seconds": args.seconds, "connections": args.connections,
                     "clients": args.clients, "pool": pool_size, "cores": os.cpu_count()},
        "floors": {
            "F_http": results["stack/health vs F_http"]["baseline"],
            "F_sql(1)": results["F_sql(pk) vs F_sql(1)"]["baseline"],
            "F_sql(pk)": results["F_sql(pk) vs F_sql(1)"]["candidate"],
            "F_sql(S2)": results["S2 patient summary vs F_sql(S2)"]["baseline"],
            "F_sql(S1)": s1["vs_floor"]["baseline"],
            "S1 reference (axum + pipelined tokio-postgres)": s1["vs_reference"]["baseline"],
            "bare read under RLS (tenant set per session)": results["S5 tenant envelope vs bare read"]["baseline"],
        },
        "round_trips": {"S5 tenant envelope": 3, "S5 bare read": 1, "S2 summary": len(captured)},
        "F_sql(S2) statements": [sql for _, sql, _ in captured],
        "S6 login storm": login,
        "S2 latency": s2,
        "S4 search": s4,
        "S17 schedule grid": s17,
        "S1 Fortunes": {"fortunes": s1["fortunes"]},
        "seed-bench": seeded,
        "S7 session overhead": session,
        "S10 job queue": s10,
        "S8 audit append": s8,
        "S9 audit growth": s9,
        "S11 mixed flow": s11,
        "A.2 lists naming their patients (S2, S11) vs counting them": list_audit,
        "rate limiter flood": flood,
        "scenarios": dict(results, **{"S1 Fortunes page vs F_sql(S1)": s1["vs_floor"],
                                      "S1 Fortunes page vs the tokio-postgres reference": s1["vs_reference"],
                                      "S8 summary statements with audit vs without": s8["with_vs_without"],
                                      "S10 jobs unbatched vs F_sql(S10)": s10["vs_floor"],
                                      "S10 jobs batched vs unbatched": s10["batched"]}),
        "process": {
            "binary_bytes": binary.stat().st_size,
            "cold_start_to_first_200_ms": round(cold_start_ms, 1),
            "rss_idle_kib": idle_rss,
            "rss_after_load_kib": loaded_rss,
            "rss_peak_during_s11_kib": s11["loaded"]["rss_peak_kib"],
            "release_build_seconds": round(build_seconds, 1),
        },
    }
    build_times = OUT / "build-times.json"
    if build_times.exists():
        report["build times"] = json.loads(build_times.read_text())
    write(report)


def targets(report):
    """(scenario, measured, target, met) for every bar of the specification; met is None
    for a scenario this harness does not measure yet."""
    scen = report["scenarios"]
    s2, s4, s6, s7 = report["S2 latency"], report["S4 search"], report["S6 login storm"], report["S7 session overhead"]
    s8, s9, s10 = report["S8 audit append"], report["S9 audit growth"], report["S10 job queue"]
    s11 = report["S11 mixed flow"]
    s17 = report["S17 schedule grid"]
    rows = [
        ("S1 Fortunes page vs tokio-postgres reference",
         f"{scen['S1 Fortunes page vs the tokio-postgres reference']['ratio']:.3f} "
         f"({scen['S1 Fortunes page vs F_sql(S1)']['ratio']:.3f} of F_sql(S1))", ">= 0.7",
         scen["S1 Fortunes page vs the tokio-postgres reference"]["ratio"] >= 0.7),
        ("S2 summary throughput vs F_sql(S2)", f"{scen['S2 patient summary vs F_sql(S2)']['ratio']:.3f}", ">= 0.6",
         scen["S2 patient summary vs F_sql(S2)"]["ratio"] >= 0.6),
        ("S2 summary p50 vs F_http + F_sql(S2)", f"{s2['ratio']:.3f}x", "<= 1.3x", s2["ratio"] <= 1.3),
        ("S3 screen-pop", "-", "(feature not built)", None),
        ("S4 rare fragment", f"{s4['rare_mean_ms']:.3f} ms", "<= 1 ms", s4["rare_mean_ms"] <= 1.0),
        ("S4 common surname", f"{s4['common_mean_ms']:.3f} ms", "<= 5 ms", s4["common_mean_ms"] <= 5.0),
        ("S4 exact MRN vs the patient's PK lookup", f"{s4['mrn_vs_patient_pk']['ratio']:.2f}x "
         f"({s4['mrn_vs_pk']['ratio']:.2f}x the floor table's)", "<= 1.2x", s4["mrn_vs_patient_pk"]["ratio"] <= 1.2),
        ("S4 exact phone vs the patient's PK lookup", f"{s4['phone_vs_patient_pk']['ratio']:.2f}x "
         f"({s4['phone_vs_pk']['ratio']:.2f}x the floor table's)", "<= 1.2x",
         s4["phone_vs_patient_pk"]["ratio"] <= 1.2),
        ("S5 tenant envelope", f"+{report['round_trips']['S5 tenant envelope'] - report['round_trips']['S5 bare read']} "
         f"round trips ({scen['S5 tenant envelope vs bare read']['ratio']:.3f} of a bare read's throughput)",
         "<= 2 extra round trips",
         report['round_trips']['S5 tenant envelope'] - report['round_trips']['S5 bare read'] <= 2),
        ("S6 page p99 during a login storm", f"{s6['ratio']:.2f}x" + (f", unexpected sign-in answers {s6['unexpected']}"
                                                                     if s6.get("unexpected") else ""),
         "<= 2x", s6["ratio"] <= 2.0 and not s6.get("unexpected")),
        ("S7 session overhead", f"{s7['queries_per_request']:.3f} queries, {s7['writes_per_request']:.3f} writes",
         "1 query, 0 writes", round(s7["queries_per_request"], 2) <= 1.0 and round(s7["writes_per_request"], 2) <= 0),
        ("S8 WAL flushes per request", f"{s8['flushes_per_request']:.3f}", "<= 1", s8["flushes_per_request"] <= 1.0),
        ("S8 with audit vs without", f"{s8['with_vs_without']['ratio']:.3f}", ">= 0.4",
         s8["with_vs_without"]["ratio"] >= 0.4),
        (f"S9 summary p99 after {s9['audit_rows']:,} audit events", f"{s9['ratio']:.3f}x", "<= 1.1x (at 50M)",
         s9["ratio"] <= 1.1),
        ("S10 unbatched vs F_sql(S10)", f"{s10['vs_floor']['ratio']:.3f}", ">= 0.8", s10["vs_floor"]["ratio"] >= 0.8),
        ("S10 batched vs unbatched", f"{s10['batched']['ratio']:.2f}x", ">= 3x", s10["batched"]["ratio"] >= 3),
        ("S10 enqueue to start p50", f"{s10['latency']['p50_ms']:.2f} ms", "<= 5 ms", s10["latency"]["p50_ms"] <= 5),
        (f"S11 mixed flow, {s11['users']} front-desk staff (2,000 of every persona once the portal and "
         "the screen-pop exist)", f"p99 {s11['ratio']:.2f}x unloaded p50, {s11['loaded']['errors']} errors",
         "p99 <= 3x unloaded p50, 0 errors",
         s11["ratio"] <= 3 and s11["loaded"]["errors"] == 0 and s11["loaded"]["requests"] > 0),
        ("S12 patient home", "-", "(portal not built)", None),
        ("S13 who viewed my record", "-", "(portal not built)", None),
        ("S14 compliance audit search", "-", "(console not built)", None),
        ("S15 document upload", "-", "(documents not built)", None),
        ("S16 backup and restore drill", "-", "(not built)", None),
        ("S17 day grid p50 vs F_http + F_sql(S17)", f"{s17['ratio']:.3f}x ({s17['columns']} providers, "
         f"{s17['visits']} visits)", "<= 1.3x", s17["ratio"] <= 1.3),
        ("S17 slot finder at the database", f"{s17['slot_finder_mean_ms']:.3f} ms", "<= 5 ms",
         s17["slot_finder_mean_ms"] <= 5.0),
    ]
    return rows


def write(report):
    OUT.mkdir(parents=True, exist_ok=True)
    json_path, md_path = OUT / "report.json", OUT / "report.md"
    previous = None
    if json_path.exists():
        previous = json.loads(json_path.read_text())
        shutil.copy(json_path, OUT / "report.previous.json")

    lines = [
        "# Lockdev benchmark report", "",
        "## Against the targets", "",
        "| scenario | measured | target | |", "|---|---|---|---|",
        *[f"| {name} | {measured} | {target} | {'met' if met else '**missed**' if met is not None else 'not measured'} |"
          for name, measured, target, met in targets(report)],
        "",
        f"Generated {report['generated_at']} on {report['settings']['cores']} cores; "
        f"{report['settings']['pairs']} alternating pairs of {report['settings']['seconds']} s each, "
        f"{report['settings']['connections']} HTTP connections, {report['settings']['clients']} database clients.",
        "", "## Floors (medians of this run)", "",
        "| floor | throughput /s | latency |", "|---|---|---|",
    ]
    for name, floor in report["floors"].items():
        latency = f"p50 {floor['p50_ms']:.3f} ms, p99 {floor['p99_ms']:.3f} ms" if "p50_ms" in floor \
            else f"mean {floor['mean_ms']:.3f} ms"
        lines.append(f"| {name} | {floor['rps']:.0f} | {latency} |")
    lines += ["", "## Scenarios (median ratio of throughput, candidate / baseline)", "",
              "| scenario | ratio | pair ratios | candidate | previous | change |", "|---|---|---|---|---|---|"]
    regressions = []
    for name, result in report["scenarios"].items():
        before = previous and previous.get("scenarios", {}).get(name, {}).get("ratio")
        change = ""
        if before:
            delta = result["ratio"] / before - 1
            change = f"{delta:+.1%}"
            if delta < -REGRESSION:
                change += " REGRESSED"
                regressions.append(name)
        candidate = result["candidate"]
        shown = f"{candidate['rps']:.0f}/s" + (f", p50 {candidate['p50_ms']:.3f} ms" if "p50_ms" in candidate else "")
        pairs = ", ".join(f"{r:.3f}" for r in result["ratios"])
        lines.append(f"| {name} | **{result['ratio']:.3f}** | {pairs} | {shown} | "
                     f"{before and f'{before:.3f}' or '-'} | {change} |")
    lines += ["", "Round trips per request: tenant envelope 3 (BEGIN with the settings, the read, COMMIT), "
              "bare read 1: the envelope adds 2."]
    # What the middleware costs: the machine's cores are busy in both runs, so the CPU one
    # request takes is cores / throughput; the stack's share is the difference.
    cores = report["settings"]["cores"]
    stack = report["scenarios"]["stack/health vs F_http"]
    per_request_us = lambda rps: cores * 1e6 / rps
    stack_us = per_request_us(stack["candidate"]["rps"]) - per_request_us(stack["baseline"]["rps"])
    s1_ref = report["scenarios"]["S1 Fortunes page vs the tokio-postgres reference"]
    s1_us = per_request_us(s1_ref["candidate"]["rps"]) - per_request_us(s1_ref["baseline"]["rps"])
    lines += ["", f"The middleware stack costs about **{stack_us:.0f} µs of CPU per request** ({cores} cores busy: "
              f"/health through the whole stack at {stack['candidate']['rps']:.0f}/s vs the bare axum floor at "
              f"{stack['baseline']['rps']:.0f}/s). The Fortunes page costs {s1_us:.0f} µs more per request than the "
              "reference handler (same query, same compression; the difference is the middleware stack, sqlx "
              "and askama)."]
    s6 = report["S6 login storm"]
    lines += ["", "## S6 login storm", "",
              f"p99 of GET / at 40 requests/s: **{s6['ratio']:.2f}x** during a storm of sign-ins vs alone "
              f"(pairs: {', '.join(f'{r:.2f}' for r in s6['ratios'])}; bar <= 2); "
              f"alone p50 {s6['baseline']['p50_ms']:.2f} ms, p99 {s6['baseline']['p99_ms']:.2f} ms; "
              f"during p50 {s6['candidate']['p50_ms']:.2f} ms, p99 {s6['candidate']['p99_ms']:.2f} ms. "
              f"Sign-ins completed: {s6['sign_ins_per_second']:.1f}/s; refused with 503 (queue full): "
              f"{s6['refused_503']}."]
    s2 = report["S2 latency"]
    s4 = report["S4 search"]
    lines += ["", "## S2 patient summary latency", "",
              f"p50 at one connection: **{s2['ratio']:.3f}x** of F_http + F_sql(S2) at one client (bar <= 1.3): page "
              f"{s2['page_p50_ms']:.3f} ms vs {s2['f_http_p50_ms']:.3f} + {s2['f_sql_s2_mean_ms']:.3f} ms "
              f"(pairs: {', '.join(f'{r:.3f}' for r in s2['ratios'])}). Throughput is in the table above "
              "(S2 vs F_sql(S2), bar >= 0.6).", "",
              f"F_sql(S2) is pgbench replaying the {report['round_trips']['S2 summary']} round trips one summary "
              f"request made (read from the server's statement log; script in target/bench/f_sql_s2.sql), on "
              f"{report['settings']['pool']} connections like the server's pool:", "", "```",
              *report["F_sql(S2) statements"], "```",
              "", "## S4 search at the database (one client, under row-level security)", "",
              f"Rare fragment '{s4['rare_fragment']}' ({s4['matches']['rare fragment']} matches): "
              f"**{s4['rare_mean_ms']:.3f} ms** (bar <= 1 ms). Commonest surname '{s4['common_surname']}' "
              f"({s4['matches']['common surname']} matches): **{s4['common_mean_ms']:.3f} ms** (bar <= 5 ms). "
              f"Exact MRN: **{s4['mrn_vs_patient_pk']['ratio']:.2f}x** the latency of reading a patient by "
              f"primary key (same table, same row-level security, same columns), "
              f"{s4['mrn_vs_pk']['ratio']:.2f}x the floor's bigint key in a 100k-row table; exact phone "
              f"(a number of the patient's own) against that patient's primary key: "
              f"**{s4['phone_vs_patient_pk']['ratio']:.2f}x** and {s4['phone_vs_pk']['ratio']:.2f}x the floor's "
              f"(bar <= 1.2x). A household's number (three patients): "
              f"**{s4['household_vs_household_pk']['ratio']:.2f}x** the same three patients read by primary key "
              f"(equal work), {s4['household_vs_member_pk']['ratio']:.2f}x one member's primary key.",
              "", "Plan of the commonest-surname search:", "", "```", s4["plans"]["common surname"], "```",
              "", f"Data: {report['seed-bench']}"]
    s7 = report["S7 session overhead"]
    lines += ["", "## S7 session overhead", "",
              f"GET /home with an unmodified signed-in session, {s7['requests']} requests: "
              f"**{s7['queries_per_request']:.3f} queries** and **{s7['writes_per_request']:.3f} row writes** "
              f"per request (bar: 1 and 0), after subtracting a quiet window of the same length "
              f"({s7['background']['transactions']} transactions, {s7['background']['row_writes']} row writes "
              f"in the background); {s7['requests_per_second']:.0f} requests/s on one connection.",
              "",
              "Rows written per table while the requests ran: "
              + (", ".join(f"{t} {n}" for t, n in sorted(s7['tables_written_during_requests'].items())) or "none")
              + "; in the quiet window: "
              + (", ".join(f"{t} {n}" for t, n in sorted(s7['background']['tables'].items())) or "none") + "."]
    s10 = report["S10 job queue"]
    lines += ["", "## S10 job queue (no-op jobs, 4 worker slots)", "",
              f"Unbatched: **{s10['vs_floor']['ratio']:.3f}x** of pgbench running the same statements per job "
              f"(claim; BEGIN with the settings; finish; COMMIT) on 4 clients (bar >= 0.8); "
              f"{s10['vs_floor']['candidate']['rps']:.0f} jobs/s vs {s10['vs_floor']['baseline']['rps']:.0f}/s. "
              f"Batched (claims of 64, one transaction per clinic batch): **{s10['batched']['ratio']:.2f}x** "
              f"unbatched (bar >= 3); {s10['batched']['candidate']['rps']:.0f} jobs/s. "
              f"Enqueue to start: p50 **{s10['latency']['p50_ms']:.2f} ms**, p99 {s10['latency']['p99_ms']:.2f} ms "
              f"over {s10['latency']['samples']} jobs (bar: p50 <= 5 ms)."]
    s8 = report["S8 audit append"]
    s9 = report["S9 audit growth"]
    lines += ["", "## S8 audit append", "",
              f"WAL flushes per summary request: **{s8['flushes_per_request']:.3f}** ({s8['wal_flushes']} over "
              f"{s8['requests']} requests at 8 connections; bar <= 1; every request appends one audit event and "
              f"commits durably, concurrent commits share a flush). The summary's statements with the audit append "
              f"vs without it: **{s8['with_vs_without']['ratio']:.3f}** (bar >= 0.4).",
              "", "## S9 audit growth", "",
              f"Summary p99 at 4 connections, each run paired with the primary-key floor: **{s9['ratio']:.3f}x** after "
              f"appending {s9['audit_rows']:,} audit events vs before (bar <= 1.1); p99 {s9['before']['p99_ms']:.2f} ms "
              f"before, {s9['after']['p99_ms']:.2f} ms after. {s9['seeded']}."]
    s11 = report["S11 mixed flow"]
    loaded, unloaded = s11["loaded"], s11["unloaded"]
    lines += ["", "## S11 mixed flow (goose, a cookie jar per person)", "",
              f"{s11['users']} front-desk staff, each signed in with password and authenticator code, then "
              f"workspace, registry search, a patient's summary, contacts and appointments, the day's schedule, "
              f"2-8 s apart, for {loaded['seconds']} s once all had signed in: {loaded['requests']} requests, "
              f"**{loaded['errors']} errors**, p50 {loaded['p50_ms']:.2f} ms, p99 **{loaded['p99_ms']:.2f} ms** = "
              f"**{s11['ratio']:.2f}x** the unloaded p50 of {unloaded['p50_ms']:.2f} ms (one person, "
              f"{unloaded['requests']} requests; bar <= 3x, 0 errors).", "",
              "| request | requests | errors | p50 ms | p99 ms |", "|---|---|---|---|---|",
              *[f"| {name} | {r['requests']} | {r['errors']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} |"
                for name, r in sorted(loaded["routes"].items())]]
    if loaded["error_kinds"]:
        lines += ["", "Errors: " + "; ".join(loaded["error_kinds"])]
    a2 = report.get("A.2 lists naming their patients (S2, S11) vs counting them")
    if a2:
        rounds = a2["s11_rounds"]
        lines += ["", "## Lists naming the patients they showed (A.2), before and after", "",
                  "The measured server against a second one built with `--features bench-list-audit-counts` "
                  "(a list's audit event holds only its count, as before), same database, alternately. "
                  f"S2 summary p50 at one connection: **{a2['s2_p50']['ratio']:.3f}x** (named / count only). "
                  f"S11 loaded, {len(rounds)} rounds each: p50 **{a2['s11_p50_ratio']:.3f}x**, "
                  f"p99 **{a2['s11_p99_ratio']:.3f}x**.", "",
                  "| round | p50 named | p50 count only | p99 named | p99 count only | errors named / count only |",
                  "|---|---|---|---|---|---|",
                  *[f"| {i + 1} | {r['named']['p50_ms']:.2f} | {r['count_only']['p50_ms']:.2f} | "
                    f"{r['named']['p99_ms']:.2f} | {r['count_only']['p99_ms']:.2f} | "
                    f"{r['named']['errors']} / {r['count_only']['errors']} |" for i, r in enumerate(rounds)]]
    fl = report["rate limiter flood"]
    lines += ["", "## Rate limiter under a spread-out flood", "",
              f"{fl['addresses']:,} addresses, one request a second each: the capped limiter "
              f"**{fl['current_ns_per_check']:.0f} ns** per check, {fl['current_tracked']:,} addresses tracked at the end; "
              f"the uncapped design it replaced {fl['replaced_ns_per_check']:.0f} ns per check, "
              f"{fl['replaced_tracked']:,} tracked."]
    p = report["process"]
    lines += ["", "## Process", "",
              f"- binary size: {p['binary_bytes'] / 1e6:.1f} MB",
              f"- cold start to first 200 on /health: {p['cold_start_to_first_200_ms']} ms",
              f"- resident memory: {p['rss_idle_kib'] / 1024:.1f} MiB idle, "
              f"{p['rss_after_load_kib'] / 1024:.1f} MiB after the load runs, "
              f"{p['rss_peak_during_s11_kib'] / 1024:.1f} MiB at most under S11",
              f"- release build (incremental, as run): {p['release_build_seconds']} s"]
    builds = report.get("build times")
    if builds:
        lines.append(f"- release build from clean: {builds['clean_release_seconds']} s; after a one-file change: "
                     f"{builds['incremental_release_seconds']} s (`just bench-build` at {builds['commit']}, "
                     f"{builds['measured_at']})")
    else:
        lines.append("- clean and one-file-change build times: not measured (`just bench-build`)")
    lines.append("")
    if regressions:
        lines.append(f"**Regressed by more than {REGRESSION:.0%} against the previous report:** {', '.join(regressions)}")
    report["regressions"] = regressions
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text("\n".join(lines) + "\n")
    print(md_path.read_text())
    log(f"wrote {md_path} and {json_path}")


if __name__ == "__main__":
    main()
