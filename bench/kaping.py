#!/usr/bin/env python3
# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
# CPU of the module's own keepalive (ka_mode 1: every contact once per
# timer_interval) of N contacts, with stock usrloc and with aor. Contacts
# are preloaded as natping.py does (stock from db_text, aor from a
# snapshot), loopback ports nobody listens on. Prints, per config, the CPU
# of all Kamailio processes per second over one interval, the CPU of the
# process that pings (stock: the core timer; aor: "aor maintenance"), and
# for aor how many keepalives it sent in that window. The table is also
# written to <--out>/kaping.md, with its chart beside it.
#
#   python3 bench/kaping.py [--n 100000] [--interval 10]
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
sys.path.insert(0, HERE)

import charts  # noqa: E402
import kam  # noqa: E402
import natping  # noqa: E402
import test_snapshot  # noqa: E402


def sent(k, name="keepalives_sent"):
    out = k.kamcmd("stats.get_statistics", "aor:")
    m = re.search(r"%s\D*(\d+)" % name, out)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the table and its chart go")
    a = ap.parse_args()
    report = charts.Output(a.out, "kaping")
    work = tempfile.mkdtemp(prefix="kaping-")
    results = {}
    for impl in ("stock", "aor"):
        d = os.path.join(work, impl)
        os.makedirs(d)
        mp = {"ka_mode": 1, "timer_interval": a.interval}
        if impl == "stock":
            natping.stock_db(os.path.join(d, "db"), a.n)
            extra = ('loadmodule "db_text.so"\n'
                     'modparam("usrloc", "db_url", "text://%s")\n'
                     % os.path.join(d, "db"))
        else:
            snap = os.path.join(d, "snap.xml")
            test_snapshot.make_snapshot(snap, ["m%06d" % i
                                               for i in range(a.n)])
            extra = ""
            mp.update({"snapshot_file": snap, "snapshot_interval": 3600})
        k = kam.Kamailio(os.path.join(d, "k"), impl=impl, extra=extra,
                         modparams=mp, args=["-m", "512", "-M", "32"])
        if impl == "stock":
            cfg = open(k.cfg_path).read().replace(
                'modparam("usrloc", "db_mode", 0)',
                'modparam("usrloc", "db_mode", 1)')
            with open(k.cfg_path, "w") as f:
                f.write(cfg)
        k.start(timeout=120)
        try:
            deadline = time.monotonic() + 300
            while k.count()[1] < a.n and time.monotonic() < deadline:
                time.sleep(0.5)
            n = k.count()[1]
            ps = natping.pids(k)
            pinger = [p for dsc, p in ps.items()
                      if ("aor maintenance" in dsc if impl == "aor"
                          else "timer" in dsc.lower())]
            allp = list(ps.values())
            s0 = sent(k) if impl == "aor" else 0
            t0 = {p: natping.cpu_ticks(p) for p in allp}
            time.sleep(a.interval)  # one interval: every contact once
            t1 = {p: natping.cpu_ticks(p) for p in allp}
            s1 = sent(k) if impl == "aor" else 0
            per = (lambda ps_: sum(t1[p] - t0[p] for p in ps_) * 1000.0
                   / natping.TICK / a.interval)
            results[impl] = (n, per(pinger), per(allp), s1 - s0)
        finally:
            if impl == "aor":
                print("aor keepalives_failed:", sent(k, "keepalives_failed"))
            k.stop()
    print("ka_mode 1, timer_interval %d: every contact once per interval"
          % a.interval)
    print("| config | contacts | pinging process CPU ms/s | all processes "
          "ms/s | keepalives sent in one interval |")
    print("|---|---|---|---|---|")
    for impl, (n, p, total, s) in results.items():
        print("| %s | %d | %.0f | %.0f | %s |" % (impl, n, p, total,
                                                  s if impl == "aor" else "-"))
    report.bar("cpu", "ka_mode 1, timer_interval %d, N = %d"
               % (a.interval, a.n), "CPU ms per second",
               ["pinging process", "all processes"],
               [(impl, [p, total])
                for impl, (n, p, total, s) in results.items()])


if __name__ == "__main__":
    main()
