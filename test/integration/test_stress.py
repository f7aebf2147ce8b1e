"""Concurrency: several SIPp clients, INVITEs and RPC at once, 4 workers.

Kamailio runs with children=4 (four SIP workers, each taking slot locks).
Meanwhile, all at once and bounded in count:
  - CHURN_CLIENTS sipp clients (sipp/churn.xml) each run CHURN_CALLS
    binding lives (REGISTER, refresh, unregister) over a pool of CHURN_AORS
    AoRs picked at random, so clients overlap on the same AoRs and slots;
  - one sipp client (sipp/invite.xml) calls STABLE_AORS AoRs registered
    before the run, which nothing removes: every call must complete;
  - a Python thread sends INVITEs to the churning AoRs (200 or 404, both
    fine: the binding may be gone);
  - a Python thread pages through `aor.list`, calls `aor.rm` on churning
    AoRs and `aor.count`, and pings with OPTIONS: every answer must come
    within DEADLINE (no deadlock, no stall).
Then: aor.count equals what the aor.list pages show and the per-table
gauges (aor:location_aors, aor:location_bindings); after aor.flush the
table's gauge aor:location_shm_bytes is back at its empty value, and the
shared memory Kamailio has in use (core.shmmem used) returns to within
SHM_TOLERANCE of its level before the run (no leak).
"""

import os
import random
import re
import subprocess
import threading
import time

import pytest

import kam as kammod
import sip
from test_sipp import read_stats, sipp_command

# tm keeps a finished transaction for wt_timer: 1 s instead of 5 s, so
# that shared memory settles quickly after the traffic
KAM_OPTIONS = {"children": 4, "extra": 'modparam("tm", "wt_timer", 1000)'}

CHURN_CLIENTS = 4
CHURN_CALLS = 150      # per client: 3 REGISTERs each
CHURN_RATE = 50        # calls per second per client
CHURN_AORS = 40
STABLE_AORS = 20
INVITE_CALLS = 100
INVITE_RATE = 25
DEADLINE = 5.0         # every OPTIONS and kamcmd answer within this
RUN_TIMEOUT = 40       # the whole concurrent phase
# allocator bookkeeping and Kamailio's own caches may move a little
SHM_TOLERANCE = 4096


