#!/usr/bin/env python3
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""Start-up load of a big PostgreSQL location table: aor against stock
usrloc, both in db_mode 1, on the same table.

    python3 bench/dbload.py                  # N = 1,000,000
    python3 bench/dbload.py -n 200000 --reps 3 --stock-ruids

1. Starts a private PostgreSQL (test/integration/pgserver.py), makes
   Kamailio's location table and fills it with N one-binding AoRs by one
   COPY through psql (expiring in 2 h; ruids as aor writes them, or with
   --stock-ruids as stock usrloc writes them: aor then re-keys every row,
   the migration case).
2. For each implementation and repetition: starts Kamailio (shm 4 GB) on
   that table and measures, from the start of the process, the time until
   kamcmd answers and until every row is in memory (aor.count, or stock's
   usrloc:location_contacts, polled by kamcmd); for aor also the load time
   it logs ("loaded N bindings from N rows in X ms"), and the shm used.
3. Prints a table; median over the repetitions, min-max beside it. The
   table is also written to <--out>/dbload.md, with charts beside it.
Stock loads in its first SIP worker's child_init, after the fork, so its
kamcmd may answer before its rows are in; aor loads in mod_init, before.
With --stock-ruids the stock run goes first (aor re-keys the rows). Not a
test: not run by `make test`.
"""

import argparse
import os
import re
import signal
import statistics
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import charts  # noqa: E402
import kam as kammod  # noqa: E402
import pgserver  # noqa: E402


def fill(pg, db, n, stock_ruids):
    """n rows by one COPY FROM STDIN; returns the seconds it took."""
    now = time.time()
    exp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now + 7200))
    mod = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    cols = ["ruid", "username", "contact", "expires", "q", "callid", "cseq",
            "last_modified", "user_agent"]
    rows = (("uloc-6b000000-%x-%d" % (i >> 16, i) if stock_ruids
             else "aor-%016x" % (0x0000ab0000000000 + i),
             "u%07d" % i,
             "sip:u%07d@10.%d.%d.%d:5060" % (i, (i >> 16) & 255,
                                             (i >> 8) & 255, i & 255),
             exp, -1, "c%d@bench" % i, 1 + i % 1000, mod, "bench/1")
            for i in range(n))
    took = pg.copy(db, "location", cols, rows)
    pg.psql("ANALYZE location", db)
    return took


def count(k):
    """Bindings in memory (aor.count, or stock's usrloc statistics)."""
    try:
        return k.count()[1]
    except Exception:  # the RPC process busy, or no answer yet
        return -1


def shm_used(k):
    out = k.kamcmd("core.shmmem")
    m = re.search(r"real_used:\s*(\d+)", out)
    return int(m.group(1)) if m else -1


def one_run(work, impl, url, n, fetch_rows, deadline_s, alloc=None,
            hash_size=None):
    mp = {"db_url": url, "db_mode": 1, "fetch_rows": fetch_rows}
    if hash_size:
        mp["hash_size"] = hash_size
    k = kammod.Kamailio(tempfile.mkdtemp(prefix=impl + "-", dir=work),
                        impl=impl, modules=["db_postgres.so"], modparams=mp)
    k.args = ["-m", "4096"]
    if alloc:
        k.args += ["-x", alloc, "-X", alloc]
    t0 = time.monotonic()
    try:
        k.start(timeout=deadline_s)
        ready = time.monotonic() - t0
        deadline = t0 + deadline_s
        got, moved = count(k), time.monotonic()
        # bounded: the deadline, or 20 s without a binding more
        while got < n and time.monotonic() < min(deadline, moved + 20):
            time.sleep(0.1)
            last, got = got, count(k)
            if got != last:
                moved = time.monotonic()
        full = time.monotonic() - t0
        shm = shm_used(k)
        log = open(k.log_path).read()
        m = re.search(r"loaded (\d+) bindings from (\d+) rows in (\d+) ms", log)
        logged = int(m.group(3)) if m else None
        return {"ready": ready, "full": full if got >= n else None,
                "got": got, "logged": logged, "shm": shm}
    finally:
        k.stop(timeout=60)


def fmt(vals, scale=1.0, unit="s", digits=1):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    med = statistics.median(vals) * scale
    s = "%.*f %s" % (digits, med, unit)
    if len(vals) > 1:
        s += " [%.*f-%.*f]" % (digits, min(vals) * scale, digits,
                               max(vals) * scale)
    return s


def figure(vals, scale=1.0):
    """A chart's value: None, the one value, or (median, min, max)."""
    vals = [v * scale for v in vals if v is not None]
    if len(vals) < 2:
        return vals[0] if vals else None
    return statistics.median(vals), min(vals), max(vals)


def main():
    # SIGTERM runs the finally blocks: no server or Kamailio left behind
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=1000000, help="rows")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--fetch-rows", type=int, default=2000,
                    help="fetch_rows of both (stock's default: 2000)")
    ap.add_argument("--impls", default="stock,aor")
    ap.add_argument("--stock-ruids", action="store_true",
                    help="rows as stock wrote them (aor re-keys each)")
    ap.add_argument("--allocator", default=None,
                    help="Kamailio's shm and pkg allocator (-x, -X: qm, fm, "
                    "tlsf; default qm)")
    ap.add_argument("--hash-size", type=int, default=None,
                    help="hash_size of both (2^N slots; stock's default 10, "
                    "aor's table grows by itself)")
    ap.add_argument("--deadline", type=float, default=900,
                    help="seconds a start may take")
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the table and its charts go")
    a = ap.parse_args()
    report = charts.Output(a.out, "dbload")
    work = tempfile.mkdtemp(prefix="aor-bench-dbload-")
    pg = pgserver.PgServer(settings={"shared_buffers": "512MB"}).start()
    try:
        db = pg.create_db("loc")
        t = fill(pg, db, a.n, a.stock_ruids)
        print("filled %d rows by COPY in %.1f s" % (a.n, t), flush=True)
        runs = {}
        for impl in a.impls.split(","):
            runs[impl] = []
            for r in range(a.reps):
                if impl == "aor" and a.stock_ruids and r > 0:
                    break  # the rows are aor's now
                res = one_run(work, impl, pg.url(db), a.n, a.fetch_rows,
                              a.deadline, a.allocator, a.hash_size)
                print("  %s run %d: %s" % (impl, r + 1, res), flush=True)
                runs[impl].append(res)
        print()
        print("N = %d rows, PostgreSQL 15 on 127.0.0.1, db_mode 1, "
              "fetch_rows %d, %s ruids, allocator %s, hash_size %s"
              % (a.n, a.fetch_rows, "stock" if a.stock_ruids else "aor",
                 a.allocator or "qm", a.hash_size or "default"))
        print("| impl | load (its log) | kamcmd answers | all rows in memory "
              "| shm used |")
        print("|---|---|---|---|---|")
        for impl, rs in runs.items():
            print("| %s | %s | %s | %s | %s |" % (
                impl, fmt([r["logged"] for r in rs], 1e-3),
                fmt([r["ready"] for r in rs]), fmt([r["full"] for r in rs]),
                fmt([r["shm"] for r in rs], 1 / 2 ** 20, "MB", 0)))
            for r in rs:
                if r["full"] is None:
                    print("  %s: only %d of %d rows in memory by the deadline"
                          % (impl, r["got"], a.n))
        what = "N = %d rows, PostgreSQL, db_mode 1, %s" % (
            a.n, a.allocator or "qm")
        report.bar("time", "start-up load, " + what, "seconds",
                   ["load (its log)", "kamcmd answers", "all rows in memory"],
                   [(impl, [figure([r["logged"] for r in rs], 1e-3),
                            figure([r["ready"] for r in rs]),
                            figure([r["full"] for r in rs])])
                    for impl, rs in runs.items()])
        report.bar("shm", "shm used after the load, " + what, "MB",
                   ["shm used"], [(impl, [figure([r["shm"] for r in rs],
                                                 1 / 2 ** 20)])
                                  for impl, rs in runs.items()])
    finally:
        pg.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
