#!/usr/bin/env python3
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# CPU of nathelper pinging N contacts (natping_interval 1, ping_nated_only
# 0: every contact, every second), with stock usrloc and with aor serving
# its get_all_ucontacts. Stock's contacts are preloaded from a db_text
# location table (db_mode 1), aor's from a snapshot file; the contacts are
# loopback ports nobody listens on. Prints, per config, the CPU time of the
# "TIMER NH" process (nathelper's walk and sends) and of all Kamailio
# processes over a window of rounds, per round; the table is also written
# to <--out>/natping.md, with its chart beside it.
#
#   python3 bench/natping.py [--n 100000] [--seconds 10]
#
# Env as the integration tests: AOR_SO, KAMAILIO, KAMCMD.

import argparse
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import charts  # noqa: E402
import kam  # noqa: E402
import test_snapshot  # noqa: E402

DBTEXT = "/usr/share/kamailio/dbtext/kamailio"
TICK = os.sysconf("SC_CLK_TCK")

NATHELPER = """
loadmodule "nathelper.so"
modparam("nathelper", "natping_interval", 1)
modparam("nathelper", "ping_nated_only", 0)
"""


def stock_db(d, n):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(DBTEXT, "version")) as f:
        ver = f.read()
    with open(os.path.join(d, "version"), "w") as f:
        f.write(ver)
    with open(os.path.join(DBTEXT, "location")) as f:
        head = f.readline()
    exp = int(time.time()) + 3600
    rows = [head]
    now = int(time.time())
    for i in range(n):
        u = "m%06d" % i
        f = [str(i + 1), "uloc-%d" % i, u, "",
             "sip\\:%s@127.0.0.1\\:%d" % (u, 20000 + i % 10000), "", "",
             str(exp), "-1", "bench-%d" % i, "1", str(now), "0", "0",
             "bench", "", "", "", "0", "0", "0", "0", "0"]
        rows.append(":".join(f) + "\n")
    with open(os.path.join(d, "location"), "w") as f:
        f.writelines(rows)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return int(parts[11]) + int(parts[12])  # utime + stime


def pids(k):
    """{desc: pid} of the instance (core.psx)."""
    out = k.kamcmd("core.psx")
    found = {}
    for m in re.finditer(r"IDX:\s*\d+\s+PID:\s*(\d+)\s+DSC:\s*(.*)", out):
        found[m.group(2).strip()] = int(m.group(1))
    if not found:  # the struct printout
        ps = re.findall(r"PID:\s*(\d+)", out)
        ds = re.findall(r"DSC:\s*(.*)", out)
        found = {d.strip(): int(p) for p, d in zip(ps, ds)}
    return found


def measure(k, seconds):
    ps = pids(k)
    nh = [p for d, p in ps.items() if "TIMER NH" in d]
    allp = list(ps.values())
    t0 = {p: cpu_ticks(p) for p in allp}
    time.sleep(seconds)  # the measured window
    t1 = {p: cpu_ticks(p) for p in allp}
    per = lambda ps_: sum(t1[p] - t0[p] for p in ps_) * 1000.0 / TICK
    return per(nh) / seconds, per(allp) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the table and its chart go")
    a = ap.parse_args()
    report = charts.Output(a.out, "natping")
    work = tempfile.mkdtemp(prefix="natping-")
    results = {}
    for impl in ("stock", "aor"):
        d = os.path.join(work, impl)
        os.makedirs(d)
        if impl == "stock":
            stock_db(os.path.join(d, "db"), a.n)
            extra = NATHELPER + ('loadmodule "db_text.so"\n'
                                 'modparam("usrloc", "db_url", "text://%s")\n'
                                 % os.path.join(d, "db"))
            mp = {}
        else:
            snap = os.path.join(d, "snap.xml")
            test_snapshot.make_snapshot(snap, ["m%06d" % i
                                               for i in range(a.n)])
            extra = NATHELPER
            mp = {"snapshot_file": snap, "snapshot_interval": 3600}
        k = kam.Kamailio(os.path.join(d, "k"), impl=impl, extra=extra,
                         modparams=mp, args=["-m", "512", "-M", "32"])
        if impl == "stock":
            # db_mode 1: preloaded at start, written through
            k_cfg = open(k.cfg_path).read().replace(
                'modparam("usrloc", "db_mode", 0)',
                'modparam("usrloc", "db_mode", 1)')
            with open(k.cfg_path, "w") as f:
                f.write(k_cfg)
        k.start(timeout=120)
        try:
            # stock preloads in a worker after the start: wait for all
            deadline = time.monotonic() + 300
            while k.count()[1] < a.n and time.monotonic() < deadline:
                time.sleep(0.5)
            n = k.count()[1]
            time.sleep(3)  # nathelper's buffer reaches its size
            nh, total = measure(k, a.seconds)
            results[impl] = (n, nh, total)
        finally:
            k.stop()
    print("nathelper, natping_interval 1, every contact every second")
    print("| config | contacts | TIMER NH CPU ms/s | all processes ms/s |")
    print("|---|---|---|---|")
    for impl, (n, nh, total) in results.items():
        print("| %s | %d | %.0f | %.0f |" % (impl, n, nh, total))
    report.bar("cpu", "nathelper pinging every contact every second, N = %d"
               % a.n, "CPU ms per second", ["TIMER NH", "all processes"],
               [(impl, [nh, total])
                for impl, (n, nh, total) in results.items()])


if __name__ == "__main__":
    main()
