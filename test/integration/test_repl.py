"""Replication over DMQ (replicate 1), at the level of its messages: two
real Kamailio nodes with Debian's dmq module; the start-up checks; KDMQ
requests from what is not a DMQ node refused; malformed bodies answered
400 with nothing changed; peers' changes applied by version (duplicates,
reordering, late copies, tombstones). The cluster scenarios (three nodes,
every way a binding changes, faults, the stock dmq_usrloc side) are in
test_cluster.py."""

import socket
import time

import pytest

import kam as kammod
import sip

KDMQ_ROUTE = ('if(is_method("KDMQ")) { dmq_handle_message(); exit; }\n'
              + kammod.DEFAULT_ROUTE)


def dmq_extra(me, peer):
    return ('modparam("dmq", "server_address", "sip:127.0.0.1:%d")\n'
            'modparam("dmq", "notification_address", "sip:127.0.0.1:%d")\n'
            'modparam("dmq", "multi_notify", 0)\n' % (me, peer))


def wait(pred, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def repl(k):
    """aor.repl's top-level fields (numbers as int)."""
    tree = kammod.parse_rpc(k.kamcmd("aor.repl"))
    out = {}
    for key, val in tree[0]:
        if isinstance(val, str):
            out[key] = int(val) if val.lstrip("-").isdigit() else val
    return out


@pytest.fixture
def pair(kamailio_factory):
    """Two aor nodes replicating to each other, both synced."""
    pa, pb = sip.free_udp_port(), sip.free_udp_port()
    mp = {"replicate": 1, "repl_ae_interval": 0}
    a = kamailio_factory(modparams=mp, route=KDMQ_ROUTE, modules=["dmq.so"],
                         extra=dmq_extra(pa, pb), port=pa,
                         globals_="server_id=1")
    b = kamailio_factory(modparams=mp, route=KDMQ_ROUTE, modules=["dmq.so"],
                         extra=dmq_extra(pb, pa), port=pb,
                         globals_="server_id=2")
    for k in (a, b):
        assert wait(lambda: repl(k)["sync_state"] in ("done", "alone"),
                    timeout=15), repl(k)
    return a, b


def bindings(k, user):
    return k.show(user) or []


def stable(bs):
    """bindings without the fields that move with the clock (seconds left)"""
    return [{f: v for f, v in b.items() if f != "expires"} for b in bs]


def kdmq(client, node, body, from_port, method="KDMQ"):
    """A KDMQ request for peer aor to node, claiming to come from the DMQ
    node at 127.0.0.1:from_port; returns the final reply."""
    data, cid, cs = client.request(
        method, "sip:aor@127.0.0.1:%d" % node.port,
        "sip:aor@127.0.0.1:%d" % node.port,
        from_="sip:aor@127.0.0.1:%d" % from_port,
        headers=[("Content-Type", "application/x-aor-repl")],
        override={"Max-Forwards": "1"}, body=body)
    return client.transact(data, cid, cs, timeout=3)


def ns(s):
    b = s.encode("latin-1")
    return "%d:%s" % (len(b), s)


def put_rec(aor, uri, id_, version, expires, callid="c1", q=-1, cseq=1):
    fields = [aor, uri, "", "", "ua", callid, "", ""]
    return "P %d %d %d %d %d 0 4294967295 0 %d %s\n" % (
        id_, version, expires, int(time.time()), cseq, q,
        "".join(ns(f) for f in fields))


def body(recs, type_="chg", table="location", node=2):
    return "aor-repl 1 %s %d %s\n%s" % (type_, node, ns(table), recs)


def test_replicate_needs_dmq(tmp_path):
    k = kammod.Kamailio(str(tmp_path / "k"), modparams={"replicate": 1})
    with pytest.raises(Exception):
        k.start(timeout=5)
        k.stop()
    k.stop()
    log = open(k.log_path).read()
    assert 'replicate 1 needs the dmq module' in log


def test_replicate_refuses_db_mode_3(tmp_path):
    pa = sip.free_udp_port()
    k = kammod.Kamailio(str(tmp_path / "k"), port=pa,
                        modparams={"replicate": 1, "db_mode": 3,
                                   "db_url": "sqlite:///nonexistent.db"},
                        modules=["dmq.so"], extra=dmq_extra(pa, pa),
                        route=KDMQ_ROUTE)
    with pytest.raises(Exception):
        k.start(timeout=5)
        k.stop()
    k.stop()
    assert "replicate 1 with db_mode 3" in open(k.log_path).read()


def test_register_at_one_node_is_found_at_the_other(pair):
    a, b = pair
    with a.client() as c, sip.Uas() as u:
        r = c.register(a.aor("alice"), [u.contact("alice")], expires=300)
        assert r.status == 200
        got = wait(lambda: bindings(b, "alice"), timeout=3)
        assert [x["contact"] for x in got] == [u.contact("alice").strip("<>")]
        assert got[0]["ruid"] == bindings(a, "alice")[0]["ruid"]
    # the call through B reaches the phone registered at A
    with a.client() as c, sip.Uas() as u:
        c.register(a.aor("bob"), [u.contact("bob")], expires=300)
        assert wait(lambda: bindings(b, "bob"), timeout=3)
        with b.client() as caller:
            r = caller.invite(b.ruri("bob"))
        assert r.status == 200
        assert u.requests and u.requests[0].method == "INVITE"
    # and its removal at B reaches A
    with b.client() as c:
        r = c.register(b.aor("bob"), [u.contact("bob")], expires=0)
        assert r.status == 200
    assert wait(lambda: not bindings(a, "bob"), timeout=3)


def test_kdmq_from_what_is_not_a_dmq_node_is_refused(pair):
    a, b = pair
    before = repl(a)["refused"]
    with a.client() as c:
        # a From naming no DMQ node
        r = kdmq(c, a, body(put_rec("mallory", "sip:m@127.0.0.1:9", 77, 1 << 60,
                                    int(time.time()) + 300)),
                 from_port=9)
        assert r.status == 403
    # a From naming node B, sent from another address than B's
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.5", 0))
    c = sip.Client(a.port, sock=s)
    try:
        data, cid, cs = c.request(
            "KDMQ", "sip:aor@127.0.0.1:%d" % a.port,
            "sip:aor@127.0.0.1:%d" % a.port,
            from_="sip:aor@127.0.0.1:%d" % b.port,
            headers=[("Content-Type", "application/x-aor-repl")],
            override={"Max-Forwards": "1",
                      "Via": "SIP/2.0/UDP 127.0.0.5:%d;branch=z9hG4bK%s"
                      % (c.port, sip.token(10))},
            body=body(put_rec("mallory", "sip:m@127.0.0.1:9", 78, 1 << 60,
                              int(time.time()) + 300)))
        r = c.transact(data, cid, cs, timeout=3)
        assert r.status == 403
    finally:
        c.close()
    assert bindings(a, "mallory") == []
    assert repl(a)["refused"] == before + 2
    st = a.kamcmd("stats.get_statistics", "aor:")
    assert "aor:repl_refused = %d" % (before + 2) in st


BAD_BODIES = [
    "",
    "hello",
    "aor-repl 2 chg 2 8:location\n",
    "aor-repl 1 chg 2 8:nosuchtb\n",
    "aor-repl 1 chg 2 99:location\n",
    "aor-repl 1 chg x 8:location\n",
    "aor-repl 1 chg 2 8:location\nP 1 2 3\n",
    "aor-repl 1 chg 2 8:location\nP 0 1 0 0 1 0 0 0 -1 " + "0:" * 8 + "\n",
    "aor-repl 1 chg 2 8:location\nP 5 1 0 0 1 0 0 0 -1 9999999:x\n",
    "aor-repl 1 chg 2 8:location\nP 5 1 99999999999999999999999 0 1 0 0 0 -1 1:a1:b0:0:0:0:0:0:\n",
    "aor-repl 1 chg 2 8:location\nP 5 1 0 0 1 0 0 0 5000 1:a1:b0:0:0:0:0:0:\n",
    "aor-repl 1 dig 2 8:location\nG 0 2 00zz\n",
    "aor-repl 1 dig 2 8:location\nG 4095 1025 " + "0" * 16 + "\n",
    "aor-repl 1 chg 2 8:location\nD 5 1 70000:x\n",
    "aor-repl 1 chg 2 8:location\nQ 1\n",
]


def test_malformed_bodies_get_400_and_change_nothing(pair):
    a, b = pair
    with a.client() as c:
        c.register(a.aor("carol"), ["<sip:carol@127.0.0.1:5999>"], expires=300)
    before = stable(bindings(a, "carol"))
    bad0 = repl(a)["bad"]
    with a.client() as c:
        for i, bb in enumerate(BAD_BODIES):
            r = kdmq(c, a, body=bb, from_port=b.port)
            assert r.status == 400, (i, bb, r.status)
        # a body of 60 KB of garbage after a valid header
        r = kdmq(c, a, body=body("P " + "9" * 60000), from_port=b.port)
        assert r.status == 400
    assert repl(a)["bad"] == bad0 + len(BAD_BODIES) + 1
    assert stable(bindings(a, "carol")) == before
    assert a.kamcmd("core.uptime")  # alive
    # a valid body from the same forged-but-peer address is applied
    with a.client() as c:
        r = kdmq(c, a, body(put_rec("dave", "sip:d@127.0.0.1:7", (7 << 8) | 2,
                                    1 << 50, int(time.time()) + 300)),
                 from_port=b.port)
        assert r.status == 200
    assert [x["contact"] for x in bindings(a, "dave")] == ["sip:d@127.0.0.1:7"]


def test_peer_changes_apply_by_version(pair):
    a, b = pair
    now = int(time.time())
    v = (now << 20)
    bid = (1234 << 8) | 2  # a binding id of node 2's residue
    uri = "sip:eve@127.0.0.1:7000"
    with a.client() as c:
        def send(recs):
            r = kdmq(c, a, body(recs), from_port=b.port)
            assert r.status == 200
        send(put_rec("eve", uri, bid, v + 10, now + 300, cseq=10))
        got = bindings(a, "eve")
        assert [x["cseq"] for x in got] == ["10"]
        # an older copy (reordered) and a duplicate change nothing
        send(put_rec("eve", uri, bid, v + 5, now + 300, cseq=5))
        send(put_rec("eve", uri, bid, v + 10, now + 300, cseq=99))
        assert [x["cseq"] for x in bindings(a, "eve")] == ["10"]
        # a newer one replaces it
        send(put_rec("eve", uri, bid, v + 20, now + 600, cseq=20))
        assert [x["cseq"] for x in bindings(a, "eve")] == ["20"]
        # an older removal changes nothing; a newer one removes it
        send("D %d %d %s\n" % (bid, v + 15, ns("eve")))
        assert [x["cseq"] for x in bindings(a, "eve")] == ["20"]
        send("D %d %d %s\n" % (bid, v + 30, ns("eve")))
        assert bindings(a, "eve") == []
        # a late copy older than the removal does not bring it back
        send(put_rec("eve", uri, bid, v + 25, now + 600, cseq=25))
        assert bindings(a, "eve") == []
        # a removal that arrives before its binding leaves a tombstone
        bid2 = bid + 256
        send("D %d %d %s\n" % (bid2, v + 50, ns("eve")))
        send(put_rec("eve", "sip:eve@127.0.0.1:7001", bid2, v + 40,
                     now + 600))
        assert bindings(a, "eve") == []
        # and a later registration of it (newer) is taken
        send(put_rec("eve", "sip:eve@127.0.0.1:7001", bid2, v + 60,
                     now + 600, cseq=60))
        assert [x["cseq"] for x in bindings(a, "eve")] == ["60"]
        # an expired one is not inserted
        send(put_rec("frank", "sip:f@127.0.0.1:1", bid + 512, v + 1,
                     now - 5))
        assert bindings(a, "frank") == []
    st = repl(a)
    assert st["stale"] >= 5 and st["applied"] >= 4
    # none of these peer changes went back out from A
    assert wait(lambda: bindings(b, "eve") == [], timeout=1)


def test_same_contact_registered_at_both_nodes_converges(pair):
    """The same contact registered at A and at B before either heard of the
    other (a lost message, a partition): both end with the newer binding."""
    a, b = pair
    now = int(time.time())
    uri = "sip:gina@127.0.0.1:7100"
    older = ((now - 2) << 20, (55 << 8) | 2)
    with a.client() as c:
        r = c.register(a.aor("gina"), ["<%s>" % uri], expires=300)
        assert r.status == 200
        assert wait(lambda: bindings(b, "gina"), timeout=3)
        mine = bindings(a, "gina")[0]["ruid"]
        # a copy made by "B" earlier for the same contact, another id
        r = kdmq(c, a, body(put_rec("gina", uri, older[1], older[0],
                                    now + 300, callid="other")),
                 from_port=b.port)
        assert r.status == 200
    got = bindings(a, "gina")
    assert [x["ruid"] for x in got] == [mine]
