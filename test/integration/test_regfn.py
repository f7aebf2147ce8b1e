"""The stock registrar's script features beside save() and lookup():
xavp_rcd + xavp_rcd_mask, xavp_cfg, path_use_received, lookup_to_dset(),
reg_send_reply() with save() flags 0x02/0x10, registered() with its match
flags, default_expires_range/expires_range and save() flag 0x08.

Stock registrar+usrloc is the oracle: every test sends the same requests to
a stock Kamailio and to an aor Kamailio with the same script and compares
what comes back. The script makes the xavps visible as reply headers
(append_to_reply), so nothing is read from a log.
"""

import pytest

import oracle
from checks import contacts_of
from oracle import both
from test_kemi import KemiKamailio

NULL = "<null>"

# The xavp_cfg values a request asks for, from X-* headers (the first
# assignment makes $xavp(reg), the others add to it).
XAVP_CFG = """
    $xavp(reg=>init) = 1;
    if($hdr(X-Max) != $null) {
        $xavp(reg[0]=>max_contacts) = $(hdr(X-Max){s.int});
    }
    if($hdr(X-Exp) != $null) {
        $xavp(reg[0]=>expires) = $(hdr(X-Exp){s.int});
    }
    if($hdr(X-Q) != $null) {
        $xavp(reg[0]=>q) = $(hdr(X-Q){s.int});
    }
    if($hdr(X-Callid) != $null) {
        $xavp(reg[0]=>match_callid) = $hdr(X-Callid);
    }
    if($hdr(X-Match-Rcv) != $null) {
        $xavp(reg[0]=>match_received) = $hdr(X-Match-Rcv);
    }
    if($hdr(X-Match-Ct) != $null) {
        $xavp(reg[0]=>match_contact) = $hdr(X-Match-Ct);
    }
    if($hdr(X-Sock) != $null) {
        $xavp(reg[0]=>socket) = $hdr(X-Sock);
        setflag(5);
    }
"""

# the xavp_rcd fields as reply headers
RCD = """
    append_to_reply("X-Ruid: $xavp(ulrcd=>ruid)\\r\\n");
    append_to_reply("X-Contact: $xavp(ulrcd=>contact)\\r\\n");
    append_to_reply("X-Contact1: $xavp(ulrcd=>contact[1])\\r\\n");
    append_to_reply("X-Received: $xavp(ulrcd=>received)\\r\\n");
    append_to_reply("X-Expires: $xavp(ulrcd=>expires)\\r\\n");
    append_to_reply("X-Path: $xavp(ulrcd=>path)\\r\\n");
"""

# save() takes literal flags only (stock's fixup): one call per X-Flags
REGISTER = XAVP_CFG + """
    if($hdr(X-Rcv) != $null) {
        $avp(rcv) = $hdr(X-Rcv);
    }
    if($hdr(X-Op) == "hold") {
        $var(r) = save("location", "0x02");
        append_to_reply("X-Save: $var(r)\\r\\n");
""" + RCD + """
        reg_send_reply();
        exit;
    }
    if($hdr(X-Op) == "drop") {
        save("location", "0x02");
        exit;
    }
    if($hdr(X-Op) == "own") {
        save("location", "0x02");
        sl_send_reply("298", "Own");
        exit;
    }
    if($hdr(X-Op) == "prepare") {
        save("location", "0x12");
        sl_send_reply("299", "Prepared");
        exit;
    }
    if($hdr(X-Op) == "flag10") {
        save("location", "0x10");
        exit;
    }
    if($hdr(X-Op) == "exact") {
        save("location", "0x08");
        exit;
    }
    save("location");
    exit;
"""

