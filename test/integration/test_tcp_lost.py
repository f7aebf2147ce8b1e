"""handle_lost_tcp and close_expired_tcp over real TCP, stock as the oracle.

Stock usrloc (5.6 urecord.c nodb_timer, udomain.c get_urecord):
handle_lost_tcp 1 makes every read of a record (save, lookup, registered,
a query REGISTER) skip a binding whose connection is gone, and its timer
removes such bindings as expired, so from memory only once per
timer_interval; close_expired_tcp 1 makes the timer close the connection
of each binding it expires. aor removes a lost binding when the core's
TCP-closed event comes (within a tick of 100 ms), or, when tcpops holds
that event, at the timer's sweep or at the first lookup that finds the
connection gone. What is compared with stock: the replies (query REGISTER,
INVITE) and, with a short timer_interval on both, that the binding leaves
the store; for close_expired_tcp, that the client sees EOF (or not).
"""

import re
import time

import pytest

import sip

LIFETIME = 3600  # Kamailio's own idle close stays out of the way


# with tcpops: its event route counts the closed connections (tcpops keeps
# the core's TCP-closed event and its routes run with aor loaded)
TCPOPS_EXTRA = """
modparam("pv", "shvset", "closed=i:0")
event_route[tcp:closed] {
    $shv(closed) = $shv(closed) + 1;
}
"""


def start(factory, impl, modparams, tcpops=False):
    port = sip.free_port(tcp_span=1)
    return factory(
        impl=impl, port=port, children=1, modparams=modparams,
        modules=["tcpops.so"] if tcpops else [],
        extra=TCPOPS_EXTRA if tcpops else None,
        globals_="disable_tcp=no\nlisten=tcp:127.0.0.1:%d\n"
                 "tcp_connection_lifetime=%d\n" % (port, LIFETIME))


def query_uris(k, user):
    """The Contact URIs a query REGISTER (over UDP) lists for user."""
    with sip.Client(k.port) as c:
        r = c.query(k.aor(user))
        assert r.status == 200, r
        return sorted(u.split(";")[0] for u in r.contact_uris())


def stored(k, user):
    return sorted(b["contact"].split(";")[0] for b in (k.show(k.aor(user))
                                                      or []))


def stat(k, name):
    out = k.kamcmd("stats.get_statistics", "aor:")
    for line in out.splitlines():
        if line.strip().startswith("aor:%s " % name):
            return int(line.split("=")[1])
    raise AssertionError("no counter aor:%s in %r" % (name, out))


def shv(k, name):
    """The integer value of $shv(name) (pv.shvGet)."""
    out = k.kamcmd("pv.shvGet", name)
    m = re.search(r"value:\s*(-?\d+)", out)
    return int(m.group(1)) if m else None


def conn_listed(k, port):
    """True while Kamailio holds a TCP connection from client port."""
    out = k.kamcmd("core.tcp_list")
    return re.search(r"src_port:\s*%d\b" % port, out) is not None


def register_pair(k, user):
    """A TCP binding and a UDP binding of user; returns the TCP client and
    both contacts (without their parameters)."""
    t = sip.TcpClient(k.port)
    r = t.register(k.aor(user), [t.contact(user)], expires=300)
    assert r.status == 200, r
    udp_uri = "sip:%s-udp@127.0.0.1:5999" % user
    with sip.Client(k.port) as u:
        r = u.register(k.aor(user), [udp_uri], expires=300)
        assert r.status == 200, r
    return t, t.contact(user).split(";")[0], udp_uri


PARAMS = {"min_expires": 1, "min_expires_mode": 0, "case_sensitive": 0,
          "nat_source": 0}


