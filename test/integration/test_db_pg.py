# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""db_url/db_mode on PostgreSQL: Debian's postgresql-15 server started by
the test (pgserver.py: a private cluster on 127.0.0.1, a free port, its
own socket directory) with Kamailio's own schema, through db_postgres.
Stock usrloc, in the same mode and run, is the oracle of what the rows
hold (one database each in the same server). The server is SIGKILLed and
restarted under REGISTER traffic in modes 1 and 2."""

import itertools
import re
import threading
import time

import pytest

import kam
import pgserver
import sip
from sqldb import (MODE3_ROUTE, assert_rows_as_stock, comparable, scenario,
                   ts, wait_rows)

_dbs = itertools.count()


@pytest.fixture(scope="module")
def pg():
    """One server for the module; no postgres here is a failure (make
    test installs it), not a skip."""
    s = pgserver.PgServer()
    try:
        s.start()
        yield s
    finally:
        s.close()


@pytest.fixture
def pgdb(pg):
    """A new database with the location table, on a running server (a
    test that killed it may have failed before its restart)."""
    pg.start()
    return pg.create_db("loc%d" % next(_dbs))


def pg_kamailio(factory, impl, url, mode, **mp):
    params = {"db_url": url, "db_mode": mode, "timer_interval": 1,
              "min_expires": 1}
    params.update(mp)
    return factory(impl=impl, modules=["db_postgres.so"], modparams=params)


def stats(k):
    out = k.kamcmd("stats.get_statistics", "aor:")
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"aor:(\w+) = (-?\d+)", out)}


@pytest.mark.parametrize("mode", [1, 2])
def test_rows_are_what_stock_writes(kamailio_factory, pg, user, mode):
    """db_mode 1 (the row is there when the 200 is) and 2 (within a
    timer interval): each step of the scenario (sqldb.STEPS) leaves the
    rows stock usrloc leaves in its own database of the same server,
    column by column (ruid aside), the lifetime within a second."""
    got = {}
    cids = [sip.token(12) for _ in range(3)]
    for impl in ("stock", "aor"):
        db = pg.create_db("loc%d" % next(_dbs))
        k = pg_kamailio(kamailio_factory, impl, pg.url(db), mode)
        with sip.Client(k.port) as c:
            got[impl] = scenario(k, c, user, lambda: pg.rows(db),
                                 check_now=(mode == 1), cids=cids)
        k.stop()
    assert_rows_as_stock(got)


def test_load_only_mode_reads_and_never_writes(kamailio_factory, pg, pgdb,
                                               user):
    """db_mode 4 (stock's DB_READONLY), through a role that may only
    SELECT: stock and aor each load the two rows stock wrote, take a
    REGISTER that adds one and removes one (in memory: the same
    bindings), and leave the table as it was, ruids included."""
    seed = pg_kamailio(kamailio_factory, "stock", pg.url(pgdb), 1)
    aor = seed.aor(user)
    with sip.Client(seed.port) as c:
        for i in range(2):
            assert c.register(aor, ["sip:%s-%d@127.0.0.1:5070" % (user, i)],
                              expires=300).status == 200
    seed.stop()
    before = pg.rows(pgdb)
    assert len(before) == 2
    url = pg.url(pgdb, user=pg.create_reader(pgdb))
    shown = {}
    for impl in ("stock", "aor"):
        k = pg_kamailio(kamailio_factory, impl, url, 4)
        assert sorted(b["contact"] for b in k.show(aor)) == [
            r["contact"] for r in before], impl
        with sip.Client(k.port) as c:
            r = c.register(aor, [("sip:%s-0@127.0.0.1:5070" % user,
                                  ";expires=0"),
                                 "sip:%s-2@127.0.0.1:5070" % user],
                           expires=300)
        assert r.status == 200, (impl, r)
        shown[impl] = sorted(b["contact"] for b in k.show(aor))
        # two timer intervals: nothing is written later either
        time.sleep(2.2)
        assert pg.rows(pgdb) == before, impl
        k.stop()
    assert shown["aor"] == shown["stock"] == [
        "sip:%s-%d@127.0.0.1:5070" % (user, i) for i in (1, 2)]


@pytest.mark.parametrize("mode", [1, 2])
def test_restart_loads_every_binding_back(kamailio_factory, pg, pgdb, user,
                                          mode):
    """A restart loads from PostgreSQL every binding, each field aor.show
    prints as it was (expires within 2 s); the rows are not rewritten; an
    INVITE routes as before. Mode 2 with a 30 s round: the changes of the
    round under way are written at the clean stop (as stock's destroy
    flushes), else they would be lost."""
    k = pg_kamailio(kamailio_factory, "aor", pg.url(pgdb), mode, use_path=1,
                    timer_interval=30)
    aor = k.aor(user)
    with sip.Client(k.port) as c:
        for i in range(3):
            ct = ("sip:%s-%d@127.0.0.1:%d" % (user, i, c.port),
                  ';q=0.%d;+sip.instance="<urn:uuid:0000-%d>";reg-id=%d'
                  % (i + 1, i, i + 1))
            assert c.register(aor, [ct], expires=300 + i,
                              path=["<sip:edge%d.example.com;lr>" % i],
                              headers=[("User-Agent", "phone/%d" % i)]
                              ).status == 200
        before = k.show(aor)
        k.stop()
        r0 = pg.rows(pgdb)
        assert len(r0) == 3, open(k.log_path).read()[-2000:]
        k.start()
        after = k.show(aor)
        assert len(after) == len(before) == 3
        key = lambda b: b["contact"]
        for x, y in zip(sorted(before, key=key), sorted(after, key=key)):
            assert {f: v for f, v in x.items() if f != "expires"} == {
                f: v for f, v in y.items() if f != "expires"}
            assert abs(int(x["expires"]) - int(y["expires"])) <= 2, (x, y)
        assert pg.rows(pgdb) == r0
        log = open(k.log_path).read()
        assert "loaded 3 bindings from 3 rows" in log, log[-2000:]
        inv = c.invite(k.ruri(user))
    assert inv is not None


def test_write_back_stop_leaves_the_rows_stock_leaves(kamailio_factory, pg,
                                                      user):
    """db_mode 2, a round of 30 s: REGISTERs, a refresh and a removal,
    then a clean stop before any round; stock's destroy writes its cache,
    ours writes its queue: the same rows, column by column."""
    got = {}
    cid = sip.token(12)
    for impl in ("stock", "aor"):
        db = pg.create_db("loc%d" % next(_dbs))
        k = pg_kamailio(kamailio_factory, impl, pg.url(db), 2,
                        timer_interval=30)
        aor = k.aor(user)
        with sip.Client(k.port) as c:
            cts = ["sip:%s-%d@127.0.0.1:5070" % (user, i) for i in range(3)]
            for n, ct in enumerate(cts):
                assert c.register(aor, [ct], expires=300, call_id=cid,
                                  cseq=n + 1).status == 200
            assert c.register(aor, [cts[0]], expires=600, call_id=cid,
                              cseq=10).status == 200
            assert c.register(aor, [cts[1]], expires=0, call_id=cid,
                              cseq=11).status == 200
            assert pg.rows(db) == [], impl
        k.stop()
        got[impl] = [comparable(r) for r in pg.rows(db)]
    assert len(got["aor"]) == 2, got
    assert got["aor"] == got["stock"]


def test_a_big_stock_table_is_loaded_whole_and_re_keyed(kamailio_factory,
                                                         pg, pgdb):
    """40,000 rows with stock's ruids (a table stock usrloc wrote), loaded
    in db_mode 1 with Kamailio's default pkg memory (8 MB): every row
    becomes a binding and takes its binding's ruid (the list of rows to
    re-key is written by batches while the load reads, not kept whole in
    pkg memory, which ran out near 30,000 rows)."""
    n = 40000
    exp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() + 600))
    pg.copy(pgdb, "location", ["ruid", "username", "contact", "expires",
                               "callid", "cseq"],
            (("uloc-6b000000-%x-%d" % (i >> 10, i), "big%05d" % i,
              "sip:big%05d@10.0.%d.%d:5060" % (i, i >> 8 & 255, i & 255),
              exp, "c%d" % i, 1) for i in range(n)))
    # 40,000 re-keys (~130 us each) may pass the default start deadline
    # on a busy machine: this one start gets a minute
    class SlowStart(kam.Kamailio):
        def start(self, timeout=60.0):
            return super().start(timeout)
    k = kamailio_factory(make=SlowStart, impl="aor",
                         modules=["db_postgres.so"],
                         modparams={"db_url": pg.url(pgdb), "db_mode": 1,
                                    "timer_interval": 1, "min_expires": 1})
    log = open(k.log_path).read()
    assert ("loaded %d bindings from %d rows" % (n, n)) in log, log[-2000:]
    assert "%d re-keyed" % n in log, log[-2000:]
    assert k.count() == (n, n)
    left = pg.query("SELECT count(*) FROM location WHERE ruid NOT LIKE "
                    "'aor-%%'", pgdb)
    assert left == [("0",)]
    # a row's new ruid is its binding's
    ruid = pg.query("SELECT ruid FROM location WHERE username='big12345'",
                    pgdb)[0][0]
    assert [b["ruid"] for b in k.show("sip:big12345@127.0.0.1")] == [ruid]


N, SPAN, AORS = 300, 6.0, 30


def traffic(k, pg, c, user):
    """N REGISTERs over SPAN s, contact i on AoR i % AORS, each tenth one
    also removing the contact AORS before it (same AoR); the server
    SIGKILLed at SPAN/3 and started again (crash recovery) at 2*SPAN/3,
    from timers, so requests are in flight when it goes. Returns the
    contacts that must remain, per AoR, and the slowest answer in s."""
    want = {}
    failures = []

    def restart():
        try:
            pg.start()
        except Exception as e:  # reported by the test
            failures.append(e)
    killer = threading.Timer(SPAN / 3, pg.kill)
    starter = threading.Timer(2 * SPAN / 3, restart)
    slowest = 0.0
    t0 = time.monotonic()
    killer.start()
    starter.start()
    try:
        for i in range(N):
            left = t0 + i * SPAN / N - time.monotonic()
            if left > 0:
                time.sleep(left)
            u = "%s-%d" % (user, i % AORS)
            ct = "sip:%s-c%d@127.0.0.1:%d" % (u, i, c.port)
            cts = [ct]
            want.setdefault(u, set()).add(ct)
            if i % 10 == 0 and i >= AORS:
                old = "sip:%s-c%d@127.0.0.1:%d" % (u, i - AORS, c.port)
                cts.insert(0, (old, ";expires=0"))
                want[u].remove(old)
            t = time.monotonic()
            r = c.register(k.aor(u), cts, expires=600)
            slowest = max(slowest, time.monotonic() - t)
            assert r.status == 200, (i, r)
    finally:
        killer.join()
        starter.join()
    assert not failures, (failures, pg.log_tail())
    return want, slowest


@pytest.mark.parametrize("mode", [1, 2])
def test_database_killed_under_traffic_loses_nothing(kamailio_factory, pg,
                                                     pgdb, user, mode):
    """PostgreSQL SIGKILLed (the postmaster and its backends) and started
    again under REGISTER traffic: every REGISTER is answered 200 within
    db_sync_timeout's second and a margin (mode 1 waits for the writer
    only while the database is known up); once the server is back the
    table holds exactly the bindings memory holds, with their Call-ID and
    CSeq; the counters and the log tell of each outage once, nothing
    dropped or refused."""
    k = pg_kamailio(kamailio_factory, "aor", pg.url(pgdb), mode)
    with sip.Client(k.port) as c:
        want, slowest = traffic(k, pg, c, user)
    print("db_mode %d: slowest REGISTER %.0f ms" % (mode, slowest * 1000))
    assert slowest < 1.5, slowest
    mem = set()
    for u, cts in want.items():
        got = k.show(k.aor(u))
        assert sorted(b["contact"] for b in got) == sorted(cts), u
        mem.update((u, b["contact"], b["callid"], int(b["cseq"]))
                   for b in got)
    assert len(mem) == N - (N - AORS) // 10

    def table():
        return {(r["username"], r["contact"], r["callid"], r["cseq"])
                for r in pg.rows(pgdb)}
    got = wait_rows(table, lambda t: t == mem, timeout=20)
    assert got == mem, (len(got), len(mem), sorted(got ^ mem)[:10])
    st = stats(k)
    assert st["db_outages"] >= 1, st
    assert st["db_dropped"] == 0 and st["db_rejected"] == 0, st
    assert st["db_queued"] == 0, st
    log = open(k.log_path).read()
    assert log.count("is unreachable or refuses writes") == st[
        "db_outages"], log[-3000:]
    assert len(re.findall(r"is back after \d+ ms", log)) == st[
        "db_outages"], log[-3000:]
    # every row's expiry is its binding's: 600 s from its REGISTER
    for r in pg.rows(pgdb):
        assert 560 <= ts(r["expires"]) - time.time() <= 601, r



def test_db_mode_3_two_nodes_share_one_postgres_table_as_stock(
        kamailio_factory, pg, user):
    """db_mode 3 on PostgreSQL: two nodes (server_id 1 and 2) share one
    table; what either registers the other finds, an Expires 0 and a '*'
    at one are seen at the other, an expiry ends it for both; two stock
    nodes on a database of their own, in the same run, answer the same,
    and the aor nodes' ruids never collide."""
    got = {}
    for impl in ("stock", "aor"):
        pg.start()
        db = pg.create_db("m3%s%d" % (impl, next(_dbs)))

        def node(sid):
            return kamailio_factory(
                impl=impl, modules=["db_postgres.so"], route=MODE3_ROUTE,
                globals_="server_id=%d\n" % sid,
                modparams={"db_url": pg.url(db), "db_mode": 3,
                           "timer_interval": 1, "min_expires": 1})
        a, b = node(1), node(2)
        ca, cb = sip.Client(a.port), sip.Client(b.port)

        def found(k, c):
            data, cid, cs = c.request("MESSAGE", k.ruri(user), k.aor(user))
            r = c.transact(data, cid, cs)
            return None if r.status == 404 else \
                r.get("x-ruri").rsplit(":", 1)[0]
        aor = a.aor(user)
        c1 = ("sip:%s-1@127.0.0.1:5901" % user, ";q=0.9")
        c2 = ("sip:%s-2@127.0.0.1:5902" % user, ";q=0.5")
        seq = []
        assert ca.register(aor, [c1], expires=300).status == 200
        seq.append(("A registers c1; B finds", found(b, cb)))
        assert cb.register(aor, [c2], expires=300).status == 200
        seq.append(("B registers c2; A finds", found(a, ca)))
        rs = pg.rows(db)
        seq.append(("rows", len(rs), len({r["ruid"] for r in rs})))
        seq.append(("B unregisters c1",
                    cb.register(aor, [c1[0]], expires=0).status,
                    found(a, ca)))
        seq.append(("B: *", cb.register(aor, ["*"], expires=0,
                                        call_id=sip.token(9)).status,
                    found(a, ca), len(pg.rows(db))))
        assert ca.register(aor, [c1], expires=2).status == 200
        seq.append(("A: c1 for 2 s; B finds", found(b, cb)))
        time.sleep(3.2)
        seq.append(("expired; B finds", found(b, cb)))
        ca.close()
        cb.close()
        got[impl] = seq
    assert got["aor"] == got["stock"], got
    assert got["aor"][2] == ("rows", 2, 2), got["aor"]
    assert got["aor"][0][1] == "sip:%s-1@127.0.0.1" % user, got["aor"]