ROUTE = XAVP_CFG + """
    if($hdr(X-Op) == "lookup") {
        $var(r) = lookup("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
        append_to_reply("X-Ru: $ru\\r\\n");
        append_to_reply("X-Fs: $fs\\r\\n");
        if(isbflagset("6")) {
            append_to_reply("X-Nat: 1\\r\\n");
        }
""" + RCD + """
        sl_send_reply("200", "Looked up");
        exit;
    }
    if($hdr(X-Op) == "branches") {
        append_branch($hdr(X-Branch));
        $var(r) = lookup_branches("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
""" + RCD + """
        sl_send_reply("200", "Branches");
        exit;
    }
    if($hdr(X-Op) == "registered") {
        $var(m) = $(hdr(X-M){s.int});
        $var(a) = $(hdr(X-A){s.int});
        $var(r) = registered("location", "$ru", "$var(m)", "$var(a)");
        append_to_reply("X-Ret: $var(r)\\r\\n");
""" + RCD + """
        sl_send_reply("200", "Registered?");
        exit;
    }
    if($hdr(X-Op) == "registered1") {
        $var(r) = registered("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
""" + RCD + """
        sl_send_reply("200", "Registered?");
        exit;
    }
    if($hdr(X-Op) == "dset") {
        $var(r) = lookup_to_dset("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
        append_to_reply("X-Ru: $ru\\r\\n");
        append_to_reply("X-Count: $branch(count)\\r\\n");
""" + RCD + """
        sl_send_reply("200", "Dset");
        exit;
    }
    if($hdr(X-Op) == "dset-relay") {
        $var(r) = lookup_to_dset("location");
        if($var(r) < 0) {
            sl_send_reply("404", "Not Found");
            exit;
        }
        $ru = $hdr(X-Ruri);
        t_relay();
        exit;
    }
    sl_send_reply("404", "Not Here");
    exit;
"""

BASE = {
    "xavp_cfg": "reg",
    "xavp_rcd": "ulrcd",
    "received_avp": "$avp(rcv)",
    "use_path": 1,
    "path_mode": 1,
    "path_use_received": 1,
    "min_expires": 10,
    "min_expires_mode": 0,
    "max_expires": 0,
    "case_sensitive": 0,
    "nat_source": 0,  # aor only: no received of our own
    "nat_bflag": 6,
    "sock_flag": 5,
}

# pair 2: a mask, the expiry variation, no append_branches
MASK = 2 | 8  # contact and received left out
VARY = dict(BASE, xavp_rcd_mask=MASK, default_expires_range=50,
            expires_range=30, append_branches=0)


def _pair(factory, params):
    """stock and aor, each with a second socket (port2) for sock_flag"""
    return oracle.start(factory, port2="", modparams=params,
                        register=REGISTER, route=ROUTE)


@pytest.fixture(scope="module")
def pair(module_kamailio):
    return _pair(module_kamailio, BASE)


@pytest.fixture(scope="module")
def pair2(module_kamailio):
    return _pair(module_kamailio, VARY)


def op(c, k, user, name, headers=(), method="OPTIONS"):
    return c.invite(k.ruri(user), method=method,
                    headers=[("X-Op", name)] + list(headers))


def h(reply, name):
    return reply.get(name)


def same(r, *names):
    for n in names:
        assert h(r["stock"], n) == h(r["aor"], n), \
            "%s: stock %r, aor %r\nstock:\n%s\naor:\n%s" % (
                n, h(r["stock"], n), h(r["aor"], n), r["stock"].raw,
                r["aor"].raw)


def near(a, b, slack=2):
    return a is not None and b is not None and abs(int(a) - int(b)) <= slack


# -- xavp_rcd ----------------------------------------------------------------

def test_xavp_rcd_after_lookup_has_stocks_fields(pair, user):
    """lookup() puts the R-URI binding's ruid, contact, received and
    expires in xavp_rcd (stock lookup.c xavp_rcd_helper); no path field
    without a Path."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5071" % user
        assert c.register(k.aor(user), [ct], expires=600,
                          headers=[("X-Rcv", "sip:192.0.2.7:5071")]
                          ).status == 200
        return op(c, k, user, "lookup")
    r = both(pair, run)
    same(r, "X-Ret", "X-Ru", "X-Contact", "X-Contact1", "X-Received",
         "X-Path")
    assert h(r["aor"], "X-Ret") == "1"
    assert h(r["aor"], "X-Received") == "sip:192.0.2.7:5071"
    assert h(r["aor"], "X-Path") == NULL
    assert near(h(r["stock"], "X-Expires"), h(r["aor"], "X-Expires"))
    assert h(r["stock"], "X-Ruid") != NULL and h(r["aor"], "X-Ruid") != NULL


def test_xavp_rcd_carries_the_path(pair, user):
    """With a Path (use_path), xavp_rcd has it, as stored."""
    path = "<sip:edge@127.0.0.1:5999;lr>"

    def run(k, c):
        ct = "sip:%s@127.0.0.1:5072" % user
        assert c.register(k.aor(user), [ct], path=path).status == 200
        return op(c, k, user, "lookup")
    r = both(pair, run)
    same(r, "X-Ret", "X-Contact", "X-Path", "X-Received")
    assert h(r["aor"], "X-Path") == path


def test_xavp_rcd_mask_leaves_out_masked_fields(pair2, user):
    """xavp_rcd_mask 2|8: no contact and no received, ruid and expires
    stay (stock registrar.h AVP_RCD_*)."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5073" % user
        assert c.register(k.aor(user), [ct], expires=600,
                          headers=[("X-Rcv", "sip:192.0.2.8:5073")]
                          ).status == 200
        return op(c, k, user, "lookup")
    r = both(pair2, run)
    same(r, "X-Ret", "X-Contact", "X-Received", "X-Path")
    assert h(r["aor"], "X-Contact") == NULL
    assert h(r["aor"], "X-Received") == NULL
    assert h(r["aor"], "X-Ruid") != NULL and h(r["stock"], "X-Ruid") != NULL
    assert h(r["aor"], "X-Expires") != NULL


