"""lookup(), registered(), unregister(), lookup_branches(): where requests go.

Contacts point at UAS sockets (sip.Uas) on 127.0.0.1; an INVITE to the AoR
through Kamailio shows which UAS got it and with which R-URI. The main route
adds X-Lookup-Ruri (the R-URI lookup() chose) to every branch. X-Op selects
the other script functions.
"""

import socket

import pytest

import sip
from checks import assert_bindings, assert_ok

ROUTE = """
    if($hdr(X-Op) == "registered") {
        if(registered("location")) {
            sl_send_reply("200", "Registered");
        } else {
            sl_send_reply("404", "Not Registered");
        }
        exit;
    }
    if($hdr(X-Op) == "registered-uri") {
        if(registered("location", "$hdr(X-AoR)")) {
            sl_send_reply("200", "Registered");
        } else {
            sl_send_reply("404", "Not Registered");
        }
        exit;
    }
    if($hdr(X-Op) == "unregister") {
        if(unregister("location", "$hdr(X-AoR)")) {
            sl_send_reply("200", "Unregistered");
        } else {
            sl_send_reply("404", "Unregister Failed");
        }
        exit;
    }
    if($hdr(X-Op) == "unregister-ruid") {
        if(unregister("location", "$hdr(X-AoR)", "$hdr(X-Ruid)")) {
            sl_send_reply("200", "Unregistered");
        } else {
            sl_send_reply("404", "Unregister Failed");
        }
        exit;
    }
    if($hdr(X-Op) == "branches") {
        $var(orig) = $ru;
        $ru = $hdr(X-Branch);
        append_branch();
        $ru = $var(orig);
        if(!lookup_branches("location")) {
            sl_send_reply("404", "Not Found");
            exit;
        }
        t_relay();
        exit;
    }
    if($hdr(X-Op) == "lookup-uri") {
        $var(r) = lookup("location", "$hdr(X-AoR)");
    } else {
        $var(r) = lookup("location");
    }
    switch($var(r)) {
        case -1:
        case -3:
            sl_send_reply("404", "Not Found");
            exit;
        case -2:
            sl_send_reply("405", "Method Not Allowed");
            exit;
    }
    append_hf("X-Lookup-Ruri: $ru\\r\\n");
    if(!t_relay()) {
        sl_reply_error();
    }
    exit;
"""

KAM_OPTIONS = {
    "modparams": {"use_path": 1, "path_mode": 2},
    "route": ROUTE,
}


def invite(kam, user, headers=(), method="INVITE", timeout=5.0):
    with kam.client() as c:
        return c.invite(kam.ruri(user), headers=headers, method=method,
                        timeout=timeout)


def test_lookup_of_unregistered_user_is_404(kam, user):
    """lookup() returns -1 when the AoR has no binding."""
    assert invite(kam, user).status == 404


def test_invite_reaches_the_registered_contact(kam, client, uas_factory, user):
    """RFC 3261 10.3 / 16.5: the R-URI is rewritten to the binding."""
    uas = uas_factory()
    assert_ok(client.register(kam.aor(user), [uas.contact(user)], expires=300))
    r = invite(kam, user)
    assert r.status == 200, r.raw
    got = uas.wait_for("INVITE")
    assert got is not None
    assert got.ruri == uas.contact(user)


def test_highest_q_gets_the_ruri_and_every_contact_is_forked(
        kam, client, uas_factory, user):
    """RFC 3261 16.6 / 10.2.1.2: bindings are tried by q; with parallel
    forking (t_relay) every contact gets the INVITE and the q=1.0 binding is
    the R-URI branch."""
    low, high = uas_factory(code=486), uas_factory(code=486)
    aor = kam.aor(user)
    assert_ok(client.register(aor, ["<%s>;q=1.0" % high.contact(user)],
                              expires=300))
    assert_ok(client.register(aor, ["<%s>;q=0.5" % low.contact(user)],
                              expires=300))
    r = invite(kam, user)
    assert r.status == 486, r.raw
    a, b = high.wait_for("INVITE"), low.wait_for("INVITE")
    assert a is not None and b is not None, "both contacts get the INVITE"
    assert a.ruri == high.contact(user)
    assert b.ruri == low.contact(user)
    assert a.get("X-Lookup-Ruri") == high.contact(user)
    # tm numbers branches in the Via branch id: .0 is the R-URI branch.
    assert a.get("via").split("branch=")[1].split(";")[0].endswith(".0")