def sipp_start(kam, workdir, name, scenario, csv_mode, csv_lines, calls,
               rate, limit):
    cmd, stf = sipp_command(kam, workdir, name, scenario, csv_mode,
                            csv_lines, calls, rate, limit, RUN_TIMEOUT - 5)
    out = open(os.path.join(workdir, name + ".out"), "w")
    p = subprocess.Popen(cmd, cwd=workdir, stdout=out,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    p.stats_path, p.out, p.name = stf, out, name
    return p


def sipp_wait(p, deadline):
    try:
        rc = p.wait(max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        rc = "timeout"
    p.out.close()
    with open(p.out.name) as f:
        text = f.read()
    stats = read_stats(p.stats_path) if os.path.exists(p.stats_path) else {}
    return rc, stats, text


def stat(kam, name):
    out = kam.kamcmd("stats.get_statistics", name)
    return int(re.search(r"= (-?\d+)", out).group(1))


def shm_used(kam):
    tree = kammod.parse_rpc(kam.kamcmd("core.shmmem"))
    return int(kammod.rpc_find(tree, "used")[0])


def settled_shm(kam, timeout=10):
    """core.shmmem used once it reads the same twice 1.5 s apart (the
    warm-up's transactions gone), or the last reading after timeout."""
    deadline = time.monotonic() + timeout
    last = shm_used(kam)
    while time.monotonic() < deadline:
        time.sleep(1.5)
        now = shm_used(kam)
        if now == last:
            break
        last = now
    return last


def list_all(kam, limit=25, max_pages=1000):
    """Every page of aor.list: {aor: number of bindings}, and the pages."""
    seen, cursor, pages = {}, "0", 0
    while True:
        out = kam.kamcmd("aor.list", "location", limit, cursor,
                         timeout=DEADLINE)
        tree = kammod.parse_rpc(out)
        pages += 1
        for st in kammod.rpc_structs(tree):
            names = [v for k, v in st if k == "aor" and isinstance(v, str)]
            if names:
                n = len(kammod.rpc_find([st], "contact"))
                seen[names[0]] = seen.get(names[0], 0) + n
        cursor = kammod.rpc_find(tree, "next")[0]
        if cursor == "0" or pages >= max_pages:
            return seen, pages


class Watch(threading.Thread):
    """Runs fn in a loop until stopped; keeps counts, failures and the
    slowest call."""

    def __init__(self, fn):
        super().__init__(daemon=True)
        self.fn, self.stop, self.calls, self.errors = fn, threading.Event(), \
            0, []
        self.slowest = 0.0
        self.counts = {}

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                what = self.fn()
                self.counts[what] = self.counts.get(what, 0) + 1
            except Exception as e:  # recorded, asserted on by the test
                self.errors.append(repr(e))
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self.calls += 1


def test_concurrent_register_lookup_rpc_keeps_counts_and_memory(
        kam, tmp_path):
    workdir = str(tmp_path)
    uas = sip.Uas(code=200)
    stable = ["stable%02d" % i for i in range(STABLE_AORS)]
    churn = ["churn%02d" % i for i in range(CHURN_AORS)]
    try:
        # warm-up: tm, sl and the allocator see this traffic once before
        # the baseline is taken
        with kam.client() as c:
            for u in churn[:5]:
                assert c.register(kam.aor(u), [uas.contact(u)],
                                  expires=60).status == 200
                assert c.invite(kam.ruri(u)).status == 200
        kam.flush()
        empty_table = stat(kam, "location_shm_bytes")
        shm_before = settled_shm(kam)

        p = sipp_start(kam, workdir, "stable", "register.xml", "SEQUENTIAL",
                       ["%s;%d" % (u, uas.port) for u in stable],
                       STABLE_AORS, 100, STABLE_AORS)
        rc, stats, out = sipp_wait(p, time.monotonic() + 20)
        assert rc == 0, out
        assert kam.count() == (STABLE_AORS, STABLE_AORS)

        def rpc_round():
            r = random.random()
            if r < 0.4:
                list_all(kam)
                return "list"
            if r < 0.8:
                kam.kamcmd("aor.rm", random.choice(churn), check=False,
                           timeout=DEADLINE)
                return "rm"
            kam.count()
            return "count"

        pinger = sip.Client(kam.port)

        def ping():
            assert pinger.options(timeout=DEADLINE).status == 200
            time.sleep(0.05)
            return "options"

        caller = sip.Client(kam.port)

        def call():
            r = caller.invite(kam.ruri(random.choice(churn)), timeout=DEADLINE)
            assert r.status in (200, 404), r.first_line
            return r.status

        watches = [Watch(rpc_round), Watch(ping), Watch(call)]
        deadline = time.monotonic() + RUN_TIMEOUT
        procs = [sipp_start(kam, workdir, "churn%d" % i, "churn.xml",
                            "RANDOM",
                            ["%s;%d" % (u, uas.port) for u in churn],
                            CHURN_CALLS, CHURN_RATE, 40)
                 for i in range(CHURN_CLIENTS)]
        procs.append(sipp_start(kam, workdir, "invite", "invite.xml",
                                "SEQUENTIAL", stable, INVITE_CALLS,
                                INVITE_RATE, 20))
        for w in watches:
            w.start()
        results = [sipp_wait(p, deadline) for p in procs]
        for w in watches:
            w.stop.set()
        for w in watches:
            w.join(DEADLINE + 1)
        pinger.close()
        caller.close()

        for p, (rc, stats, out) in zip(procs, results):
            assert rc == 0, "sipp %s exit %s\n%s" % (p.name, rc, out[-2000:])
            assert int(stats["FailedCall(C)"]) == 0, (p.name, stats)
        registers = CHURN_CLIENTS * CHURN_CALLS * 3
        calls = dict(watches[2].counts)
        print("stress: %d REGISTERs by %d sipp clients, %d sipp calls, "
              "%d Python INVITEs %s, %d RPC rounds %s, %d OPTIONS; slowest "
              "RPC round %.2fs, OPTIONS %.2fs, INVITE %.2fs"
              % (registers, CHURN_CLIENTS, INVITE_CALLS, watches[2].calls,
                 calls, watches[0].calls, watches[0].counts,
                 watches[1].calls, watches[0].slowest, watches[1].slowest,
                 watches[2].slowest))
        for w in watches:
            assert not w.errors, w.errors[:5]
            assert w.calls > 0
            assert not w.is_alive(), "a watcher is stuck"
        # the deadline (a stall) is the bound of one round, with margin for
        # a whole aor.list walk of several kamcmd runs
        assert watches[1].slowest < DEADLINE
        assert watches[0].slowest < 3 * DEADLINE
        assert uas.received("BYE"), "no sipp call reached the UAS"

        # counts consistent, everywhere
        aors, bindings = kam.count()
        seen, pages = list_all(kam, limit=7)
        assert len(seen) == aors and sum(seen.values()) == bindings, \
            (aors, bindings, seen)
        assert stat(kam, "location_aors") == aors
        assert stat(kam, "location_bindings") == bindings
        # every stable AoR kept its one binding; every churned binding
        # ended with its unregistration (or an aor.rm)
        assert {u: seen.get(u) for u in stable} == {u: 1 for u in stable}
        retrans = sum(int(s.get("Retransmissions(C)", 0))
                      for _, s, _ in results)
        if retrans == 0:
            assert (aors, bindings) == (STABLE_AORS, STABLE_AORS), seen

        # no leak: flush, then the table and Kamailio's shm are back
        assert kam.flush() == bindings
        assert kam.count()[:2] == (0, 0)
        assert stat(kam, "location_shm_bytes") == empty_table
        # tm keeps finished transactions for its wait timer
        back = sip.wait_until(
            lambda: shm_used(kam) <= shm_before + SHM_TOLERANCE, 15,
            interval=0.5)
        shm_after = shm_used(kam)
        print("stress: shm used before %d, after flush %d (%+d bytes); "
              "table gauge %d" % (shm_before, shm_after,
                                  shm_after - shm_before, empty_table))
        assert back, "shm used %d before, %d after flush" % (shm_before,
                                                              shm_after)
        with kam.client() as c:
            assert c.options(timeout=DEADLINE).status == 200
    finally:
        uas.close()