def test_xavp_rcd_after_save_lists_every_binding_of_the_reply(pair, user):
    """save() fills xavp_rcd with each binding its 200 lists (stock
    reply.c build_contact), seen before reg_send_reply() sends it."""
    def run(k, c):
        a = "sip:%s@127.0.0.1:5074" % user
        b = "sip:%s@127.0.0.1:5075" % user
        assert c.register(k.aor(user), [a]).status == 200
        return c.register(k.aor(user), [b], headers=[("X-Op", "hold")])
    r = both(pair, run)
    for impl in r:
        assert r[impl].status == 200
        got = {h(r[impl], "X-Contact"), h(r[impl], "X-Contact1")}
        assert got == {"sip:%s@127.0.0.1:5074" % user,
                       "sip:%s@127.0.0.1:5075" % user}, impl
        assert sorted(contacts_of(r[impl])) == sorted(got)


# -- reg_send_reply ------------------------------------------------------------

def test_save_flag_2_sends_nothing(pair, user):
    """save() flag 0x02 (REG_SAVE_NORPL_FL): no reply, the binding saved."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5076" % user
        cid, cs = c.register(k.aor(user), [ct], headers=[("X-Op", "drop")],
                             wait=False)
        c.no_reply(cid, timeout=1.0)
        return sorted(contacts_of(c.query(k.aor(user))))
    r = both(pair, run)
    assert r["stock"] == r["aor"] == ["sip:%s@127.0.0.1:5076" % user]


def test_reg_send_reply_sends_the_held_error(pair, user):
    """A save() with 0x02 that fails (xavp_cfg max_contacts 1, two
    contacts): reg_send_reply() sends the error stock sends."""
    def run(k, c):
        return c.register(k.aor(user), ["sip:a@127.0.0.1:5077",
                                        "sip:b@127.0.0.1:5078"],
                          headers=[("X-Op", "hold"), ("X-Max", "1")])
    r = both(pair, run)
    assert r["stock"].status == r["aor"].status == 503
    assert r["aor"].has("P-Registrar-Error")


def test_save_flag_0x12_prepares_the_reply_headers(pair, user):
    """0x12: no reply from save(), its Contacts are in the script's own
    reply (REG_SAVE_PREPRPL_FL)."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5079" % user
        return c.register(k.aor(user), [ct], expires=300,
                          headers=[("X-Op", "prepare")])
    r = both(pair, run)
    for impl in r:
        assert r[impl].status == 299, impl
        cts = r[impl].contacts()
        assert [x.uri for x in cts] == ["sip:%s@127.0.0.1:5079" % user]
        assert near(cts[0].expires, 300)


