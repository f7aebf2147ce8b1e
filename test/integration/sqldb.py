# kamailio-aor - SIP registrar module for Kamailio
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
"""What the SQL tests share, whatever the database (test_db.py on SQLite,
test_db_pg.py on PostgreSQL): the columns, the timestamps in Unix
seconds, a row reduced to what does not depend on who wrote it, the
scenario run through stock usrloc and aor and the comparison of the rows
each leaves. A `rows` argument is a function of no argument that returns
the location table as dicts of COLS ordered by contact."""

import time

COLS = ["ruid", "username", "domain", "contact", "received", "path",
        "expires", "q", "callid", "cseq", "last_modified", "flags", "cflags",
        "user_agent", "socket", "methods", "instance", "reg_id", "server_id",
        "connection_id", "keepalive", "partition"]


def ts(v):
    """A DATETIME column as db_sqlite writes it (a Julian day number) or
    as text (db_postgres, or rows a person or a test wrote), in Unix
    seconds."""
    if isinstance(v, (int, float)):
        return (v - 2440587.5) * 86400
    return time.mktime(time.strptime(v[:19], "%Y-%m-%d %H:%M:%S"))


def comparable(r):
    """What a row says that does not depend on who wrote it (ruid) or on
    the clock (expires and last_modified, compared apart)."""
    d = {k: v for k, v in r.items()
         if k not in ("ruid", "expires", "last_modified")}
    d["contact"] = d["contact"].rsplit(":", 1)[0]  # each client's port
    if d["socket"]:
        d["socket"] = d["socket"].rsplit(":", 1)[0]  # each server's port
    return d


def wait_rows(rows, pred, timeout=5.0):
    """rows() once pred holds of it, or its last value after timeout."""
    deadline = time.time() + timeout
    r = rows()
    while not pred(r) and time.time() < deadline:
        time.sleep(0.05)
        r = rows()
    return r


STEPS = "register a (q, UA, instance), b; refresh a; unregister b; c expires"


def scenario(k, c, user, rows, check_now, cids):
    """The same requests through either registrar; after each, the rows
    (right after the 200 in mode 1). Returns the snapshots."""
    aor = k.aor(user)
    a = ("sip:%s@127.0.0.1:%d" % (user, c.port),
         ';q=0.5;+sip.instance="<urn:uuid:00000000-0000-0000-0000-0000000000a1>"'
         ';reg-id=1')
    b = "sip:%s-b@127.0.0.1:%d" % (user, c.port)
    cid = cids[0]
    snaps = []

    def snap(pred):
        snaps.append(rows() if check_now else wait_rows(rows, pred))

    ua = [("User-Agent", "aor-test/1")]
    assert c.register(aor, [a], expires=300, call_id=cid, cseq=1,
                      headers=ua).status == 200
    snap(lambda r: len(r) == 1)
    assert c.register(aor, [b], expires=300, call_id=cids[1],
                      cseq=1).status == 200
    snap(lambda r: len(r) == 2)
    assert c.register(aor, [a], expires=600, call_id=cid, cseq=2,
                      headers=ua).status == 200
    snap(lambda r: any(x["cseq"] == 2 for x in r))
    assert c.register(aor, [b], expires=0, call_id=cids[1],
                      cseq=2).status == 200
    snap(lambda r: len(r) == 1)
    cc = "sip:%s-c@127.0.0.1:%d" % (user, c.port)
    assert c.register(aor, [cc], expires=2, call_id=cids[2],
                      cseq=1).status == 200
    snap(lambda r: len(r) == 2)
    gone = wait_rows(rows, lambda r: len(r) == 1, timeout=8)
    snaps.append(gone)
    return snaps


def assert_rows_as_stock(got):
    """got: {"stock": snapshots, "aor": snapshots} of scenario(): the same
    rows after each step, column by column (ruid aside: each makes its
    own), the lifetime (expires - last_modified) within a second, and the
    refresh moved expires on by its 600 s."""
    assert [len(s) for s in got["aor"]] == [1, 2, 2, 1, 2, 1], got["aor"]
    for n, (sa, ss) in enumerate(zip(got["aor"], got["stock"])):
        ca, cs = [comparable(r) for r in sa], [comparable(r) for r in ss]
        assert ca == cs, (STEPS, n, [
            {k: (x[k], y[k]) for k in x if x[k] != y[k]}
            for x, y in zip(ca, cs)])
        # the two run one after the other: the lifetimes must agree
        for ra, rs in zip(sa, ss):
            la = ts(ra["expires"]) - ts(ra["last_modified"])
            ls = ts(rs["expires"]) - ts(rs["last_modified"])
            assert abs(la - ls) <= 1, (ra, rs)
            assert ra["ruid"].startswith("aor-")
    a = [r for r in got["aor"][2] if r["cseq"] == 2][0]
    assert 590 <= ts(a["expires"]) - time.time() <= 601, a


# db_mode 3 tests: MESSAGE runs lookup() and answers with the R-URI it chose
MODE3_ROUTE = """
    if(is_method("MESSAGE")) {
        if(lookup("location")) {
            append_to_reply("X-Ruri: $ru\\r\\n");
            sl_send_reply("200", "Found");
        } else {
            sl_send_reply("404", "Not Found");
        }
        exit;
    }
    sl_send_reply("404", "Not here");
    exit;
"""