def test_highest_q_wins_whatever_the_order_in_one_register(
        kam, client, uas_factory, user):
    """RFC 3261 16.6: order by q, not by the order in the request."""
    u1, u2, u3 = (uas_factory(code=486) for _ in range(3))
    aor = kam.aor(user)
    assert_ok(client.register(aor, ["<%s>;q=0.2" % u1.contact(user),
                                     "<%s>;q=0.9" % u2.contact(user),
                                     "<%s>;q=0.5" % u3.contact(user)],
                              expires=300))
    invite(kam, user)
    got = [u.wait_for("INVITE") for u in (u1, u2, u3)]
    assert all(got), "all three contacts get the INVITE"
    assert got[1].get("X-Lookup-Ruri") == u2.contact(user)


def test_equal_q_first_registered_binding_first(kam, uas_factory, user):
    """lookup(): with equal q, the binding registered first is the R-URI,
    as stock usrloc orders them (desc_time_order 0; test_uparams.py compares
    with stock)."""
    old, new = uas_factory(code=486), uas_factory(code=486)
    aor = kam.aor(user)
    with kam.client() as c:
        assert_ok(c.register(aor, [old.contact(user)], expires=300))
    with kam.client() as c:
        assert_ok(c.register(aor, [new.contact(user)], expires=300))
    invite(kam, user)
    got = new.wait_for("INVITE")
    assert got is not None and old.wait_for("INVITE") is not None
    assert got.get("X-Lookup-Ruri") == old.contact(user)


def test_path_becomes_route_of_the_invite(kam, client, uas_factory, user):
    """RFC 3327 section 5.4: the stored Path is used as a preloaded Route
    set: the INVITE goes to the first Path hop and carries it as Route, with
    the contact as R-URI."""
    edge = uas_factory(code=486)
    contact = "sip:%s@127.0.0.1:%d" % (user, sip.free_udp_port())
    path = "<sip:edge@127.0.0.1:%d;lr>" % edge.port
    r = client.register(kam.aor(user), [contact], expires=300, path=path)
    assert_ok(r)
    invite(kam, user)
    got = edge.wait_for("INVITE")
    assert got is not None, "the INVITE did not reach the Path hop"
    assert got.ruri == contact
    assert "sip:edge@127.0.0.1:%d" % edge.port in got.get_all("route")[0]


@pytest.fixture(scope="module")
def kam_nat_any(module_kamailio):
    return module_kamailio(modparams={"nat_source": 2})


def test_nat_source_address_is_used_when_it_differs_from_contact(
        kam_nat_any, uas_factory, user):
    """nat_source=2, DESIGN.md save(): "the source address/port/protocol and
    the receiving socket are stored, and lookup sends to the source address
    when it differs from the Contact". (The default, nat_source=1, decides
    by RFC 3581: source vs top Via, so that third-party registrations of
    RFC 3261 10.2 keep their Contact.) Here the Via is the real source (a client
    with rport, RFC 3581) but the Contact names an unreachable port: the
    INVITE must arrive at the source socket."""
    kam = kam_nat_any
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sip.HOST, 0))
    contact = "sip:%s@127.0.0.1:%d" % (user, sip.free_udp_port())
    reg = sip.Client(kam.port, sock=s)
    assert_ok(reg.register(kam.aor(user), [contact], expires=300))
    nat = uas_factory(code=486, sock=s)
    invite(kam, user)
    got = nat.wait_for("INVITE")
    assert got is not None, "the INVITE did not reach the source address"
    assert got.ruri == contact


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sip.HOST, 0))
    return s