def test_save_flag_2_keeps_the_contacts_for_reg_send_reply(pair, user):
    """0x02 without 0x10: the script's own reply lists no Contact (stock
    keeps them in its contact buffer until reg_send_reply())."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5096" % user
        rep = c.register(k.aor(user), [ct], headers=[("X-Op", "own")])
        return rep.status, rep.contacts(), \
            [x.uri for x in c.query(k.aor(user)).contacts()]
    r = both(pair, run)
    assert r["stock"] == r["aor"] == (
        298, [], ["sip:%s@127.0.0.1:5096" % user])


def test_save_flag_0x10_alone_replies(pair, user):
    """0x10 without 0x02 is ignored: save() replies itself (stock save.c
    looks at REG_SAVE_PREPRPL_FL only with REG_SAVE_NORPL_FL)."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5080" % user
        return c.register(k.aor(user), [ct], headers=[("X-Op", "flag10")])
    r = both(pair, run)
    assert r["stock"].status == r["aor"].status == 200


# -- xavp_cfg ----------------------------------------------------------------

def test_xavp_cfg_max_contacts(pair, user):
    """xavp_cfg max_contacts limits this request (stock
    reg_get_crt_max_contacts); 0 is no limit."""
    def run(k, c):
        cts = ["sip:%s@127.0.0.1:%d" % (user, p) for p in (5081, 5082)]
        one = c.register(k.aor(user), cts, headers=[("X-Max", "1")])
        unl = c.register(k.aor(user), cts, headers=[("X-Max", "0")])
        return one.status, unl.status, len(unl.contacts())
    r = both(pair, run)
    assert r["stock"] == r["aor"] == (503, 200, 2)


def test_xavp_cfg_expires_and_q_override(pair, user):
    """xavp_cfg expires and q replace the request's (stock sip_msg.c
    calc_contact_expires, calc_contact_q)."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5083;expires=900;q=0.1" % user
        rep = c.register(k.aor(user), [ct], expires=1200,
                         headers=[("X-Exp", "500"), ("X-Q", "700")])
        x = rep.contacts()[0]
        return rep.status, x.expires, x.q
    r = both(pair, run)
    assert r["stock"][0] == r["aor"][0] == 200
    assert near(r["stock"][1], 500) and near(r["aor"][1], 500)
    assert r["stock"][2] == r["aor"][2] == 0.7


def test_xavp_cfg_expires_does_not_refresh_a_removal(pair, user):
    """RFC 3261 10.3 step 7: a binding the request gives expiration 0 "MUST
    be removed". Stock applies xavp_cfg expires to it too and keeps the
    binding (registrar sip_msg.c:256); aor removes it. Stock is asked, so
    the test notices if stock changes."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5089" % user
        assert c.register(k.aor(user), [ct], expires=600).status == 200
        rep = c.register(k.aor(user), [ct], expires=0,
                         headers=[("X-Exp", "500")])
        return rep.status, [x.uri for x in c.query(k.aor(user)).contacts()]
    r = both(pair, run)
    ct = "sip:%s@127.0.0.1:5089" % user
    assert r["stock"] == (200, [ct])
    assert r["aor"] == (200, [])


def test_xavp_cfg_socket_with_sock_flag(pair, user):
    """With the message flag sock_flag set, the xavp_cfg socket is the
    binding's socket, which lookup() forces (stock save.c get_sock_val);
    without it, the socket the REGISTER came on."""
    def run(k, c):
        a = "sip:%s@127.0.0.1:5094" % user
        b = "sip:%sb@127.0.0.1:5095" % user
        sock = "udp:127.0.0.1:%d" % k.port2
        assert c.register(k.aor(user), [a],
                          headers=[("X-Sock", sock)]).status == 200
        assert c.register(k.aor(user + "b"), [b]).status == 200
        return (h(op(c, k, user, "lookup"), "X-Fs"),
                h(op(c, k, user + "b", "lookup"), "X-Fs"))
    r = both(pair, run)
    for impl, k in pair.items():
        assert r[impl] == ("udp:127.0.0.1:%d" % k.port2,
                           "udp:127.0.0.1:%d" % k.port), impl


# -- path_use_received -------------------------------------------------------

def test_path_use_received_stores_the_first_hops_received(pair, user):
    """path_use_received: the received parameter of the first Path URI
    (unescaped) becomes the binding's received (stock path.c
    build_path_vector); the request still goes to the Path's first hop."""
    path = "<sip:edge@127.0.0.1:5998;lr;received=sip%3A198.51.100.4%3A5090>"

    def run(k, c):
        ct = "sip:%s@10.0.0.2:5060" % user
        rep = c.register(k.aor(user), [ct], path=path)
        look = op(c, k, user, "lookup")
        return rep, look
    r = both(pair, run)
    for impl, (rep, look) in r.items():
        assert rep.status == 200, impl
        assert rep.contacts()[0].params.get("received").strip('"') == \
            "sip:198.51.100.4:5090", impl
        assert h(look, "X-Received") == "sip:198.51.100.4:5090", impl
        assert h(look, "X-Path") == path, impl
        # the binding is NAT-flagged (stock save.c pack_ci: nat_flag)
        assert h(look, "X-Nat") == "1", impl


