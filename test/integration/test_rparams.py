"""The stock registrar's remaining modparams: contact_max_size,
realm_prefix, use_expired_contacts, lookup_filter_mode (with xavp_cfg
rlf_bflags), path_check_local, sock_hdr_name and sock_mode.

Stock registrar+usrloc is the oracle: each test sends the same requests to
a stock Kamailio and to an aor Kamailio with the same script and the same
modparams (stock's defaults for the rest, stock_defaults=True) and compares
the replies; the script shows what lookup(), registered() and $ulc give as
reply headers. reg_callid_avp is not here: stock 5.6 documents it but does
not export it (test_reg_callid_avp_does_not_start_with_stock).
"""

import time

import pytest

import kam as kammod
import oracle
import sip
from oracle import both

REGISTER = """
    $xavp(reg=>init) = 1;
    if($hdr(X-Bflag) != $null) {
        setbflag(3);
    }
    if($hdr(X-Sockflag) != $null) {
        setflag(5);
    }
    save("location");
    exit;
"""

ROUTE = """
    $xavp(reg=>init) = 1;
    if($hdr(X-Rlf) != $null) {
        $xavp(reg[0]=>rlf_bflags) = $(hdr(X-Rlf){s.int});
    }
    if($hdr(X-Op) == "lookup") {
        $var(r) = lookup("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
        append_to_reply("X-Ru: $ru\\r\\n");
        append_to_reply("X-Du: $du\\r\\n");
        append_to_reply("X-Count: $branch(count)\\r\\n");
        sl_send_reply("200", "Looked up");
        exit;
    }
    if($hdr(X-Op) == "registered") {
        $var(r) = registered("location");
        append_to_reply("X-Ret: $var(r)\\r\\n");
        sl_send_reply("200", "Registered?");
        exit;
    }
    if($hdr(X-Op) == "fetch") {
        $var(r) = reg_fetch_contacts("location", "$hdr(X-Aor)", "p");
        append_to_reply("X-Ret: $var(r)\\r\\n");
        append_to_reply("X-Sock: $ulc(p=>socket)\\r\\n");
        sl_send_reply("200", "Fetched");
        exit;
    }
    if($hdr(X-Op) == "relay") {
        if(lookup("location") != 1) {
            sl_send_reply("404", "Not Found");
            exit;
        }
        t_relay();
        exit;
    }
    sl_send_reply("404", "Not Here");
    exit;
"""

ADV = "192.0.2.9:5099"  # the advertised address of the second socket

# every parameter under test set; stock's defaults for the rest
SET = {
    "use_domain": 1,
    "realm_prefix": "sip.",
    "use_expired_contacts": 1,
    "xavp_cfg": "reg",
    "lookup_filter_mode": 3,
    "use_path": 1,
    "path_mode": 1,
    "path_check_local": 1,
    "sock_flag": 5,
    "sock_hdr_name": "X-Sock-Hdr",
    "sock_mode": 1,
    "min_expires": 1,
    "timer_interval": 3600,  # no expiry pass during a test
}
# the same without them (their defaults), contact_max_size lowered
UNSET = {
    "use_path": 1,
    "path_mode": 1,
    "min_expires": 1,
    "timer_interval": 3600,
    "contact_max_size": 100,
}


def _pair(factory, params):
    return oracle.start(factory, port2="advertise " + ADV,
                        stock_defaults=True, modparams=params,
                        register=REGISTER, route=ROUTE)


@pytest.fixture(scope="module")
def pair(module_kamailio):
    return _pair(module_kamailio, SET)


@pytest.fixture(scope="module")
def plain(module_kamailio):
    return _pair(module_kamailio, UNSET)


def op(c, ruri, name, headers=()):
    return c.invite(ruri, method="OPTIONS",
                    headers=[("X-Op", name)] + list(headers))


def same(r, *names):
    for n in names:
        a, b = r["stock"].get(n), r["aor"].get(n)
        assert a == b, "%s: stock %r, aor %r\nstock:\n%s\naor:\n%s" % (
            n, a, b, r["stock"].raw, r["aor"].raw)


def ct(k, user, port):
    return "sip:%s@127.0.0.1:%d" % (user, port)


def at(k, user, host="127.0.0.1"):
    """a use_domain AoR on host"""
    return "sip:%s@%s" % (user, host)


# -- contact_max_size --------------------------------------------------------

def _long_contact(user, n):
    base = "sip:%s@127.0.0.1:5077;x=" % user
    # in <>: the ;x= is a URI parameter, part of the URI's length
    return "<%s>" % (base + "a" * (n - len(base)))


@pytest.mark.parametrize("size,which", [(512, "pair"), (513, "pair"),
                                        (100, "plain"), (101, "plain")])
def test_contact_max_size(request, user, size, which):
    """stock sip_msg.c:183 check_contacts: a Contact URI longer than
    contact_max_size (512 by default, 100 here) refuses the REGISTER with
    400; one of exactly that size is bound."""
    pr = request.getfixturevalue(which)

    def run(k, c):
        return c.register(at(k, user), [_long_contact(user, size)],
                          expires=300)
    r = both(pr, run)
    assert r["stock"].status == r["aor"].status, (r["stock"].raw,
                                                  r["aor"].raw)
    limit = 512 if which == "pair" else 100
    assert r["aor"].status == (200 if size <= limit else 400)


