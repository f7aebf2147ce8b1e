#!/usr/bin/env python3
"""Late joiner: how long a node that starts empty takes to pull N bindings
from ONE peer over DMQ (modparam replicate), what the donor's REGISTER
latency is meanwhile, and each node's peak shared memory.

    AOR_SO=$PWD/build/aor.so python3 bench/replsync.py [--n 1000000]
        [--stock-n 100000] [--rate 200]

aor: the donor loads N one-binding AoRs from a snapshot file (as
bench/snapshot.py), then the joiner starts with an empty table and asks;
the time is from the joiner's start to its `aor.repl` sync_state "done"
(and the module's own sync_ms). stock (usrloc + dmq_usrloc, sync 1): the
donor is filled with --stock-n REGISTERs by SIPp first (stock has no other
fast way in without a database), then the joiner starts; done when its
location_contacts reaches the donor's. Meanwhile a client sends REGISTERs
at --rate/s to the donor and measures each reply. Peak shm: core.shmmem
max_used of each node after the sync; the table's own size:
aor:location_shm_bytes (aor) or the donor's real_used before the joiner.
Writes bench/out/replsync.md (and a chart when bench/charts.py exists).
Not a test: not run by `make test`.
"""

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import kam as kammod  # noqa: E402
import sip  # noqa: E402
from test_snapshot import make_snapshot  # noqa: E402

KDMQ = ('if(is_method("KDMQ")) { dmq_handle_message(); exit; }\n'
        + kammod.DEFAULT_ROUTE)


def dmq_extra(me, peer, stock):
    s = ('modparam("dmq", "server_address", "sip:127.0.0.1:%d")\n'
         'modparam("dmq", "notification_address", "sip:127.0.0.1:%d")\n'
         'modparam("dmq", "multi_notify", 0)\n' % (me, peer))
    if stock:
        s += ('loadmodule "dmq_usrloc.so"\n'
              'modparam("dmq_usrloc", "enable", 1)\n'
              'modparam("dmq_usrloc", "sync", 1)\n')
    return s


def shm(k):
    out = k.kamcmd("core.shmmem")
    g = lambda n: int(re.search(r"%s:\s*(\d+)" % n, out).group(1))  # noqa
    return g("real_used"), g("max_used")


def stat(k, group, name):
    out = k.kamcmd("stats.get_statistics", group + ":")
    m = re.search(r"%s:%s\s*=\s*(-?\d+)" % (group, name), out)
    return int(m.group(1)) if m else None


def repl(k):
    tree = kammod.parse_rpc(k.kamcmd("aor.repl"))
    return {a: b for a, b in tree[0] if isinstance(b, str)}


class Prober(threading.Thread):
    """REGISTERs at rate/s to port; records each reply's latency (ms)."""

    def __init__(self, port, rate):
        super().__init__(daemon=True)
        self.port, self.rate = port, rate
        self.lat, self.lost = [], 0
        self.running = True

    def run(self):
        c = sip.Client(self.port)
        i = 0
        while self.running and i < 100000:
            t0 = time.monotonic()
            try:
                r = c.register("sip:probe%d@127.0.0.1" % (i % 1000),
                               ["<sip:probe@127.0.0.1:9%03d>" % (i % 1000)],
                               expires=600, timeout=2)
                if r.status == 200:
                    self.lat.append((time.monotonic() - t0) * 1000)
                else:
                    self.lost += 1
            except sip.Timeout:
                self.lost += 1
            i += 1
            time.sleep(max(0, 1.0 / self.rate - (time.monotonic() - t0)))
        c.close()


def pct(v, p):
    if not v:
        return float("nan")
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