def register_with_via(kam, user, sock, contact, via_host, via_port,
                      rport=True):
    """REGISTER contact for user, sent from sock with this top Via."""
    via = "SIP/2.0/UDP %s:%d;branch=%s%s" % (
        via_host, via_port, sip.new_branch(), ";rport" if rport else "")
    assert_ok(sip.Client(kam.port, sock=sock).register(
        kam.aor(user), [contact], expires=300, override={"Via": via}))


def assert_invite_reaches(kam, user, uas, contact, where):
    invite(kam, user)
    got = uas.wait_for("INVITE")
    assert got is not None, "the INVITE did not reach the " + where
    assert got.ruri == contact


def test_nat_private_via_and_contact_use_source_address(kam, uas_factory,
                                                        user):
    """RFC 3581 4: a client behind NAT advertises its private address in
    Via and Contact but its packets come from the NAT's public address; the
    source is stored as 'received' and lookup sends there (dst_uri)."""
    s = udp_socket()
    private_port = sip.free_udp_port()
    contact = "sip:%s@127.0.0.1:%d" % (user, private_port)
    register_with_via(kam, user, s, contact, "127.0.0.1", private_port)
    assert_invite_reaches(kam, user, uas_factory(code=486, sock=s), contact,
                          "source address")


@pytest.mark.parametrize("via_host", ["10.0.0.1", "127.0.0.2", "127.1"])
def test_nat_via_address_other_than_source_uses_source_address(
        kam, uas_factory, user, via_host):
    """RFC 3581 4: the same port but another address in the top Via than
    the packet's source (127.1 is left by the fast IPv4 parser to the
    core's): the source is the NAT's, so lookup sends there, not to the
    Contact."""
    s = udp_socket()
    contact = "sip:%s@127.0.0.1:%d" % (user, sip.free_udp_port())
    register_with_via(kam, user, s, contact, via_host, s.getsockname()[1])
    assert_invite_reaches(kam, user, uas_factory(code=486, sock=s), contact,
                          "source address")


@pytest.mark.parametrize("via_host", ["127.0.0.1", "127.0.0.01"])
def test_via_equal_to_source_keeps_the_contact(kam, uas_factory, user,
                                               via_host):
    """The top Via names the source address and port (127.0.0.01 is left
    by the fast IPv4 parser to the core's, which reads it as 127.0.0.1):
    not behind NAT, so lookup sends to the Contact (a third party's, RFC
    3261 10.2)."""
    s, target = udp_socket(), udp_socket()
    contact = "sip:%s@127.0.0.1:%d" % (user, target.getsockname()[1])
    register_with_via(kam, user, s, contact, via_host, s.getsockname()[1],
                      rport=False)
    assert_invite_reaches(kam, user, uas_factory(code=486, sock=target),
                          contact, "Contact")


def test_registered_is_true_for_a_bound_aor(kam, client, user):
    """registered(table) returns 1 when the R-URI's AoR has a binding."""
    assert_ok(client.register(kam.aor(user), ["sip:%s@127.0.0.1:5101" % user],
                              expires=300))
    r = invite(kam, user, headers=[("X-Op", "registered")], method="MESSAGE")
    assert (r.status, r.reason) == (200, "Registered")


def test_registered_is_false_for_an_unknown_aor(kam, user):
    """registered(table) returns -1 when there is no binding."""
    r = invite(kam, user, headers=[("X-Op", "registered")], method="MESSAGE")
    assert (r.status, r.reason) == (404, "Not Registered")


def test_registered_with_uri_argument(kam, client, user):
    """registered(table, uri) checks the given AoR, not the R-URI."""
    other = user + "o"
    assert_ok(client.register(kam.aor(other), ["sip:%s@127.0.0.1:5101" % user],
                              expires=300))
    r = invite(kam, user, method="MESSAGE",
               headers=[("X-Op", "registered-uri"), ("X-AoR", kam.aor(other))])
    assert r.status == 200
    r = invite(kam, other, method="MESSAGE",
               headers=[("X-Op", "registered-uri"), ("X-AoR", kam.aor(user))])
    assert r.status == 404


