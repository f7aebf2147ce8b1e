#!/usr/bin/env python3
"""CPU per REGISTER with the location table in SQLite (db_sqlite), stock
usrloc against aor, in the same run, db_mode 0, 1 and 2.

    python3 bench/dbbench.py [--n 5000] [--rate 500] [--reps 3]

Each configuration is bench.py's (4 workers, the same cfg) with
modparam db_url (an SQLite file made from Debian's schema) and db_mode.
The figure is CPU us per request from /proc/<pid>/schedstat of EVERY
Kamailio process (so the writer process of aor and the timer of stock's
write-back count), median of --reps runs, for N new AoRs (register), the
same N refreshed (refresh: an UPDATE each) and unregistered (a DELETE
each). callgrind is not used: it collects inside receive_msg only, which
would leave the writers out. Every SIPp run must end with no failed call
and no retransmission, else the figure is marked invalid; db_mode 1 of
stock writes with one commit (fsync) per request on the SIP worker, so
keep --rate where stock can follow. The table is also written to
<--out>/dbbench.md, with a chart per db_mode beside it.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))

import bench  # noqa: E402
import charts  # noqa: E402
from test_db import make_db, rows  # noqa: E402

PHASES = (("register", 1, 3600), ("refresh", 2, 3600), ("unregister", 3, 0))


def setup(impl, mode, path):
    s = dict(bench.SETUPS[impl])
    if mode:
        mod = "usrloc" if impl == "stock" else "aor"
        s["loads"] = 'loadmodule "db_sqlite.so"\n' + s["loads"]
        s["params"] += ('\nmodparam("%s", "db_url", "sqlite://%s")\n'
                        'modparam("%s", "db_mode", %d)\n'
                        'modparam("%s", "timer_interval", 1)'
                        % (mod, path, mod, mode, mod))
    name = "%s-db%d" % (impl, mode)
    bench.SETUPS[name] = s
    return name


def run(work, impl, mode, n, rate):
    path = os.path.join(work, "%s-%d.db" % (impl, mode))
    if os.path.exists(path):
        os.unlink(path)
    make_db(path)
    name = setup(impl, mode, path)
    users = ["d%07d" % i for i in range(n)]
    k = bench.Kam(work, name, 1024, "qm")
    out = {"ok": True}
    try:
        inf = bench.inf_file(work, users, "seq")
        for phase, seq, exp in PHASES:
            c0 = k.cpu_ns()
            ok, secs, note = bench.sipp(k, work, "register.xml", inf, n, rate,
                                        (("regseq", seq), ("expires", exp)))
            if mode == 2:  # the write-back of this phase, within the figure
                bench.time.sleep(2.5)
            out[phase] = (k.cpu_ns() - c0) / 1000.0 / n
            out["ok"] &= ok
            if not ok:
                out.setdefault("notes", []).append("%s: %s" % (phase, note))
        left = len(rows(path)) if mode else 0
        out["rows_left"] = left
    finally:
        k.stop()
        with open(os.path.join(k.dir, "kamailio.log"), errors="replace") as f:
            log = f.read()
        out["locked"] = log.count("database is locked")
        out["db_errors"] = sum(1 for line in log.splitlines()
                               if "ERROR" in line and ("db" in line.lower()
                                                       or "sql" in line.lower()))
        shutil.rmtree(k.dir, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--rate", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="0,1,2")
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the table and its charts go")
    args = ap.parse_args()
    report = charts.Output(args.out, "dbbench")
    meds = {}  # {mode: {impl: [median per phase, None if invalid]}}
    work = tempfile.mkdtemp(prefix="aor-dbbench-")
    print("## CPU us per request, location table in SQLite (N=%d, %d/s, "
          "median of %d)" % (args.n, args.rate, args.reps))
    print("| db_mode | request | stock | aor | aor/stock |")
    print("|---|---|---|---|---|")
    try:
        for mode in [int(m) for m in args.modes.split(",")]:
            res = {impl: [run(work, impl, mode, args.n, args.rate)
                          for _ in range(args.reps)]
                   for impl in ("stock", "aor")}
            for phase, _, _ in PHASES:
                med = {}
                for impl, rs in res.items():
                    med[impl] = statistics.median(r[phase] for r in rs)
                    if not all(r["ok"] for r in rs):
                        med[impl] = None
                    meds.setdefault(mode, {}).setdefault(impl, []).append(
                        med[impl])
                print("| %d | %s | %s | %s | %s |" % (
                    mode, phase,
                    *["%.1f" % med[i] if med[i] is not None else "invalid"
                      for i in ("stock", "aor")],
                    "%.2f" % (med["aor"] / med["stock"])
                    if med["aor"] and med["stock"] else "-"))
                sys.stdout.flush()
            bad = [(i, r["rows_left"]) for i, rs in res.items() for r in rs
                   if r["rows_left"]]
            if bad:
                print("rows left after unregistering every AoR: %s" % bad)
            for impl, rs in res.items():
                for r in rs:
                    if r.get("notes") or r["db_errors"]:
                        print("%s db_mode %d: %s; %d database error lines "
                              "(%d 'database is locked')" % (
                                  impl, mode, "; ".join(r.get("notes", [])),
                                  r["db_errors"], r["locked"]))
        for mode, m in meds.items():
            report.bar("mode%d" % mode, "CPU us per request, location table "
                       "in SQLite, db_mode %d (N=%d, %d/s; no bar: invalid)"
                       % (mode, args.n, args.rate), "us",
                       [p for p, _, _ in PHASES], list(m.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