def test_without_path_received_no_nat_flag(pair, user):
    """A Path without received: no received, no NAT flag."""
    path = "<sip:edge@127.0.0.1:5998;lr>"

    def run(k, c):
        ct = "sip:%s@10.0.0.3:5060" % user
        assert c.register(k.aor(user), [ct], path=path).status == 200
        look = op(c, k, user, "lookup")
        return h(look, "X-Received"), h(look, "X-Nat")
    r = both(pair, run)
    assert r["stock"] == r["aor"] == (NULL, None)


def test_xavp_rcd_after_lookup_branches_per_branch(pair, user):
    """lookup_branches(): xavp_rcd gets the first binding of the R-URI's
    AoR and of each branch's (stock runs lookup() per branch)."""
    other = user + "b"

    def run(k, c):
        a = "sip:%s@127.0.0.1:5091" % user
        b = "sip:%s@127.0.0.1:5092" % other
        assert c.register(k.aor(user), [a]).status == 200
        assert c.register(k.aor(other), [b]).status == 200
        rep = op(c, k, user, "branches", [("X-Branch", k.ruri(other))])
        return h(rep, "X-Ret"), h(rep, "X-Contact"), h(rep, "X-Contact1")
    r = both(pair, run)
    assert r["stock"] == r["aor"] == (
        "1", "sip:%s@127.0.0.1:5092" % other, "sip:%s@127.0.0.1:5091" % user)


# -- registered() ------------------------------------------------------------

def test_registered_match_flags(pair, user):
    """registered(table, uri, match_option, match_action): 1 matches the
    xavp_cfg match_callid, 2 match_received, 4 match_contact (stock
    lookup.c registered4); match_action 2 leaves xavp_rcd alone."""
    a = "sip:%s@127.0.0.1:5084" % user
    b = "sip:%s@127.0.0.1:5085" % user
    ca, cb = "cid-a-" + user, "cid-b-" + user
    rcv = "sip:192.0.2.9:5084"
    cases = [
        (0, 0, [("X-Callid", "nope")]),
        (1, 0, [("X-Callid", ca)]),
        (1, 0, [("X-Callid", "nope")]),
        (2, 0, [("X-Match-Rcv", rcv)]),
        (2, 0, [("X-Match-Rcv", "sip:192.0.2.1:1")]),
        (4, 0, [("X-Match-Ct", b)]),
        (4, 0, [("X-Match-Ct", "sip:nobody@127.0.0.1")]),
        (7, 0, [("X-Callid", ca), ("X-Match-Rcv", rcv), ("X-Match-Ct", a)]),
        (7, 0, [("X-Callid", ca), ("X-Match-Rcv", rcv), ("X-Match-Ct", b)]),
        (4, 2, [("X-Match-Ct", b)]),
        (4, 1, [("X-Match-Ct", b)]),
    ]

    def run(k, c):
        assert c.register(k.aor(user), [a], call_id=ca,
                          headers=[("X-Rcv", rcv)]).status == 200
        assert c.register(k.aor(user), [b], call_id=cb).status == 200
        out = []
        for m, act, hdrs in cases:
            rep = op(c, k, user, "registered",
                     [("X-M", str(m)), ("X-A", str(act))] + hdrs)
            out.append((h(rep, "X-Ret"),
                        h(rep, "X-Contact") if m else None,
                        h(rep, "X-Contact1")))
        rep = op(c, k, "nobody" + user, "registered1")
        out.append((h(rep, "X-Ret"), h(rep, "X-Contact"), None))
        return out
    r = both(pair, run)
    assert r["stock"] == r["aor"]
    rets = [x[0] for x in r["aor"]]
    assert rets == ["1", "1", "-1", "1", "-1", "1", "-1", "1", "-1", "1",
                    "1", "-1"]
    # one match fills xavp_rcd once; match_action 2 fills nothing
    assert r["aor"][5][1:] == (b, NULL)
    assert r["aor"][9][1:] == (NULL, NULL)