# -- realm_prefix ------------------------------------------------------------

def test_realm_prefix_is_taken_off_the_domain(pair, user):
    """stock common.c:95 extract_aor: with use_domain, realm_prefix "sip."
    is taken off the host: a binding of user@sip.example.com is found for
    user@example.com, not for user@other.example.com."""
    def run(k, c):
        assert c.register(at(k, user, "sip.example.com"),
                          [ct(k, user, 5081)], expires=300).status == 200
        found = op(c, at(k, user, "example.com"), "lookup")
        other = op(c, at(k, user, "other.example.com"), "lookup")
        return found, other
    r = both(pair, run)
    for i in (0, 1):
        same({k: v[i] for k, v in r.items()}, "X-Ret", "X-Ru")
    assert r["aor"][0].get("X-Ret") == "1"
    assert r["aor"][0].get("X-Ru") == ct(None, user, 5081)
    assert r["aor"][1].get("X-Ret") == "-1"


def test_realm_prefix_not_taken_off_an_equal_host(pair, user):
    """stock common.c:96: only a host longer than the prefix loses it."""
    def run(k, c):
        assert c.register(at(k, user, "sip.example.net"),
                          [ct(k, user, 5082)], expires=300).status == 200
        return op(c, at(k, user, "sip.example.net"), "lookup")
    r = both(pair, run)
    same(r, "X-Ret", "X-Ru")
    assert r["aor"].get("X-Ret") == "1"


# -- use_expired_contacts ----------------------------------------------------

def _expired(pr, user, what):
    def run(k, c):
        assert c.register(at(k, user), [ct(k, user, 5083)],
                          expires=1).status == 200
        return None
    both(pr, run)
    time.sleep(2.2)  # the binding's expiry passes; the timer is idle

    def look(k, c):
        return op(c, at(k, user), what)
    return both(pr, look)


@pytest.mark.parametrize("what", ["lookup", "registered"])
def test_use_expired_contacts_finds_expired_binding(pair, user, what):
    """stock lookup.c:331, 877: with use_expired_contacts 1, lookup() and
    registered() use a binding whose expiry has passed but that the timer
    has not removed yet."""
    r = _expired(pair, user, what)
    same(r, "X-Ret")
    assert r["aor"].get("X-Ret") == "1"


@pytest.mark.parametrize("what", ["lookup", "registered"])
def test_expired_binding_not_found_by_default(plain, user, what):
    """use_expired_contacts 0 (the default): an expired binding is gone."""
    r = _expired(plain, user, what)
    same(r, "X-Ret")
    assert r["aor"].get("X-Ret") == "-1"


# -- lookup_filter_mode ------------------------------------------------------

def test_lookup_filter_mode_rlf_bflags(pair, user):
    """stock lookup.c:70, 94: lookup_filter_mode 1 with xavp_cfg
    rlf_bflags keeps only bindings whose branch flags share a bit with it;
    rlf_bflags unset: every binding; no binding left: -1."""
    def run(k, c):
        a = at(k, user)
        # q orders them alike in both (stock and aor order equal q apart)
        assert c.register(a, ["<%s>;q=0.5" % ct(k, user, 5084)],
                          expires=300,
                          headers=[("X-Bflag", "1")]).status == 200
        assert c.register(a, ["<%s>;q=1.0" % ct(k, user, 5085)],
                          expires=300).status == 200
        return (op(c, a, "lookup", [("X-Rlf", "8")]),
                op(c, a, "lookup"),
                op(c, a, "lookup", [("X-Rlf", "16")]))
    r = both(pair, run)
    for i in range(3):
        same({k: v[i] for k, v in r.items()}, "X-Ret", "X-Ru", "X-Count")
    assert r["aor"][0].get("X-Ru") == ct(None, user, 5084)
    assert r["aor"][0].get("X-Count") in ("0", "<null>")  # no branch
    assert r["aor"][1].get("X-Ru") == ct(None, user, 5085)
    assert r["aor"][1].get("X-Count") == "1"
    assert r["aor"][2].get("X-Ret") == "-1"


# -- path_check_local --------------------------------------------------------

def test_path_check_local_skips_a_local_first_hop(pair, user):
    """stock lookup.c:409: the first Path hop is this proxy (127.0.0.1,
    any port): the request goes to the second hop."""
    path = "<sip:127.0.0.1:9;lr>,<sip:127.0.0.1:5998;lr>"

    def run(k, c):
        assert c.register(at(k, user), [ct(k, user, 5086)], expires=300,
                          path=path).status == 200
        return op(c, at(k, user), "lookup")
    r = both(pair, run)
    same(r, "X-Ret", "X-Ru", "X-Du")
    assert r["aor"].get("X-Du") == "sip:127.0.0.1:5998;lr"


