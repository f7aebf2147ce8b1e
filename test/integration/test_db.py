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

import sip
from sqldb import COLS, assert_rows_as_stock, scenario, wait_rows

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
    k.stop()
    k.start()
    after = k.show(aor)
    assert sorted(b["contact"] for b in after) == sorted(
        b["contact"] for b in before)
    key = lambda b: b["contact"]
    for x, y in zip(sorted(before, key=key), sorted(after, key=key)):
        for f in ("ruid", "q", "path", "callid", "cseq"):
            assert x.get(f) == y.get(f), (f, x, y)
        assert abs(int(x["expires"]) - int(y["expires"])) <= 2, (x, y)
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
    assert "location" in log and "version" in log.lower(), log[-2000:]


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
    assert took < 22 * 0.3, took
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