# -- lookup_to_dset ------------------------------------------------------------

def test_lookup_to_dset_adds_branches_and_keeps_the_ruri(pair, user,
                                                         uas_factory):
    """lookup_to_dset(): every binding a branch, the R-URI untouched, no
    xavp_rcd (stock lookup_helper mode 1); the branches reach the UASs."""
    def run(k, c):
        u1, u2, u3 = (uas_factory(code=486) for _ in range(3))
        assert c.register(k.aor(user), [u1.contact(user)]).status == 200
        assert c.register(k.aor(user), [u2.contact(user)]).status == 200
        info = op(c, k, user, "dset")
        rep = op(c, k, user, "dset-relay", [("X-Ruri", u3.uri)],
                 method="INVITE")
        got = [bool(u.wait_for("INVITE", timeout=3.0)) for u in (u1, u2, u3)]
        return info, rep.status, got, u3.received("INVITE")[0].first_line
    r = both(pair, run)
    for impl, (info, status, got, line) in r.items():
        assert h(info, "X-Ret") == "1", impl
        assert h(info, "X-Ru").startswith("sip:%s@127.0.0.1" % user), impl
        assert h(info, "X-Count") == "2", impl
        assert h(info, "X-Contact") == NULL, impl
        assert got == [True, True, True], impl
        assert status == 486, impl
    same({i: r[i][0] for i in r}, "X-Ret", "X-Count", "X-Contact")


def test_lookup_to_dset_without_append_branches_adds_nothing(pair2, user):
    """append_branches 0: lookup_to_dset() finds the AoR (1) and adds no
    branch, as stock does (lookup.c: it returns before the branch loop)."""
    def run(k, c):
        ct = "sip:%s@127.0.0.1:5086" % user
        assert c.register(k.aor(user), [ct]).status == 200
        found = op(c, k, user, "dset")
        none = op(c, k, "nobody" + user, "dset")
        return (h(found, "X-Ret"), h(found, "X-Count"), h(none, "X-Ret"),
                h(none, "X-Count"))
    r = both(pair2, run)
    # $branch(count) is <null> without branches
    assert r["stock"] == r["aor"] == ("1", NULL, "-1", NULL)


# -- expires_range ---------------------------------------------------------------

N = 12


def expiries(k, c, user, expires, op_name=None):
    out = []
    for i in range(N):
        ct = "sip:%s-%d@127.0.0.1:5087" % (user, i)
        hdrs = [("X-Op", op_name)] if op_name else []
        rep = c.register(k.aor(user), [ct], expires=expires, headers=hdrs)
        assert rep.status == 200
        out.append(rep.contact(ct).expires)
    return out


def test_expires_range_varies_the_requested_interval(pair2, user):
    """expires_range 30: a granted Expires between 70% and 100% of the
    requested 1000 (RFC 3261 10.3 step 8: the registrar may shorten it),
    not all the same."""
    r = both(pair2, lambda k, c: expiries(k, c, user, 1000))
    for impl, got in r.items():
        assert all(699 <= e <= 1000 for e in got), (impl, got)
        assert len(set(got)) > 1, (impl, got)


def test_default_expires_range_varies_the_default(pair2, user):
    """default_expires_range 50: without any expires the default 3600
    becomes 1800..3600, varied."""
    r = both(pair2, lambda k, c: expiries(k, c, user, None))
    for impl, got in r.items():
        assert all(1799 <= e <= 3600 for e in got), (impl, got)
        assert len(set(got)) > 1, (impl, got)


def test_save_flag_8_and_xavp_expires_are_exact(pair2, user):
    """save() flag 0x08 (REG_SAVE_NOVARIATION_FL) grants exactly what was
    asked; so does an xavp_cfg expires (stock never varies it)."""
    def run(k, c):
        exact = expiries(k, c, user, 1000, "exact")
        ct = "sip:%s-x@127.0.0.1:5088" % user
        rep = c.register(k.aor(user), [ct], expires=1000,
                         headers=[("X-Exp", "800")])
        return exact, rep.contact(ct).expires
    r = both(pair2, run)
    for impl, (exact, over) in r.items():
        assert all(999 <= e <= 1000 for e in exact), (impl, exact)
        assert 799 <= over <= 800, impl