@pytest.mark.parametrize("variant", ["event", "tcpops"])
@pytest.mark.parametrize("lost", [1, 0])
def test_lost_connection_removes_binding(kamailio_factory, lost, variant):
    """A client registers over TCP and closes its connection: with
    handle_lost_tcp 1 the binding is gone (query REGISTER, store) within a
    bounded wait, the UDP binding of the same AoR stays; with 0 both stay.
    timer_interval 1 on both, so that stock's timer removal is in the
    window. variant tcpops: tcpops holds the TCP-closed event (closed_event
    1, its default), aor's timer sweep finds the connection closed."""
    mp = dict(PARAMS, handle_lost_tcp=lost, timer_interval=1)
    ks = {impl: start(kamailio_factory, impl, mp, tcpops=variant == "tcpops")
          for impl in ("stock", "aor")}
    user = "lost%d%s" % (lost, variant)
    seen = {}
    for impl, k in ks.items():
        t, tcp_uri, udp_uri = register_pair(k, user)
        assert query_uris(k, user) == sorted([tcp_uri, udp_uri])
        t.close()
        if lost:
            ok = sip.wait_until(lambda: stored(k, user) == [udp_uri], 5.0)
            assert ok, (impl, stored(k, user))
        else:
            time.sleep(2.5)  # two timer passes of each: nothing may go
            assert stored(k, user) == sorted([tcp_uri, udp_uri]), impl
        names = {tcp_uri: "tcp", udp_uri: "udp"}
        seen[impl] = sorted(names[u] for u in query_uris(k, user))
    assert seen["aor"] == seen["stock"]
    assert seen["aor"] == (["udp"] if lost else ["tcp", "udp"])
    if variant == "tcpops":
        for impl, k in ks.items():
            ok = sip.wait_until(lambda: shv(k, "closed") == 1, 3.0)
            assert ok, (impl, k.kamcmd("pv.shvGet", "closed"))
    if lost:
        assert stat(ks["aor"], "tcp_lost_bindings") == 1
        # removed as stock's timer removes it: as expired
        assert stat(ks["aor"], "expired_bindings") == 1


def test_lookup_skips_lost_connection(kamailio_factory, uas_factory):
    """handle_lost_tcp 1, timer_interval 60, tcpops holding the TCP-closed
    event, append_branches 0: once Kamailio has dropped the connection
    (core.tcp_list), an INVITE goes not to the TCP binding (q 0.9, the
    best; stock's get_urecord check) but to the UDP one, on both. aor then
    removes the binding at its next tick (stock keeps it in memory until
    its timer, up to 60 s later)."""
    mp = dict(PARAMS, handle_lost_tcp=1, timer_interval=60,
              append_branches=0)
    for impl in ("stock", "aor"):
        k = start(kamailio_factory, impl, mp, tcpops=True)
        uas = uas_factory()
        user = "lookup" + impl
        t = sip.TcpClient(k.port)
        r = t.register(k.aor(user), [(t.contact(user), {"q": "0.9"})],
                       expires=300)
        assert r.status == 200, r
        with sip.Client(k.port) as u:
            r = u.register(k.aor(user), [(uas.contact(user), {"q": "0.1"})],
                           expires=300)
            assert r.status == 200, r
        t.close()
        ok = sip.wait_until(lambda: not conn_listed(k, t.port), 3.0)
        assert ok, k.kamcmd("core.tcp_list")
        with sip.Client(k.port) as c:
            r = c.invite(k.ruri(user))
        assert r.status == 200, (impl, r)
        assert uas.wait_for("INVITE", 3.0) is not None, impl
        if impl == "aor":
            ok = sip.wait_until(lambda: len(stored(k, user)) == 1, 3.0)
            assert ok, stored(k, user)
            assert stat(k, "tcp_lost_bindings") == 1


@pytest.mark.parametrize("close", [1, 0])
def test_close_expired_tcp(kamailio_factory, close):
    """A binding made over TCP with Expires 2: with close_expired_tcp 1 the
    client sees EOF once the binding expired (the timer, timer_interval 1),
    with 0 its connection stays open; stock the same."""
    mp = dict(PARAMS, close_expired_tcp=close, timer_interval=1)
    for impl in ("stock", "aor"):
        k = start(kamailio_factory, impl, mp)
        user = "closeexp%d" % close
        t = sip.TcpClient(k.port)
        r = t.register(k.aor(user), [t.contact(user)], expires=2)
        assert r.status == 200, r
        t0 = time.monotonic()
        if close:
            assert t.eof_within(8.0), impl
            assert time.monotonic() - t0 >= 0.5, impl  # not before expiry
        else:
            assert not t.eof_within(5.0), impl
        assert stored(k, user) == [], impl
        t.close()
        if impl == "aor":
            assert stat(k, "tcp_closed_connections") == close


def test_udp_binding_unaffected(kamailio_factory):
    """Both modparams on, a UDP binding with no TCP at all: kept until its
    expiry as without them, and a lookup reaches it."""
    mp = dict(PARAMS, handle_lost_tcp=1, close_expired_tcp=1,
              timer_interval=1)
    k = start(kamailio_factory, "aor", mp)
    user = "udponly"
    uri = "sip:%s@127.0.0.1:5998" % user
    with sip.Client(k.port) as u:
        r = u.register(k.aor(user), [uri], expires=300)
        assert r.status == 200, r
    time.sleep(2.5)  # two timer passes
    assert stored(k, user) == [uri]
    assert stat(k, "tcp_lost_bindings") == 0
    assert stat(k, "tcp_closed_connections") == 0