def test_path_check_local_with_only_a_local_hop(pair, user):
    """stock lookup.c:426: no hop left after the local one: no dst_uri."""
    def run(k, c):
        assert c.register(at(k, user), [ct(k, user, 5087)], expires=300,
                          path="<sip:127.0.0.1:9;lr>").status == 200
        return op(c, at(k, user), "lookup")
    r = both(pair, run)
    same(r, "X-Ret", "X-Ru", "X-Du")
    assert r["aor"].get("X-Ret") == "1"


def test_path_first_hop_kept_by_default(plain, user):
    """path_check_local 0: the first Path hop is the next hop."""
    def run(k, c):
        assert c.register(k.aor(user), [ct(k, user, 5088)], expires=300,
                          path="<sip:127.0.0.1:9;lr>").status == 200
        return op(c, k.ruri(user), "lookup")
    r = both(plain, run)
    same(r, "X-Ret", "X-Du")
    assert r["aor"].get("X-Du") == "sip:127.0.0.1:9;lr"


def test_path_check_local_invite_reaches_second_hop(pair, uas_factory, user):
    """RFC 3327 5.3 with path_check_local: the INVITE goes to the second
    Path hop with the rest of the Path as its Route."""
    def run(k, c):
        uas = uas_factory()
        path = "<sip:127.0.0.1:9;lr>,<sip:127.0.0.1:%d;lr>" % uas.port
        assert c.register(at(k, user), [ct(k, user, 5089)], expires=300,
                          path=path).status == 200
        c.invite(at(k, user), headers=[("X-Op", "relay")])
        m = uas.wait_for("INVITE")
        assert m is not None, k.impl
        return m.ruri, m.get("Route").replace(str(uas.port), "UAS")
    got = both(pair, run)
    assert got["stock"] == got["aor"]
    assert got["aor"] == (ct(None, user, 5089), "<sip:127.0.0.1:UAS;lr>")


# -- sock_hdr_name, sock_mode ------------------------------------------------

def _fetch(k, c, user):
    return c.invite(at(k, user), method="OPTIONS",
                    headers=[("X-Op", "fetch"), ("X-Aor", at(k, user))])


def test_sock_mode_keeps_the_advertised_address(pair, user):
    """stock save.c:262: sock_mode 1 stores the advertised address of the
    socket the REGISTER came in on ($ulc socket). Stock is no oracle here:
    it stores a pointer to a per-process static socket_info (save.c:234,
    usrloc ucontact.c:124) in shared memory, so another worker reads an
    empty socket (and lookup() forces that fake socket); aor keeps the
    advertised text, as stock's documentation says, and the real socket
    for sending."""
    def run(k):
        with sip.Client(k.port2) as c:
            assert c.register(at(k, user), [ct(k, user, 5090)],
                              expires=300).status == 200
        with k.client() as c:
            return _fetch(k, c, user)
    r = oracle.each(pair, run)
    same(r, "X-Ret")
    assert r["stock"].get("X-Sock") in ("", "udp:" + ADV)
    assert r["aor"].get("X-Sock") == "udp:" + ADV


def test_sock_hdr_name_names_the_socket(pair, user):
    """stock save.c:134 get_sock_val: with sock_flag set, the socket is the
    one the sock_hdr_name header names (its own text, no advertising)."""
    def run(k, c):
        sock = "udp:127.0.0.1:%d" % k.port2
        assert c.register(at(k, user), [ct(k, user, 5091)], expires=300,
                          headers=[("X-Sockflag", "1"),
                                   ("X-Sock-Hdr", sock)]).status == 200
        rep = _fetch(k, c, user)
        rep.want = sock
        return rep
    r = both(pair, run)
    same(r, "X-Ret")
    for impl in r:
        assert r[impl].get("X-Sock") == r[impl].want, (impl, r[impl].raw)


def test_sock_hdr_name_without_flag_is_the_own_socket(pair, user):
    """without sock_flag on the message the header is not read."""
    def run(k, c):
        assert c.register(
            at(k, user), [ct(k, user, 5092)], expires=300,
            headers=[("X-Sock-Hdr", "udp:127.0.0.1:%d" % k.port2)]
        ).status == 200
        rep = _fetch(k, c, user)
        rep.want = "udp:127.0.0.1:%d" % k.port
        return rep
    r = both(pair, run)
    for impl in r:
        assert r[impl].get("X-Sock") == r[impl].want, (impl, r[impl].raw)


# -- reg_callid_avp ----------------------------------------------------------

def test_reg_callid_avp_does_not_start_with_stock(tmp_path):
    """Stock registrar 5.6.3 documents reg_callid_avp (obsolete) but its
    params table (registrar.c:220) lacks it: a config with it does not
    start with stock, so aor refuses it too (drop-in: the same)."""
    for impl in oracle.IMPLS:
        k = kammod.Kamailio(str(tmp_path / impl), impl=impl,
                            modparams={"reg_callid_avp": "$avp(cid)"})
        with pytest.raises(RuntimeError, match="exited"):
            k.start()
        k.stop()