def run(impl, n, rate, work):
    pa, pb = sip.free_udp_port(), sip.free_udp_port()
    stock = impl == "stock"
    mp = {} if stock else {"replicate": 1, "use_domain": 1}
    if not stock:
        snap = os.path.join(work, "snap-%s.xml" % impl)
        make_snapshot(snap, ["user%07d@example.com" % i for i in range(n)])
        mp.update({"snapshot_file": snap, "snapshot_interval": 0})
    donor = kammod.Kamailio(os.path.join(work, impl + "-donor"), impl=impl,
                            modparams=mp, route=KDMQ, port=pa,
                            modules=["dmq.so"], children=4,
                            extra=dmq_extra(pa, pb, stock),
                            globals_="server_id=1")
    donor.args = ["-m", "4096"]
    donor.start(timeout=600)
    if stock:
        fill_stock(donor, n, work)
    held = (stat(donor, "usrloc", "location_contacts") if stock
            else stat(donor, "aor", "location_bindings"))
    table = (shm(donor)[0] if stock
             else stat(donor, "aor", "location_shm_bytes"))
    donor_before = shm(donor)
    if not stock:
        mp2 = {"replicate": 1, "use_domain": 1}
    else:
        mp2 = {}
    joiner = kammod.Kamailio(os.path.join(work, impl + "-joiner"), impl=impl,
                             modparams=mp2, route=KDMQ, port=pb,
                             modules=["dmq.so"], children=4,
                             extra=dmq_extra(pb, pa, stock),
                             globals_="server_id=2")
    joiner.args = ["-m", "4096"]
    prober = Prober(pa, rate)
    prober.start()
    time.sleep(1)
    t0 = time.monotonic()
    joiner.start(timeout=120)
    done, sync_ms = None, None
    deadline = t0 + 600
    while time.monotonic() < deadline:
        if stock:
            got = stat(joiner, "usrloc", "location_contacts") or 0
            if got >= held:
                done = time.monotonic() - t0
                break
        else:
            r = repl(joiner)
            if r.get("sync_state") == "done":
                done = time.monotonic() - t0
                sync_ms = int(r["sync_ms"])
                got = stat(joiner, "aor", "location_bindings")
                break
        time.sleep(0.1)
    prober.running = False
    prober.join(5)
    res = {
        "impl": impl, "n": held, "got": got, "done_s": done,
        "sync_ms": sync_ms, "table_shm": table,
        "donor_used": donor_before[0], "donor_max_before": donor_before[1],
        "donor_max": shm(donor)[1], "joiner_max": shm(joiner)[1],
        "joiner_used": shm(joiner)[0],
        "lat_p50": pct(prober.lat, 0.5), "lat_p99": pct(prober.lat, 0.99),
        "lat_max": max(prober.lat) if prober.lat else float("nan"),
        "probes": len(prober.lat), "lost": prober.lost,
    }
    joiner.stop(timeout=60)
    donor.stop(timeout=120)
    return res


def fill_stock(k, n, work):
    """n REGISTERs of distinct AoRs through SIPp (bench/sipp)."""
    inf = os.path.join(work, "users.csv")
    with open(inf, "w") as f:
        f.write("SEQUENTIAL\n")
        for i in range(n):
            f.write("user%07d;example.com\n" % i)
    scen = os.path.join(HERE, "sipp", "register.xml")
    subprocess.run(["sipp", "-sf", scen, "-inf", inf, "-m", str(n),
                    "-key", "regseq", "1", "-key", "expires", "3600",
                    "-cid_str", "reg-%u@bench",
                    "-r", "5000", "-l", "2000", "-i", "127.0.0.1",
                    "-p", str(sip.free_udp_port()), "-nd",
                    "-trace_err", "-timeout", "600",
                    "127.0.0.1:%d" % k.port], cwd=work,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=900)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000000)
    ap.add_argument("--stock-n", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--impls", default="aor,stock")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="aor-bench-replsync-")
    rows = []
    for impl in a.impls.split(","):
        n = a.n if impl == "aor" else a.stock_n
        rows.append(run(impl, n, a.rate, work))
        print(rows[-1], flush=True)
    out = os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    lines = ["| impl | bindings | pulled | sync s (wall) | sync ms (module) "
             "| donor REGISTER p50 / p99 / max ms | lost | table MB "
             "| donor shm used / peak before / peak after MB "
             "| joiner shm used / peak MB |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %d | %d | %s | %s | %.1f / %.1f / %.1f | %d "
                     "| %.0f | %.0f / %.0f / %.0f | %.0f / %.0f |" % (
                         r["impl"], r["n"] or 0, r["got"] or 0,
                         "%.1f" % r["done_s"] if r["done_s"] else "no",
                         r["sync_ms"], r["lat_p50"], r["lat_p99"],
                         r["lat_max"], r["lost"], (r["table_shm"] or 0) / 1e6,
                         r["donor_used"] / 1e6, r["donor_max_before"] / 1e6,
                         r["donor_max"] / 1e6, r["joiner_used"] / 1e6,
                         r["joiner_max"] / 1e6))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "replsync.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