def test_unregister_removes_every_binding_of_the_aor(kam, client, user):
    """unregister(table, uri) removes the AoR's bindings."""
    aor = kam.aor(user)
    assert_ok(client.register(aor, ["sip:%s@127.0.0.1:5101" % user,
                                    "sip:%s@127.0.0.1:5102" % user],
                              expires=300))
    r = invite(kam, user, method="MESSAGE",
               headers=[("X-Op", "unregister"), ("X-AoR", aor)])
    assert r.status == 200
    assert_bindings(client, aor, [])
    assert invite(kam, user).status == 404


def test_unregister_with_ruid_removes_only_that_binding(kam, client, user):
    """unregister(table, uri, ruid) removes the one binding with that ruid."""
    aor = kam.aor(user)
    keep, drop = ("sip:%s@127.0.0.1:%d" % (user, p) for p in (5101, 5102))
    assert_ok(client.register(aor, [keep, drop], expires=300))
    shown = {b["contact"].strip("<>"): b for b in kam.show(aor)}
    ruid = shown[drop]["ruid"]
    r = invite(kam, user, method="MESSAGE",
               headers=[("X-Op", "unregister-ruid"), ("X-AoR", aor),
                        ("X-Ruid", ruid)])
    assert r.status == 200
    assert_bindings(client, aor, [keep])


def test_lookup_with_uri_argument(kam, client, uas_factory, user):
    """lookup(table, uri) looks up the given AoR and rewrites the R-URI."""
    other = user + "o"
    uas = uas_factory()
    assert_ok(client.register(kam.aor(other), [uas.contact(other)],
                              expires=300))
    r = invite(kam, user, headers=[("X-Op", "lookup-uri"),
                                   ("X-AoR", kam.aor(other))])
    assert r.status == 200
    assert uas.wait_for("INVITE").ruri == uas.contact(other)


def test_lookup_branches_resolves_every_branch(kam, client, uas_factory, user):
    """lookup_branches(table) looks up the R-URI and each branch's URI."""
    a, b = uas_factory(code=486), uas_factory(code=486)
    ua, ub = user + "a", user + "b"
    assert_ok(client.register(kam.aor(ua), [a.contact(ua)], expires=300))
    assert_ok(client.register(kam.aor(ub), [b.contact(ub)], expires=300))
    invite(kam, ua, headers=[("X-Op", "branches"), ("X-Branch", kam.ruri(ub))])
    ga, gb = a.wait_for("INVITE"), b.wait_for("INVITE")
    assert ga is not None and ga.ruri == a.contact(ua)
    assert gb is not None and gb.ruri == b.contact(ub)


# -- settings that need their own instance ------------------------------------

@pytest.fixture(scope="module")
def kam_filtering(module_kamailio):
    return module_kamailio(modparams={"method_filtering": 1,
                                      "append_branches": 0})


def test_method_filtering_rejects_method_not_in_contact_methods(
        kam_filtering, uas_factory, user):
    """method_filtering=1: a binding registered with methods="MESSAGE" does
    not take an INVITE: lookup() returns -2 (405), and MESSAGE still goes."""
    kam = kam_filtering
    uas = uas_factory()
    with kam.client() as c:
        assert_ok(c.register(kam.aor(user),
                             ['<%s>;methods="MESSAGE"' % uas.contact(user)],
                             expires=300))
    assert invite(kam, user).status == 405
    assert invite(kam, user, method="MESSAGE").status == 200
    assert uas.wait_for("MESSAGE") is not None
    assert uas.received("INVITE") == []


def test_append_branches_off_sends_to_the_best_contact_only(
        kam_filtering, uas_factory, user):
    """append_branches=0: lookup() rewrites the R-URI to the highest-q
    binding and adds no branches."""
    kam = kam_filtering
    low, high = uas_factory(code=486), uas_factory(code=486)
    with kam.client() as c:
        assert_ok(c.register(kam.aor(user),
                             ["<%s>;q=0.3" % low.contact(user),
                              "<%s>;q=0.8" % high.contact(user)], expires=300))
    assert invite(kam, user).status == 486
    assert high.wait_for("INVITE") is not None
    assert low.wait_for("INVITE", timeout=0.5) is None
