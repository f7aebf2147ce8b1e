# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""db_url/db_mode: usrloc's location table (schema version 9) through
Kamailio's DB API, with db_sqlite (an SQLite file made by the test from
Debian's own schema). Stock usrloc, in the same mode and run, is the
oracle of what the rows hold."""

import os
import re
import sqlite3
import time

import pytest

import kam
import sip
from sqldb import COLS, MODE3_ROUTE, assert_rows_as_stock, scenario, wait_rows

SCHEMA = "/usr/share/kamailio/db_sqlite"


def make_db(path):
    con = sqlite3.connect(path)
    for f in ("standard-create.sql", "usrloc-create.sql"):
        with open(os.path.join(SCHEMA, f)) as fh:
            con.executescript(fh.read())
    con.commit()
    con.close()
    return path


def rows(path):
    con = sqlite3.connect(path, timeout=5)
    try:
        cur = con.execute("SELECT %s FROM location ORDER BY contact"
                          % ",".join(COLS))
        return [dict(zip(COLS, r)) for r in cur.fetchall()]
    finally:
        con.close()


def db_kamailio(factory, impl, path, mode, **mp):
    params = {"db_url": "sqlite://" + path, "db_mode": mode,
              "timer_interval": 1, "min_expires": 1}
    params.update(mp)
    return factory(impl=impl, modules=["db_sqlite.so"], modparams=params)


@pytest.mark.parametrize("mode", [1, 2])
def test_rows_are_what_stock_writes(kamailio_factory, user, tmp_path, mode):
    """db_mode 1 (write-through: the row is there when the 200 is) and 2
    (write-back: within a timer interval): each step of the scenario leaves
    the rows stock usrloc leaves, column by column (ruid aside: each makes
    its own), the lifetime (expires - last_modified) within a second."""
    got = {}
    cids = [sip.token(12) for _ in range(3)]
    for impl in ("stock", "aor"):
        path = make_db(str(tmp_path / ("%s.db" % impl)))
        k = db_kamailio(kamailio_factory, impl, path, mode)
        c = sip.Client(k.port)
        got[impl] = scenario(k, c, user, lambda: rows(path),
                             check_now=(mode == 1), cids=cids)
        c.close()
    assert_rows_as_stock(got)


def test_restart_loads_every_binding_back(kamailio_factory, user, tmp_path):
    """Mode 1: what was registered before a restart is there after it, with
    its ruid, expiry, q, instance and path, and routes as before; the rows
    are not rewritten (their ruids are ours already)."""
    path = make_db(str(tmp_path / "loc.db"))
    k = db_kamailio(kamailio_factory, "aor", path, 1, use_path=1)
    c = sip.Client(k.port)
    aor = k.aor(user)
    for i in range(3):
        assert c.register(aor, [("sip:%s-%d@127.0.0.1:%d" % (user, i, c.port),
                                 ";q=0.%d" % (i + 1))], expires=300,
                          path=["<sip:edge%d.example.com;lr>" % i]
                          ).status == 200
    before = k.show(aor)
    r0 = rows(path)
    t0 = time.monotonic()
    k.stop()
    k.start()
    after = k.show(aor)
    took = time.monotonic() - t0
    assert sorted(b["contact"] for b in after) == sorted(
        b["contact"] for b in before)
    key = lambda b: b["contact"]
    for x, y in zip(sorted(before, key=key), sorted(after, key=key)):
        for f in ("ruid", "q", "path", "callid", "cseq"):
            assert x.get(f) == y.get(f), (f, x, y)
        # seconds left: as many fewer as the restart took
        assert -1 <= int(x["expires"]) - int(y["expires"]) <= took + 2, (
            x, y, took)
    assert rows(path) == r0
    assert "loaded 3 bindings from 3 rows" in open(k.log_path).read()
    # it routes: an INVITE reaches the highest q
    inv = c.invite(k.ruri(user))
    c.close()
    assert inv is not None


def test_a_stock_table_is_loaded_and_stock_loads_ours(kamailio_factory,
                                                      user, tmp_path):
    """Migration both ways on one file: stock usrloc (mode 1) writes rows,
    aor loads them (their ruids become ours, so later changes find them),
    changes and adds one; stock loads the file again and sees aor's
    table, binding for binding."""
    path = make_db(str(tmp_path / "loc.db"))
    s = db_kamailio(kamailio_factory, "stock", path, 1)
    c = sip.Client(s.port)
    aor = s.aor(user)
    for i in range(2):
        assert c.register(aor, ["sip:%s-%d@127.0.0.1:%d" % (user, i, c.port)],
                          expires=300).status == 200
    c.close()
    stock_rows = rows(path)
    assert len(stock_rows) == 2
    assert not any(r["ruid"].startswith("aor-") for r in stock_rows)
    s.stop()
    k = db_kamailio(kamailio_factory, "aor", path, 1)
    got = sorted(b["contact"] for b in k.show(aor))
    assert got == sorted(r["contact"] for r in stock_rows)
    assert all(r["ruid"].startswith("aor-") for r in rows(path))
    assert "2 re-keyed" in open(k.log_path).read()
    c = sip.Client(k.port)
    # an unregistration of a loaded binding deletes its row
    assert c.register(aor, [stock_rows[0]["contact"]], expires=0).status == 200
    assert c.register(aor, ["sip:%s-new@127.0.0.1:%d" % (user, c.port)],
                      expires=300).status == 200
    c.close()
    ours = rows(path)
    assert sorted(r["contact"] for r in ours) == sorted(
        [stock_rows[1]["contact"], "sip:%s-new@127.0.0.1:%d" % (user, c.port)])
    k.stop()
    s2 = db_kamailio(kamailio_factory, "stock", path, 1)
    assert sorted(b["contact"] for b in s2.show(aor)) == sorted(
        r["contact"] for r in ours)


def test_bad_rows_are_skipped_with_a_log_line(kamailio_factory, user,
                                              tmp_path):
    """An over-long contact, garbage in expires, an empty contact: each is
    named in the log and skipped; a row with NULL in every column the
    schema lets be NULL loads, as the good row does; Kamailio runs."""
    path = make_db(str(tmp_path / "loc.db"))
    con = sqlite3.connect(path)
    good = "sip:%s@127.0.0.1:5999" % user
    ins = ("INSERT INTO location (ruid, username, contact, expires, q, callid,"
           " cseq, flags, cflags, user_agent) VALUES (?,?,?,?,?,?,?,0,0,'')")
    # db_sqlite keeps a DATETIME as a Julian day number
    future = (time.time() + 600) / 86400 + 2440587.5
    con.execute(ins, ("r1", user, good, future, 1.0, "c1", 1))
    con.execute(ins, ("r2", user, "sip:" + "x" * 5000 + "@h", future, 1.0,
                      "c2", 1))
    con.execute(ins, ("r3", user, "sip:bad3@h", "not a date", 1.0, "c3", 1))
    con.execute(ins, ("r4", user, "", future, 1.0, "c4", 1))
    # NULL wherever the schema allows it: a good row
    nulls = "sip:%s-nulls@127.0.0.1:5998" % user
    con.execute("INSERT INTO location (ruid, username, domain, contact,"
                " received, path, expires, q, callid, cseq, flags, cflags,"
                " user_agent, socket, methods, instance) VALUES"
                " ('r5', ?, NULL, ?, NULL, NULL, ?, 1.0, 'c5', 1, 0, 0, '',"
                " NULL, NULL, NULL)", (user, nulls, future))
    con.commit()
    con.close()
    k = db_kamailio(kamailio_factory, "aor", path, 1)
    assert sorted(b["contact"] for b in k.show(k.aor(user))) == sorted([good, nulls])
    log = open(k.log_path).read()
    assert "loaded 2 bindings from 5 rows" in log, log[-3000:]
    assert log.count("the row is skipped") == 3, log[-3000:]


def test_wrong_table_version_refuses_to_start(tmp_path):
    """As stock: a location table of another schema version stops the
    start with a line that says so."""
    import kam
    path = make_db(str(tmp_path / "loc.db"))
    con = sqlite3.connect(path)
    con.execute("UPDATE version SET table_version=8 WHERE "
                "table_name='location'")
    con.commit()
    con.close()
    k = kam.Kamailio(str(tmp_path / "k"), modules=["db_sqlite.so"],
                     modparams={"db_url": "sqlite://" + path, "db_mode": 1})
    with pytest.raises(Exception):
        k.start()
    k.stop()
    log = open(k.log_path).read()
    assert "Error during version check for db table: location" in log, (
        log[-2000:])


def test_a_locked_database_queues_and_replays(kamailio_factory, user,
                                              tmp_path):
    """An outage (another process holds the SQLite file's exclusive lock):
    REGISTERs keep getting their 200 (mode 1 does not wait for a database
    known down), the changes queue, the counters and one log line say so;
    when the lock goes, every change is written in order."""
    path = make_db(str(tmp_path / "loc.db"))
    k = db_kamailio(kamailio_factory, "aor", path, 1, db_sync_timeout=300)
    c = sip.Client(k.port)
    aor = k.aor(user)
    assert c.register(aor, ["sip:%s-0@127.0.0.1:%d" % (user, c.port)],
                      expires=300).status == 200
    assert len(rows(path)) == 1
    lock = sqlite3.connect(path, timeout=0, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.time()
        for i in range(1, 21):
            r = c.register(aor, ["sip:%s-%d@127.0.0.1:%d" % (user, i, c.port)],
                           expires=300)
            assert r.status == 200
        assert c.register(aor, ["sip:%s-0@127.0.0.1:%d" % (user, c.port)],
                          expires=0).status == 200
        took = time.time() - t0
        out = lambda: k.kamcmd("stats.get_statistics", "aor:")
        assert sip.wait_until(lambda: "aor:db_outages = 1" in out(), 5), out()
        st = out()
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    # 22 REGISTERs: none waited out the whole timeout once the writer knew
    slow = 4 if kam.VALGRIND_DIR else 1  # make check-memory
    assert took < 22 * 0.3 * slow, took
    want = sorted("sip:%s-%d@127.0.0.1:%d" % (user, i, c.port)
                  for i in range(1, 21))
    got = wait_rows(lambda: rows(path),
                    lambda r: sorted(x["contact"] for x in r) == want,
                    timeout=40)
    c.close()
    assert sorted(r["contact"] for r in got) == want
    log = open(k.log_path).read()
    assert log.count("is unreachable or refuses writes") == 1, log[-3000:]
    assert re.search(r"is back after \d+ ms; replaying (\d+) queued", log)
    assert int(re.search(r"replaying (\d+) queued", log).group(1)) >= 21
    # while locked, the 22 changes waited in the queue
    assert int(re.search(r"aor:db_queued = (\d+)", st).group(1)) >= 21, st
    st = k.kamcmd("stats.get_statistics", "aor:")
    assert "aor:db_queued = 0" in st and "aor:db_dropped = 0" in st, st
    assert int(re.search(r"aor:db_written = (\d+)", st).group(1)) == 22, st


def prefill(path, user, conn_ids):
    """Rows as another Kamailio left them: one per connection id."""
    con = sqlite3.connect(path)
    future = (time.time() + 600) / 86400 + 2440587.5
    for i, cid in enumerate(conn_ids):
        con.execute("INSERT INTO location (ruid, username, contact, expires,"
                    " q, callid, cseq, flags, cflags, user_agent,"
                    " connection_id) VALUES (?,?,?,?,?,?,?,0,0,'ua',?)",
                    ("uloc-pre-%d" % i, user,
                     "sip:%s-pre%d@127.0.0.1:%d" % (user, i, 5900 + i),
                     future, 1.0, "pre-%d" % i, 1, cid))
    con.commit()
    con.close()


def test_db_clean_tcp_deletes_the_rows_of_connections_as_stock(
        kamailio_factory, user, tmp_path):
    """db_clean_tcp 1: at start-up the rows of TCP connections (which the
    restart closed) are deleted before the load, the others loaded; stock
    in the same run does the same."""
    got = {}
    for impl in ("stock", "aor"):
        path = make_db(str(tmp_path / ("%s.db" % impl)))
        prefill(path, user, [-1, 7, 0, 12])
        k = db_kamailio(kamailio_factory, impl, path, 1, db_clean_tcp=1)
        got[impl] = (sorted(b["contact"] for b in k.show(k.aor(user))),
                     sorted(r["connection_id"] for r in rows(path)))
    assert got["aor"] == got["stock"], got
    assert got["aor"][1] == [-1, 0], got


def test_db_mode_4_loads_and_never_writes(kamailio_factory, user, tmp_path):
    """db_mode 4 (usrloc's DB_READONLY): the rows are loaded at start-up,
    and what REGISTERs change stays in memory: the table is as it was, as
    with stock."""
    got = {}
    for impl in ("stock", "aor"):
        path = make_db(str(tmp_path / ("%s.db" % impl)))
        prefill(path, user, [-1, -1])
        before = rows(path)
        k = db_kamailio(kamailio_factory, impl, path, 4)
        c = sip.Client(k.port)
        aor = k.aor(user)
        assert c.register(aor, ["sip:%s-new@127.0.0.1:%d" % (user, c.port)],
                          expires=300).status == 200
        assert c.register(aor, [before[0]["contact"]],
                          expires=0).status == 200
        c.close()
        time.sleep(1.5)  # a timer round, had anything been queued
        got[impl] = sorted(b["contact"].rsplit(":", 1)[0]
                           for b in k.show(aor))
        assert rows(path) == before, impl
    assert got["aor"] == got["stock"], got
    assert len(got["aor"]) == 2, got


EVERY_WAY_REGISTER = """
        if($hdr(X-Save) == "4") {
            save("location", "0x04");
        } else {
            save("location");
        }
        exit;
"""

EVERY_WAY_ROUTE = """
    if(is_method("MESSAGE") && $hdr(X-Op) == "unregister") {
        if(unregister("location", "$hdr(X-AoR)")) {
            sl_send_reply("200", "Unregistered");
        } else {
            sl_send_reply("404", "Unregister Failed");
        }
        exit;
    }
    sl_send_reply("404", "Not here");
    exit;
"""


@pytest.mark.parametrize("policy", ["evict_oldest", "evict_expiring"])
def test_every_way_a_binding_changes_shows_in_the_table(
        kamailio_factory, user, tmp_path, policy):
    """Mode 1: after each way a binding changes or goes (a refresh,
    Expires 0, '*', save flag 0x04, max_contacts eviction, aor.rm,
    aor.add, aor.rm_contact, aor.flush, unregister(), expiry, a closed TCP
    connection) the table holds exactly the bindings the store holds,
    field for field where both say (contact, callid, cseq, q)."""
    path = make_db(str(tmp_path / "loc.db"))
    port = sip.free_port(tcp_span=1)
    k = kamailio_factory(
        impl="aor", port=port, modules=["db_sqlite.so"],
        register=EVERY_WAY_REGISTER, route=EVERY_WAY_ROUTE,
        globals_="disable_tcp=no\nlisten=tcp:127.0.0.1:%d\n" % port,
        modparams={"db_url": "sqlite://" + path, "db_mode": 1,
                   "timer_interval": 1, "min_expires": 1,
                   "max_contacts": 2, "max_contacts_policy": policy,
                   "handle_lost_tcp": 1})
    c = sip.Client(k.port)
    users = [user + s for s in ("1", "2", "3")]

    def store():
        out = set()
        for u in users:
            for b in k.show(k.aor(u)) or []:
                out.add((b["contact"].split(";")[0], b.get("callid"),
                         b.get("cseq")))
        return out

    def table():
        return {(r["contact"], r["callid"], str(r["cseq"]))
                for r in rows(path)}

    steps = []

    def check(what, n=None):
        ok = sip.wait_until(lambda: table() == store(), 5)
        assert ok, (what, table() ^ store())
        if n is not None:
            assert len(table()) == n, (what, table())
        steps.append(what)

    u1 = k.aor(users[0])
    a = "sip:%s-a@127.0.0.1:%d" % (users[0], c.port)
    b = "sip:%s-b@127.0.0.1:%d" % (users[0], c.port)
    cid = sip.token(10)
    assert c.register(u1, [a], expires=300, call_id=cid, cseq=1).status == 200
    assert c.register(u1, [b], expires=300).status == 200
    check("register", 2)
    assert c.register(u1, [a], expires=300, call_id=cid, cseq=2).status == 200
    check("refresh", 2)
    assert c.register(u1, [b], expires=0).status == 200
    check("Expires 0", 1)
    assert c.register(u1, ["*"], expires=0, call_id=cid, cseq=3).status == 200
    check("*", 0)
    cc = "sip:%s-c@127.0.0.1:%d" % (users[0], c.port)
    d = "sip:%s-d@127.0.0.1:%d" % (users[0], c.port)
    assert c.register(u1, [cc], expires=300).status == 200
    assert c.register(u1, [d], expires=300,
                      headers=[("X-Save", "4")]).status == 200
    check("save flag 0x04", 1)
    u2 = k.aor(users[1])
    for i, exp in enumerate((300, 200, 400)):
        assert c.register(u2, ["sip:%s-%d@127.0.0.1:%d" % (
            users[1], i, c.port)], expires=exp).status == 200
    check("max_contacts " + policy, 3)
    k.kamcmd("aor.rm", k.aor_key(u2))
    check("aor.rm", 1)
    u3 = k.aor(users[2])
    k.kamcmd("aor.add", k.aor_key(u3), "sip:%s@192.0.2.3" % users[2], 300)
    k.kamcmd("aor.add", k.aor_key(u3), "sip:%s@192.0.2.4" % users[2], 300)
    check("aor.add", 3)
    k.kamcmd("aor.rm_contact", k.aor_key(u3), "sip:%s@192.0.2.3" % users[2])
    check("aor.rm_contact", 2)
    k.kamcmd("aor.flush")
    check("aor.flush", 0)
    assert c.register(u1, [a], expires=300).status == 200
    r = c.request("MESSAGE", k.ruri(users[0]), u1,
                  headers=[("X-Op", "unregister"), ("X-AoR", u1)])
    assert c.transact(*r).status == 200
    check("unregister()", 0)
    assert c.register(u1, [a], expires=2).status == 200
    check("short registration", 1)
    assert sip.wait_until(lambda: not rows(path), 6), rows(path)
    check("expiry", 0)
    t = sip.TcpClient(k.port)
    assert t.register(u1, [t.contact(users[0])], expires=300).status == 200
    check("over TCP", 1)
    t.close()
    assert sip.wait_until(lambda: not rows(path), 6), rows(path)
    check("closed TCP connection", 0)
    c.close()
    assert len(steps) == 15



def mode3_node(factory, impl, path, sid):
    return factory(impl=impl, modules=["db_sqlite.so"], route=MODE3_ROUTE,
                   globals_="server_id=%d\n" % sid,
                   modparams={"db_url": "sqlite://" + path, "db_mode": 3,
                              "timer_interval": 1, "min_expires": 1})


def found(k, c, user):
    """What lookup() at k finds for user: the R-URI it chose, or None."""
    data, cid, cs = c.request("MESSAGE", k.ruri(user), k.aor(user))
    r = c.transact(data, cid, cs)
    if r.status == 404:
        return None
    assert r.status == 200, r
    return r.get("x-ruri").rsplit(":", 1)[0]


def test_db_mode_3_two_nodes_share_one_table_as_stock(kamailio_factory,
                                                       user, tmp_path):
    """db_mode 3 (DB-only): two nodes on one table; what is registered at
    either is found by lookup() at the other, a refresh, an Expires 0 and a
    '*' at either are seen by the other, an expiry ends the binding for
    both; the same steps through two stock nodes on a table of their own,
    in the same run, give the same answers. The ruids the two aor nodes make
    never collide (their server_ids differ)."""
    got = {}
    for impl in ("stock", "aor"):
        path = make_db(str(tmp_path / ("%s.db" % impl)))
        a = mode3_node(kamailio_factory, impl, path, 1)
        b = mode3_node(kamailio_factory, impl, path, 2)
        ca, cb = sip.Client(a.port), sip.Client(b.port)
        aor = a.aor(user)
        c1 = ("sip:%s-1@127.0.0.1:5901" % user, ";q=0.9")
        c2 = ("sip:%s-2@127.0.0.1:5902" % user, ";q=0.5")
        seq = []
        assert ca.register(aor, [c1], expires=300).status == 200
        seq.append(("A registers c1; B finds", found(b, cb, user)))
        assert cb.register(aor, [c2], expires=300).status == 200
        seq.append(("B registers c2; A finds", found(a, ca, user)))
        seq.append(("rows", len(rows(path))))
        r = cb.register(aor, [c1[0]], expires=0)
        seq.append(("B unregisters c1", r.status, found(a, ca, user)))
        r = ca.register(aor, [c2[0]], expires=300)
        seq.append(("A refreshes c2", r.status, sorted(
            u.split(";")[0].rsplit(":", 1)[0] for u in r.contact_uris())))
        r = cb.register(aor, ["*"], expires=0, call_id=sip.token(9))
        seq.append(("B: *", r.status, found(a, ca, user), len(rows(path))))
        assert ca.register(aor, [c1], expires=2).status == 200
        seq.append(("A: c1 for 2 s; B finds", found(b, cb, user)))
        time.sleep(3.2)
        seq.append(("expired; B finds", found(b, cb, user)))
        ca.close()
        cb.close()
        got[impl] = seq
        if impl == "aor":
            assert sip.wait_until(lambda: not rows(path), 3), rows(path)
    assert got["aor"] == got["stock"], got
    assert got["aor"][0][1] == "sip:%s-1@127.0.0.1" % user, got["aor"]
    assert got["aor"][3][2] == "sip:%s-2@127.0.0.1" % user, got["aor"]


def test_db_mode_3_outage_answers_503_and_recovers(kamailio_factory, user,
                                                  tmp_path):
    """db_mode 3 with the database unavailable (another process holds the
    SQLite file's exclusive lock): a REGISTER gets 503 with Retry-After and
    changes nothing; once the lock goes the next REGISTER gets its 200, with
    no operator action."""
    path = make_db(str(tmp_path / "loc.db"))
    k = mode3_node(kamailio_factory, "aor", path, 1)
    c = sip.Client(k.port)
    aor = k.aor(user)
    assert c.register(aor, ["sip:%s-0@127.0.0.1:5900" % user],
                      expires=300).status == 200
    lock = sqlite3.connect(path, timeout=0, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        r = c.register(aor, ["sip:%s-1@127.0.0.1:5901" % user], expires=300)
        assert r.status == 503, r
        assert r.get("retry-after"), r
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert [x["contact"] for x in rows(path)] == [
        "sip:%s-0@127.0.0.1:5900" % user]
    ok = sip.wait_until(lambda: c.register(
        aor, ["sip:%s-1@127.0.0.1:5901" % user],
        expires=300).status == 200, 5, interval=0.5)
    c.close()
    assert ok
    assert len(rows(path)) == 2


def test_db_mode_2_writes_what_is_queued_at_shutdown(kamailio_factory, user,
                                                     tmp_path):
    """db_mode 2 with a round due only in a minute: the changes of the
    REGISTERs are not in the table yet; a clean stop writes them (as stock
    flushes its write-back cache), and a restart loads them back."""
    path = make_db(str(tmp_path / "loc.db"))
    k = db_kamailio(kamailio_factory, "aor", path, 2, timer_interval=60)
    c = sip.Client(k.port)
    aor = k.aor(user)
    want = sorted("sip:%s-%d@127.0.0.1:%d" % (user, i, c.port)
                  for i in range(5))
    for u in want:
        assert c.register(aor, [u], expires=300).status == 200
    c.close()
    time.sleep(0.5)
    assert rows(path) == [], rows(path)  # the round is a minute away
    k.stop()
    assert sorted(r["contact"] for r in rows(path)) == want
    assert "wrote the 5 changes still queued at shutdown" in open(
        k.log_path).read()
    k.start()
    assert sorted(b["contact"] for b in k.show(aor)) == want


def test_kamctl_db_show_reads_what_aor_wrote(kamailio_factory, user,
                                             tmp_path):
    """The operator's tool reads the table as it reads stock's: kamctl
    (Debian's, DBENGINE=SQLITE) lists the contacts aor wrote, each with
    its ruid."""
    import shutil
    import subprocess
    kamctl = shutil.which("kamctl") or "/usr/sbin/kamctl"
    path = make_db(str(tmp_path / "loc.db"))
    k = db_kamailio(kamailio_factory, "aor", path, 1)
    c = sip.Client(k.port)
    want = ["sip:%s-%d@127.0.0.1:%d" % (user, i, c.port) for i in range(3)]
    for u in want:
        assert c.register(k.aor(user), [u], expires=300).status == 200
    c.close()
    env = dict(os.environ, DBENGINE="SQLITE", DB_PATH=path)
    r = subprocess.run([kamctl, "db", "show", "location"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stdout.splitlines() if user in ln]
    assert sorted(u for u in want if any(u in ln for ln in lines)) == \
        sorted(want), r.stdout
    ruids = {r["ruid"] for r in rows(path)}
    assert all(any(ru in ln for ln in lines) for ru in ruids), r.stdout


def test_sqlite_table_loads_in_pages_of_fetch_rows(kamailio_factory,
                                                   tmp_path):
    """db_sqlite reads a result whole (no fetch): aor reads the table in
    pages of fetch_rows rows by its id column instead, so 60,000 rows load
    within Kamailio's default 8 MB of pkg memory, every one of them (a
    whole result of that size would need several times that: stock usrloc
    on the same file starts with none of them, and no error line), and the
    re-keying of the 60,000 stock ruids goes page by page, one
    transaction each (a list of them all would not fit in pkg either)."""
    path = make_db(str(tmp_path / "loc.db"))
    con = sqlite3.connect(path)
    future = (time.time() + 3600) / 86400 + 2440587.5
    n = 60000
    con.executemany(
        "INSERT INTO location (ruid, username, contact, expires, q, callid,"
        " cseq, flags, cflags, user_agent, path) VALUES"
        " (?,?,?,?,1.0,?,1,0,0,?,?)",
        (("uloc-%d" % i, "u%05d" % (i // 2),
          "sip:u%05d-%d@192.0.2.%d:5060" % (i // 2, i % 2, i % 250 + 1),
          future, "call-%d" % i, "load-test/1.0 " + "x" * 60,
          "<sip:edge%d.example.com;lr>" % (i % 7)) for i in range(n)))
    con.commit()
    con.close()
    k = db_kamailio(kamailio_factory, "aor", path, 1, fetch_rows=1000)
    assert k.count() == (n // 2, n)
    log = open(k.log_path).read()
    assert "loaded %d bindings from %d rows" % (n, n) in log, log[-2000:]
    # and re-keyed, in the same table
    con = sqlite3.connect(path)
    assert con.execute("SELECT count(*) FROM location WHERE ruid LIKE "
                       "'aor-%'").fetchone()[0] == n
    con.close()
