#!/usr/bin/env python3
"""Snapshot benchmark: load and write times of N bindings, and the file
size per binding, through a real Kamailio with the aor module.

    python3 bench/snapshot.py [N [R]] [--out DIR]     (N = 1,000,000, R = 3)

1. Writes a snapshot file of N one-binding AoRs (the format of
   modules/aor/snapshot.h, as test/integration/test_snapshot.py makes it).
2. Starts Kamailio (shm 4 GB) with snapshot_file pointing at it and reads
   the load time from its own log line ("loaded N bindings in X ms"), and
   the wall time until it answers.
3. Runs `kamcmd aor.snapshot` R times (the module's own writer, every field
   it stores) and reports its times (median, min, max), the file size per
   binding, and the shared memory the store holds (aor:location_shm_bytes).
4. Stops Kamailio (the shutdown snapshot) and times that too.
What is printed is also written to <--out>/snapshot.md, with a chart of
the times beside it.
Stock usrloc has no equivalent without a database, so there is no ratio.
Not a test: not run by `make test`.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))

import charts  # noqa: E402
import kam as kammod  # noqa: E402
from test_snapshot import make_snapshot  # noqa: E402


def stat(k, name):
    out = k.kamcmd("stats.get_statistics", "aor:")
    m = re.search(r"aor:%s\s*=\s*(-?\d+)" % name, out)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("n", type=int, nargs="?", default=1000000,
                    help="bindings")
    ap.add_argument("reps", type=int, nargs="?", default=3,
                    help="aor.snapshot runs")
    ap.add_argument("--out", default=charts.DEFAULT_DIR, metavar="DIR",
                    help="where the figures and their chart go")
    a = ap.parse_args()
    n, reps = a.n, a.reps
    report = charts.Output(a.out, "snapshot")
    work = tempfile.mkdtemp(prefix="aor-bench-snap-")
    path = os.path.join(work, "snap.xml")
    try:
        t0 = time.monotonic()
        make_snapshot(path, ["user%07d@example.com" % i for i in range(n)])
        gen = time.monotonic() - t0
        in_size = os.path.getsize(path)
        k = kammod.Kamailio(os.path.join(work, "k"), modparams={
            "snapshot_file": path, "snapshot_interval": 0,
            "use_domain": 1}, globals_="")
        k.args = ["-m", "4096"]
        t0 = time.monotonic()
        k.start(timeout=600)
        ready = time.monotonic() - t0
        log = open(k.log_path).read()
        m = re.search(r"loaded (\d+) bindings in (\d+) ms", log)
        loaded, load_ms = (int(m.group(1)), int(m.group(2))) if m else (0, -1)
        shm = stat(k, "location_shm_bytes")
        writes = []
        size = 0
        for _ in range(reps):
            out = k.kamcmd("aor.snapshot", timeout=600)
            tree = kammod.parse_rpc(out)
            writes.append(int(kammod.rpc_find(tree, "ms")[0]))
            size = int(kammod.rpc_find(tree, "bytes")[0])
        t0 = time.monotonic()
        k.stop(timeout=600)
        stop = time.monotonic() - t0
        print("bindings          %d (file made in %.1f s, %d bytes)"
              % (loaded, gen, in_size))
        print("load (mod_init)   %d ms   (%.2f us per binding); Kamailio "
              "answering after %.1f s" % (load_ms, load_ms * 1e3 / max(n, 1),
                                          ready))
        print("write (aor.snapshot) median %d ms, min %d, max %d over %d "
              "runs (%.2f us per binding)"
              % (statistics.median(writes), min(writes), max(writes), reps,
                 statistics.median(writes) * 1e3 / max(n, 1)))
        print("file              %d bytes, %.0f bytes per binding"
              % (size, size / max(n, 1)))
        print("store shm         %d bytes, %.0f bytes per binding"
              % (shm or 0, (shm or 0) / max(n, 1)))
        print("stop (shutdown snapshot included) %.1f s" % stop)
        write = [w / 1e3 for w in writes]
        report.bar("times", "snapshot of %d bindings (aor)" % n, "seconds",
                   ["load (mod_init)", "write (aor.snapshot)",
                    "stop (shutdown snapshot)"],
                   [("aor", [load_ms / 1e3 if load_ms >= 0 else None,
                             (statistics.median(write), min(write),
                              max(write)), stop])])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