# -- KEMI ----------------------------------------------------------------------

KEMI_SCRIPT = r"""
function ksr_request_route() {
    if (KSR.is_method("OPTIONS") && KSR.pv.is_null("$rU")) {
        KSR.sl.sl_send_reply(200, "OK");
        return;
    }
    if (KSR.is_method("REGISTER")) {
        var s = KSR.MOD.save("location", 2);
        KSR.hdr.append_to_reply("X-Save: " + (s > 0 ? "ok" : "no") + "\r\n");
        KSR.hdr.append_to_reply("X-Send: " + KSR.MOD.reg_send_reply()
                                + "\r\n");
        return;
    }
    var op = KSR.pv.gete("$hdr(X-Op)");
    var r = 0;
    if (op == "dset-empty") {
        r = KSR.MOD.lookup_to_dset("location", "");
    } else if (op == "dset") {
        r = KSR.MOD.lookup_to_dset("location", KSR.pv.get("$ru"));
        KSR.hdr.append_to_reply("X-Count: " + KSR.pv.gete("$branch(count)")
                                + "\r\n");
    } else if (op == "flags") {
        r = KSR.MOD.registered_flags("location", "", 4);
    } else if (op == "action") {
        r = KSR.MOD.registered_action("location", "", 4, 2);
    } else if (op == "noreply") {
        r = KSR.MOD.reg_send_reply();
    }
    KSR.hdr.append_to_reply("X-Ret: " + r + "\r\n");
    KSR.hdr.append_to_reply("X-Contact: "
                            + KSR.pv.gete("$xavp(ulrcd=>contact)") + "\r\n");
    KSR.sl.sl_send_reply(200, "KEMI");
}
"""


def test_kemi_counterparts_match_stock(kamailio_factory, tmp_path, user):
    """KSR.aor.lookup_to_dset, registered_flags, registered_action and
    reg_send_reply (with save flag 2) against KSR.registrar.*."""
    def extra(impl):
        # stock makes its tables in fixups; a KEMI script has none
        return {"extra": oracle.kemi_lines(tmp_path, impl, KEMI_SCRIPT) + (
            'modparam("usrloc", "preload", "location")\n'
            if impl == "stock" else "")}
    ks = oracle.start(kamailio_factory, per_impl=extra, make=KemiKamailio,
                      modules=["app_jsdt"],
                      modparams={"xavp_cfg": "reg", "xavp_rcd": "ulrcd",
                                 "min_expires_mode": 0, "nat_source": 0})

    def run(k, c):
        ct = "sip:%s@127.0.0.1:5093" % user
        reg = c.register(k.aor(user), [ct])
        got = [reg.status, h(reg, "X-Save"), h(reg, "X-Send"),
               [x.uri for x in reg.contacts()]]
        for name in ("dset", "flags", "action", "noreply", "dset-empty"):
            rep = op(c, k, user, name)
            got.append((name, h(rep, "X-Ret"), h(rep, "X-Count"),
                        h(rep, "X-Contact")))
        return got
    out = both(ks, run)
    ct = "sip:%s@127.0.0.1:5093" % user
    # reg_send_reply() with no save() before it: stock sends a 200 OK of
    # its own at once (reply.c reg_reply_helper, the code from the
    # process-global rerrno of whatever save() ran last), listing no
    # Contact although the AoR has bindings: against RFC 3261 10.3 step 8
    # (a 200 lists every current binding). aor sends nothing and returns
    # -1; the script's own reply follows.
    assert out["stock"][7] == ("noreply", None, None, None)
    del out["stock"][7]
    noreply = out["aor"].pop(7)
    assert noreply == ("noreply", "-1", None, "")
    assert out["stock"] == out["aor"]
    # KSR.pv.gete gives "" for <null>
    assert out["aor"] == [
        200, "ok", None, [ct],
        ("dset", "1", "1", ""),  # a branch, no xavp_rcd
        ("flags", "1", None, ct),  # no match_contact set: any binding
        ("action", "1", None, ""),  # match_action 2: no xavp_rcd
        ("dset-empty", "-3", None, ""),  # stock's KEMI: uri required
    ]
