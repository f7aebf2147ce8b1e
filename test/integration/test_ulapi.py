"""The usrloc and registrar C APIs served by aor, with the real consumer
modules from Debian's packages (nathelper, tsilo, pua_reginfo towards a
real presence server, pua_usrloc, dmq_usrloc), stock usrloc+registrar as
the oracle in the same run.

nathelper (natping_interval, ping_nated_only, nat_bflag, sipping_bflag, as
Debian's kamailio.cfg sets them with WITH_NAT / WITH_NATSIPPING) walks the
location store every interval through get_all_ucontacts (stock's packed
layout, partitions by set_max_partition) and sends keepalives to the
NATed contacts' received addresses (RFC 5626 section 3.5 keepalives are
what it approximates); SIP OPTIONS pings carry ruid and aorhash and their
replies come back through refresh_keepalive.
"""

import os
import re
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import kam as kammod
import sip

# nathelper and registrar settings of Debian's kamailio.cfg (WITH_NAT):
# FLB_NATB 6, FLB_NATSIPPING 7, $avp(RECEIVED); natping_interval 30 there,
# 2 here so that a test sees several rounds
FLB_NATB = 6
FLB_NATSIPPING = 7
NATPING_INTERVAL = 2

REGISTER_NAT = """
        force_rport();
        if(nat_uac_test("19")) {
            fix_nated_register();
            setbflag(%(natb)d);
%(sipping)s
        }
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""


def nat_kamailio(factory, impl, sipping=False, nated_only=1, interval=None,
                 more=""):
    extra = """
loadmodule "nathelper.so"
modparam("nathelper", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "natping_interval", %(interval)d)
modparam("nathelper", "ping_nated_only", %(nated_only)d)
""" % {"interval": interval or NATPING_INTERVAL, "nated_only": nated_only}
    extra += more
    if sipping:
        extra += """
modparam("nathelper", "sipping_bflag", %d)
modparam("nathelper", "sipping_from", "sip:pinger@kamailio.org")
""" % FLB_NATSIPPING
    register = REGISTER_NAT % {
        "natb": FLB_NATB,
        "sipping": ("            setbflag(%d);" % FLB_NATSIPPING)
        if sipping else ""}
    return factory(impl=impl, extra=extra, register=register, modparams={
        "nat_bflag": FLB_NATB, "received_avp": "$avp(RECEIVED)",
        "nat_source": 0, "min_expires_mode": 0, "case_sensitive": 0})


class Listener:
    """Collects every datagram reaching a UDP socket (in a thread) for a
    bounded time; answers SIP OPTIONS with 200 when asked to."""

    def __init__(self, sock, answer=False):
        self.sock = sock
        self.answer = answer
        self.got = []  # (monotonic time, source address, bytes)
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.got.append((time.monotonic(), addr, data))
            if self.answer and data.startswith(b"OPTIONS "):
                m = sip.Message(data, addr)
                hdrs = [("Via", v) for v in m.get_all("via")]
                hdrs += [("From", m.get("from")),
                         ("To", m.get("to") + ";tag=ka"),
                         ("Call-ID", m.get("call-id")),
                         ("CSeq", m.get("cseq")), ("Content-Length", "0")]
                self.sock.sendto(sip.build("SIP/2.0 200 OK", hdrs),
                                 addr)

    def run_for(self, seconds):
        self.thread.start()
        time.sleep(seconds)  # the observation window itself, not a wait
        self.stop = True
        self.thread.join(2)


def nated_register(k, user, contact_port=None):
    """REGISTER from a socket whose Via and Contact name another port, as a
    phone behind a NAT does: nat_uac_test("19") flags it. Returns the
    client (its socket is the NAT's public side) and the Contact URI."""
    c = sip.Client(k.port)
    fake = contact_port or sip.free_udp_port()
    uri = "sip:%s@127.0.0.1:%d" % (user, fake)
    via = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (fake, sip.new_branch())
    r = c.register(k.aor(user), [uri], expires=3600, override={"Via": via})
    assert r.status == 200, r
    return c, uri


def plain_register(k, user):
    c = sip.Client(k.port)
    uri = "sip:%s@127.0.0.1:%d" % (user, c.port)
    r = c.register(k.aor(user), [uri], expires=3600)
    assert r.status == 200, r
    return c, uri


def pattern(listener, t0):
    """What reached the socket: [(kind, rounded second of arrival)], kind
    'ka' for nathelper's 4-byte keepalive, else the request line."""
    out = []
    for t, addr, data in listener.got:
        if data == b"\0\0\0\0":
            kind = "ka"
        else:
            kind = data.split(b"\r\n", 1)[0].decode(errors="replace")
        out.append((kind, t - t0, addr))
    return out


def observe(kams, users, sipping=False, window=3 * NATPING_INTERVAL + 0.5):
    """Registers a NATed and a plain client with each Kamailio of kams
    (impl -> Kamailio) and listens to all of them at once for window
    seconds. Returns {impl: {"nat": pattern, "plain": pattern, ...}}."""
    runs = {}
    for impl, k in kams.items():
        nc, nuri = nated_register(k, users[0])
        pc, puri = plain_register(k, users[1])
        runs[impl] = {"nat_client": nc, "plain_client": pc, "nat_uri": nuri,
                      "nat_l": Listener(nc.sock, answer=sipping),
                      "plain_l": Listener(pc.sock, answer=sipping)}
    t0 = time.monotonic()
    threads = []
    for r in runs.values():
        for key in ("nat_l", "plain_l"):
            th = threading.Thread(target=r[key].run_for, args=(window,))
            th.start()
            threads.append(th)
    for th in threads:
        th.join(window + 5)
    out = {}
    for impl, r in runs.items():
        out[impl] = {"nat": pattern(r["nat_l"], t0),
                     "plain": pattern(r["plain_l"], t0),
                     "nat_uri": r["nat_uri"], "raw": r["nat_l"].got,
                     "port": r["nat_client"].port}
        r["nat_client"].close()
        r["plain_client"].close()
    return out


def test_nathelper_keepalives_reach_nated_contacts_as_with_stock(
        kamailio_factory, user):
    """nathelper binds ul_bind_usrloc of aor and pings, every
    natping_interval, the contacts with nat_bflag at their received
    address (the NAT's public side), not the plain ones: the same
    datagrams, to the same places, at the same rate as with stock."""
    kams = {impl: nat_kamailio(kamailio_factory, impl)
            for impl in ("stock", "aor")}
    res = observe(kams, [user + "n", user + "p"])
    for impl in ("stock", "aor"):
        kinds = [p[0] for p in res[impl]["nat"]]
        assert res[impl]["plain"] == [], (impl, res[impl]["plain"])
        assert kinds and set(kinds) == {"ka"}, (impl, res[impl]["nat"])
    ns, na = len(res["stock"]["nat"]), len(res["aor"]["nat"])
    # one keepalive per natping_interval: the window holds 3 rounds
    assert ns >= 2 and abs(ns - na) <= 1, (res["stock"]["nat"],
                                           res["aor"]["nat"])
    # the keepalives come from the Kamailio's own socket, to our NAT side
    for impl, k in kams.items():
        assert {p[2] for p in res[impl]["nat"]} == {("127.0.0.1", k.port)}


def test_ping_nated_only_0_pings_every_contact(kamailio_factory, user):
    """ping_nated_only 0: get_all_ucontacts is asked with no flags, so the
    plain contact is pinged too (at its Contact address), as with stock."""
    kams = {impl: nat_kamailio(kamailio_factory, impl, nated_only=0)
            for impl in ("stock", "aor")}
    res = observe(kams, [user + "n", user + "p"])
    for impl in ("stock", "aor"):
        assert res[impl]["plain"], impl
        assert res[impl]["nat"], impl
    for kind in ("nat", "plain"):
        ns, na = len(res["stock"][kind]), len(res["aor"][kind])
        assert abs(ns - na) <= 1, (kind, res["stock"][kind], res["aor"][kind])


def test_sipping_sends_options_to_the_received_address(kamailio_factory,
                                                       user):
    """sipping_bflag (WITH_NATSIPPING): nathelper sends SIP OPTIONS to the
    NATed contact (Request-URI the Contact, sent to the received address,
    From sipping_from with a tag of ruid-aorhash); the 200 that comes back
    goes through refresh_keepalive. Same request line and rate as stock."""
    kams = {impl: nat_kamailio(kamailio_factory, impl, sipping=True)
            for impl in ("stock", "aor")}
    res = observe(kams, [user + "n", user + "p"], sipping=True)
    lines = {}
    for impl in ("stock", "aor"):
        assert res[impl]["plain"] == [], impl
        got = res[impl]["nat"]
        assert got, impl
        kinds = {p[0] for p in got}
        assert kinds == {"OPTIONS %s SIP/2.0" % res[impl]["nat_uri"]}, (
            impl, kinds)
        lines[impl] = len(got)
        m = sip.Message(res[impl]["raw"][0][2])
        assert m.get("from").startswith("sip:pinger@kamailio.org;tag=") or \
            "pinger@kamailio.org" in m.get("from")
        tag = m.get("from").split("tag=", 1)[1]
        assert "-" in tag  # ruid-aorhash
    assert abs(lines["stock"] - lines["aor"]) <= 1, lines
    # and Kamailio is well after the replies went through refresh_keepalive
    for k in kams.values():
        assert k.alive()
        with sip.Client(k.port) as c:
            assert c.options().status == 200


def test_nathelper_after_unregister_stops_pinging(kamailio_factory, user):
    """A binding removed from the store is no longer returned by
    get_all_ucontacts: no keepalive after the unregistration."""
    k = nat_kamailio(kamailio_factory, "aor")
    c, uri = nated_register(k, user)
    l1 = Listener(c.sock)
    l1.run_for(NATPING_INTERVAL + 0.5)
    assert [p for p in pattern(l1, 0) if p[0] == "ka"]
    via = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s;rport" % (
        int(uri.rsplit(":", 1)[1]), sip.new_branch())
    data, cid, cs = c.request("REGISTER", "sip:127.0.0.1:%d" % k.port,
                              k.aor(user), override={"Via": via},
                              headers=[("Contact", "<%s>" % uri),
                                       ("Expires", "0")])
    assert c.transact(data, cid, cs).status == 200
    l2 = Listener(c.sock)
    l2.run_for(2 * NATPING_INTERVAL + 0.5)
    assert [p for p in pattern(l2, 0) if p[0] == "ka"] == []
    c.close()


# -- tsilo: bind_registrar's lookup_to_dset ---------------------------------

TSILO_REGISTER = """
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
            exit;
        }
        ts_append("location", "$tu");
        exit;
"""

TSILO_ROUTE = """
    if(is_method("INVITE") && !lookup("location")) {
        # a phone woken by a push registers later: keep the call
        if(!t_newtran()) {
            sl_reply_error();
            exit;
        }
        ts_store();
        # no t_suspend(): tm forwards no reply of a suspended
        # transaction (t_reply.c, "Reply for suspended transaction")
        exit;
    }
    if(!t_relay()) {
        sl_reply_error();
    }
    exit;
"""


def test_tsilo_delivers_a_stored_invite_to_the_new_binding(
        kamailio_factory, user):
    """tsilo binds bind_registrar of aor: an INVITE to a user with no
    binding is stored (ts_store) in its transaction; when the user registers,
    ts_append -> lookup_to_dset adds the new binding as a branch and the
    INVITE reaches it; the callee's 200 completes the call. Same as stock."""
    for impl in ("stock", "aor"):
        extra = 'loadmodule "tsilo.so"\n'
        k = kamailio_factory(impl=impl, extra=extra, register=TSILO_REGISTER,
                             route=TSILO_ROUTE, modparams={
                                 "nat_source": 0, "min_expires_mode": 0,
                                 "case_sensitive": 0})
        caller = sip.Client(k.port)
        with sip.Uas() as uas:
            data, cid, cs = caller.request(
                "INVITE", k.ruri(user), k.ruri(user),
                from_="sip:caller@127.0.0.1", call_id=sip.token(16),
                headers=[("Contact", "<sip:caller@127.0.0.1:%d>"
                          % caller.port),
                         ("Content-Type", "application/sdp")],
                body="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
                     "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n")
            caller.send_raw(data)
            # the INVITE waits: no final reply while nobody is registered
            try:
                early = caller.final_reply(cid, timeout=1.0)
            except sip.Timeout:
                early = None
            assert early is None, (impl, early, k.log_tail(20))
            assert not uas.received("INVITE")
            with sip.Client(k.port) as reg:
                r = reg.register(k.aor(user), [uas.contact(user)],
                                 expires=300)
                assert r.status == 200, (impl, r)
            inv = uas.wait_for("INVITE", timeout=5.0)
            assert inv is not None, impl
            assert inv.ruri == uas.contact(user)
            final = caller.final_reply(cid, cs, timeout=5.0)
            assert final.status == 200, (impl, final)
        caller.close()


# -- pua_reginfo: register_ulcb, get_urecord inside a callback --------------


DBTEXT = "/usr/share/kamailio/dbtext/kamailio"
NS = "{urn:ietf:params:xml:ns:reginfo}"


class RequestSink(Listener):
    """A peer stand-in on a UDP socket of its own: answers every request
    of one method 200 (headers(m) adds the method's own) and records the
    requests and their bodies."""

    method = None

    def __init__(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        super().__init__(s)
        self.port = s.getsockname()[1]
        self.bodies = []
        self.msgs = []
        self.n = 0

    def headers(self, m):
        return []

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = sip.Message(data, addr)
            if m.is_reply or m.method != self.method:
                continue
            self.n += 1
            hdrs = [("Via", v) for v in m.get_all("via")]
            hdrs += [("From", m.get("from")), ("To", m.get("to") + ";tag=p"),
                     ("Call-ID", m.get("call-id")), ("CSeq", m.get("cseq"))]
            hdrs += self.headers(m)
            self.sock.sendto(sip.build("SIP/2.0 200 OK", hdrs), addr)
            self.bodies.append(data.split(b"\r\n\r\n", 1)[1].decode())
            self.msgs.append(m)

    def start(self):
        self.thread.start()

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class PublishSink(RequestSink):
    """A presence server stand-in: answers every PUBLISH 200 with an
    entity tag."""

    method = "PUBLISH"

    def headers(self, m):
        return [("SIP-ETag", "e%d" % self.n), ("Expires", "3600")]


def reginfo_summary(body, user=None):
    """What a reginfo document says, without the parts that differ by
    design or by the clock (ids are pointers, expires counts down): the
    document's version and state, and per registration its AoR, state and
    contacts (uri, state, event, q, callid, cseq, received, path,
    user_agent) in the document's order: pua_reginfo lists them as the
    record holds them (stock's order: q, highest first, then oldest
    first). user: replaced by USER wherever it appears (each registrar has
    its own AoR at the one presence server)."""
    if user:
        body = body.replace(user, "USER")
    root = ET.fromstring(body)
    out = []
    for reg in root.findall(NS + "registration"):
        cs = []
        for c in reg.findall(NS + "contact"):
            cs.append((c.findtext(NS + "uri"), c.get("state"), c.get("event"),
                       c.get("q"), c.get("callid"), c.get("cseq"),
                       c.get("received"), c.get("path"),
                       c.get("user_agent")))
        out.append((reg.get("aor"), reg.get("state"), cs))
    return (root.get("version"), root.get("state"), out)


def reginfo_expires(body):
    """{contact uri: expires} of a reginfo document."""
    root = ET.fromstring(body)
    return {c.findtext(NS + "uri"): int(c.get("expires"))
            for c in root.iter(NS + "contact")}


def reginfo_kamailio(factory, impl, workdir, proxy_port, children=2):
    """A registrar (impl stock or aor) with pua + pua_reginfo publishing
    every change of a binding, as RFC 3680 reginfo, to 127.0.0.1:proxy_port
    (the presence server, or a stand-in)."""
    db = os.path.join(workdir, "dbtext-%s" % impl)
    os.makedirs(db, exist_ok=True)
    for t in ("pua", "version"):
        shutil.copy(os.path.join(DBTEXT, t), db)
    extra = """
loadmodule "db_text.so"
loadmodule "pua.so"
loadmodule "pua_reginfo.so"
modparam("pua", "db_url", "text://%(db)s")
modparam("pua", "db_mode", 0)
modparam("pua_reginfo", "default_domain", "127.0.0.1")
modparam("pua_reginfo", "outbound_proxy", "sip:127.0.0.1:%(port)d")
modparam("pua_reginfo", "server_address", "sip:reginfo@127.0.0.1")
""" % {"db": db, "port": proxy_port}
    return factory(impl=impl, extra=extra, children=children, modparams={
        "min_expires": 1, "timer_interval": 1, "nat_source": 0,
        "min_expires_mode": 0, "case_sensitive": 0})


PRESENCE_REQUEST_ROUTE = """
    if(is_method("OPTIONS") && uri==myself && $rU==$null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if(is_method("ACK")) {
        exit;
    }
    if(is_method("PUBLISH|SUBSCRIBE")) {
        if(!t_newtran()) {
            sl_reply_error();
            exit;
        }
        if(is_method("PUBLISH")) {
            handle_publish();
        } else {
            handle_subscribe();
        }
        t_release();
        exit;
    }
    sl_send_reply("404", "Not Here");
    exit;
"""


def presence_kamailio(factory, workdir):
    """A presence server (no registrar module at all): presence +
    presence_reginfo (Event: reg) over db_text tables of its own, the
    presentities in the database as Debian's defaults have it (publ_cache
    1, subs_db_mode 2 write-back). One SIP worker."""
    db = os.path.join(workdir, "dbtext-presence")
    os.makedirs(db, exist_ok=True)
    for t in ("presentity", "active_watchers", "watchers", "xcap",
              "version"):
        shutil.copy(os.path.join(DBTEXT, t), db)
    port = sip.free_udp_port()
    extra = """
loadmodule "db_text.so"
loadmodule "presence.so"
loadmodule "presence_reginfo.so"
modparam("presence", "db_url", "text://%(db)s")
modparam("presence", "server_address", "sip:127.0.0.1:%(port)d")
""" % {"db": db, "port": port}
    return factory(impl="none", port=port, children=1, extra=extra,
                   request_route=PRESENCE_REQUEST_ROUTE)


def test_pua_reginfo_notifies_through_a_presence_server_as_stock(
        kamailio_factory, user, tmp_path):
    """pua_reginfo's UL_CONTACT_INSERT/UPDATE/DELETE/EXPIRE callbacks
    (each reads the record again with get_urecord) publish RFC 3680
    reginfo to a real presence server (presence + presence_reginfo, db_text)
    that NOTIFYs a watcher subscribed to Event: reg of the AoR. A
    registration, a refresh, a second contact, its expiry, the first's
    unregistration (Expires 0), a third contact and its expiry, each gives
    one NOTIFY; with aor its reginfo is stock's, in the same run."""
    slow = 4 if kammod.VALGRIND_DIR else 1
    pres = presence_kamailio(kamailio_factory, str(tmp_path))
    users = {"stock": user + "s", "aor": user + "a"}
    runs = {}
    for impl in ("stock", "aor"):
        # one SIP worker: after a NOTIFY (the presence server sends it after
        # its 200 to the PUBLISH) an OPTIONS answered by the registrar
        # proves pua has taken the 200's entity tag before the next change
        k = reginfo_kamailio(kamailio_factory, impl, str(tmp_path), pres.port,
                             children=1)
        w = sip.Subscriber(pres.port, "sip:%s@127.0.0.1" % users[impl])
        r = w.subscribe(timeout=2 * slow)
        assert r.status in (200, 202), (impl, r)
        runs[impl] = (k, w, sip.Client(k.port))
    # the same Contacts, Call-IDs and CSeqs at both registrars
    cid_a, cid_b, cid_c = (sip.token(12) for _ in range(3))

    def contact(impl, port):
        return "sip:%s@127.0.0.1:%d" % (users[impl], port)

    steps = [  # (what, contact port, Call-ID, CSeq, Expires)
        ("register a", 5301, cid_a, 1, 300),
        ("refresh a", 5301, cid_a, 2, 300),
        ("register b", 5302, cid_b, 1, 2),
        ("b expires", None, None, None, None),
        ("unregister a", 5301, cid_a, 3, 0),
        ("register c", 5303, cid_c, 1, 2),
        ("c expires", None, None, None, None),
    ]
    # the initial NOTIFY (RFC 6665 4.2.2) first: no presentity yet
    for impl, (k, w, c) in runs.items():
        got = w.wait_notifies(1, 5 * slow)
        assert len(got) == 1, (impl, got)
    for n, (what, port, cid, cseq, exp) in enumerate(steps, 2):
        for impl, (k, w, c) in runs.items():
            if port is None:
                continue
            r = c.register(k.aor(users[impl]), [contact(impl, port)],
                           expires=exp, call_id=cid, cseq=cseq,
                           timeout=2 * slow)
            assert r.status == 200, (impl, what, r)
        for impl, (k, w, c) in runs.items():
            got = w.wait_notifies(n, (5 if port else 8) * slow)
            assert len(got) == n, (impl, what, [m.body for m in got])
            assert c.options(timeout=2 * slow).status == 200
    # one NOTIFY per change: nothing more comes
    time.sleep(1.0 * slow)  # the observation window itself, not a wait
    notifies = {}
    for impl, (k, w, c) in runs.items():
        c.close()
        w.close()
        notifies[impl] = list(w.notifies)
        assert len(notifies[impl]) == len(steps) + 1, (
            impl, [m.body for m in notifies[impl]])
    for impl, ms in notifies.items():
        assert ms[0].body.strip() == "", (impl, ms[0].body)
        for m in ms:
            assert m.get("event") == "reg", (impl, m)
            assert m.get("subscription-state").startswith("active"), (impl, m)
        for m in ms[1:]:
            assert m.get("content-type") == "application/reginfo+xml", m
    got = {impl: [reginfo_summary(m.body, users[impl]) for m in ms[1:]]
           for impl, ms in notifies.items()}
    # the sequence itself: (registration state, [(contact, state, event)])
    seq = [[(rs, [(cc[0].rsplit(":", 1)[1], cc[1], cc[2]) for cc in cs])
            for _, rs, cs in regs] for _, _, regs in got["stock"]]
    assert seq == [
        [("active", [("5301", "active", "created")])],
        [("active", [("5301", "active", "refreshed")])],
        [("active", [("5301", "active", "registered"),
                     ("5302", "active", "created")])],
        # the expired contact is no longer valid when the callback runs:
        # pua_reginfo leaves it out
        [("active", [("5301", "active", "registered")])],
        [("terminated", [("5301", "terminated", "unregistered")])],
        [("active", [("5303", "active", "created")])],
        [("terminated", [])],
    ], got["stock"]
    for impl in ("stock", "aor"):
        assert all(regs[0][0] == "sip:USER@127.0.0.1"
                   for _, _, regs in got[impl]), got[impl]
    assert got["aor"] == got["stock"], "\n".join(
        "%s\n  stock %s\n  aor   %s" % (st[0], s, a)
        for st, s, a in zip(steps, got["stock"], got["aor"]) if s != a)
    # the seconds left of each contact, as each registrar had it (a second
    # apart at most: the clock ticks between the two registrars)
    for n, (ms, ma) in enumerate(zip(notifies["stock"][1:],
                                     notifies["aor"][1:])):
        es = reginfo_expires(ms.body.replace(users["stock"], "USER"))
        ea = reginfo_expires(ma.body.replace(users["aor"], "USER"))
        assert es.keys() == ea.keys(), (steps[n][0], es, ea)
        for uri in es:
            assert abs(es[uri] - ea[uri]) <= 1 + slow, (steps[n][0], es, ea)
    assert pres.alive()


# -- dmq_usrloc: a stock node and an aor node replicate ---------------------

DMQ_REQUEST_ROUTE = """
    if(is_method("KDMQ")) {
        dmq_handle_message();
        exit;
    }
    if(is_method("OPTIONS") && uri==myself && $rU==$null) {
        sl_send_reply("200", "OK");
        exit;
    }
    if(is_method("ACK")) {
        if(t_check_trans()) {
            t_relay();
        }
        exit;
    }
    if(has_totag()) {
        t_relay();
        exit;
    }
    if(is_method("REGISTER")) {
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
    }
    if(!lookup("location")) {
        sl_send_reply("404", "Not Found");
        exit;
    }
    t_relay();
    exit;
"""


def dmq_node(factory, impl, port, peer_port, modparams=None, sync=0):
    extra = """
loadmodule "dmq.so"
loadmodule "dmq_usrloc.so"
modparam("dmq", "server_address", "sip:127.0.0.1:%(port)d")
modparam("dmq", "notification_address", "sip:127.0.0.1:%(peer)d")
modparam("dmq", "ping_interval", 5)
modparam("dmq_usrloc", "enable", 1)
modparam("dmq_usrloc", "sync", %(sync)d)
""" % {"port": port, "peer": peer_port, "sync": sync}
    mp = {"nat_source": 0, "min_expires_mode": 0, "case_sensitive": 0}
    mp.update(modparams or {})
    return factory(impl=impl, port=port, extra=extra,
                   request_route=DMQ_REQUEST_ROUTE, modparams=mp)


# waits for replication are longer under valgrind (make check-memory)
SLOW = 4 if kammod.VALGRIND_DIR else 1


def reachable(k, user, timeout=1.0):
    with sip.Client(k.port) as c:
        r = c.invite(k.ruri(user), timeout=timeout + 3)
        return r.status


@pytest.mark.parametrize("at", ["stock", "aor"])
def test_dmq_usrloc_between_a_stock_and_an_aor_node(kamailio_factory, user,
                                                    at):
    """dmq_usrloc on both nodes, usrloc's API on the stock one and ours on
    the other: a phone registered at either is reachable through the
    other (insert_ucontact through our record API, or our callbacks feeding
    dmq_usrloc), and its unregistration removes it at both."""
    p_stock, p_aor = sip.free_udp_port(), sip.free_udp_port()
    nodes = {"stock": dmq_node(kamailio_factory, "stock", p_stock, p_aor),
             "aor": dmq_node(kamailio_factory, "aor", p_aor, p_stock)}
    other = "aor" if at == "stock" else "stock"
    # the nodes find each other (dmq notification) before replicating
    for k in nodes.values():
        assert sip.wait_until(lambda: k.kamcmd(
            "dmq.list_nodes", check=False).count("host") >= 2, 10 * SLOW), \
            k.kamcmd("dmq.list_nodes", check=False)
    with sip.Uas() as uas:
        with sip.Client(nodes[at].port) as c:
            r = c.register(nodes[at].aor(user), [uas.contact(user)],
                           expires=300)
            assert r.status == 200
            assert sip.wait_until(
                lambda: reachable(nodes[other], user) == 200, 8 * SLOW), other
            assert reachable(nodes[at], user) == 200
            r = c.register(nodes[at].aor(user), [uas.contact(user)],
                           expires=0)
            assert r.status == 200
        assert sip.wait_until(
            lambda: reachable(nodes[other], user) == 404, 8 * SLOW), other
        assert reachable(nodes[at], user) == 404


def test_dmq_insert_through_the_api_keeps_max_contacts(kamailio_factory,
                                                       user):
    """insert_ucontact goes through our limits: with max_contacts 1
    (policy reject) on the aor node, a second contact replicated from the
    stock node (which has no such limit) is refused there, the first kept;
    the stock node holds both."""
    p_stock, p_aor = sip.free_udp_port(), sip.free_udp_port()
    stock = dmq_node(kamailio_factory, "stock", p_stock, p_aor)
    aor = dmq_node(kamailio_factory, "aor", p_aor, p_stock,
                   {"max_contacts": 1, "max_contacts_policy": "reject"})
    for k in (stock, aor):
        assert sip.wait_until(lambda: k.kamcmd(
            "dmq.list_nodes", check=False).count("host") >= 2, 10 * SLOW)
    with sip.Client(stock.port) as c:
        first = "sip:%s@127.0.0.1:%d" % (user, c.port)
        second = "sip:%s@127.0.0.1:%d" % (user, c.port + 1)
        assert c.register(stock.aor(user), [first], expires=300).status == 200
        assert sip.wait_until(lambda: aor.count()[0] >= 1, 8 * SLOW)
        assert c.register(stock.aor(user), [second],
                          expires=300).status == 200
        r = c.query(stock.aor(user))
        assert sorted(r.contact_uris()) == sorted([first, second])
        # the aor node refuses the second (nothing to wait for but the
        # replication: a third, unrelated AoR shows it has gone through)
        assert c.register(stock.aor(user + "x"), [first],
                          expires=300).status == 200
        assert sip.wait_until(lambda: aor.count()[0] >= 2, 8 * SLOW)
    with sip.Client(aor.port) as c:
        r = c.query(aor.aor(user))
        assert r.contact_uris() == [first], r


# -- pua_usrloc: presence of registrations ----------------------------------

PUA_USRLOC_REGISTER = """
        pua_set_publish();
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""


def pidf_summary(m, body):
    """(Expires of the PUBLISH as 0 or live, the PIDF's basic statuses)"""
    basics = []
    if body.strip():
        root = ET.fromstring(body)
        basics = sorted(e.text for e in root.iter()
                        if e.tag.endswith("basic"))
    return (m.get("event"), int(m.get("expires") or 0) > 0, basics)


def test_pua_usrloc_publishes_what_stock_publishes(kamailio_factory, user,
                                                   tmp_path):
    """pua_usrloc's callbacks (insert, refresh, delete) turn a REGISTER
    marked with pua_set_publish() into presence PUBLISHes (RFC 3903, PIDF
    open while registered, an expiring PUBLISH at the unregistration): the
    same sequence as with stock."""
    runs = {}
    for impl in ("stock", "aor"):
        sink = PublishSink()
        sink.start()
        db = os.path.join(str(tmp_path), "dbtext-%s" % impl)
        os.makedirs(db, exist_ok=True)
        for t in ("pua", "version"):
            shutil.copy(os.path.join(DBTEXT, t), db)
        extra = """
loadmodule "db_text.so"
loadmodule "pua.so"
loadmodule "pua_usrloc.so"
modparam("pua", "db_url", "text://%(db)s")
modparam("pua", "db_mode", 0)
modparam("pua_usrloc", "default_domain", "127.0.0.1:%(port)d")
""" % {"db": db, "port": sink.port}
        # one SIP worker: an OPTIONS answered after the sink's 200 proves
        # that pua has processed that 200 (a refresh PUBLISH without body
        # needs its entity tag, else pua_usrloc sends a new one with body)
        k = kamailio_factory(impl=impl, extra=extra, children=1,
                             register=PUA_USRLOC_REGISTER, modparams={
                                 "nat_source": 0, "min_expires_mode": 0,
                                 "case_sensitive": 0})
        runs[impl] = (k, sink)
    for impl, (k, sink) in runs.items():
        with sip.Client(k.port) as c:
            a = "sip:%s@127.0.0.1:%d" % (user, c.port)
            for n, exp in enumerate((300, 300, 0), 1):
                assert c.register(k.aor(user), [a],
                                  expires=exp).status == 200
                sip.wait_until(lambda: len(sink.msgs) >= n, 3)
                assert c.options().status == 200
    got = {}
    for impl, (k, sink) in runs.items():
        sink.close()
        got[impl] = [pidf_summary(m, b)
                     for m, b in zip(sink.msgs, sink.bodies)]
    assert got["stock"], got
    assert got["aor"] == got["stock"], got


def test_dmq_sync_of_a_starting_stock_node_from_an_aor_node(
        kamailio_factory, user):
    """dmq_usrloc's start-up sync: a stock node that joins later gets the
    aor node's bindings, read through get_all_ucontacts and
    get_urecord_by_ruid (our ruids and AoR hashes)."""
    p_stock, p_aor = sip.free_udp_port(), sip.free_udp_port()
    aor = dmq_node(kamailio_factory, "aor", p_aor, p_stock, sync=1)
    with sip.Uas() as uas:
        with sip.Client(aor.port) as c:
            assert c.register(aor.aor(user), [uas.contact(user)],
                              expires=300).status == 200
        stock = dmq_node(kamailio_factory, "stock", p_stock, p_aor, sync=1)
        assert sip.wait_until(lambda: reachable(stock, user) == 200,
                              15 * SLOW)


# -- every record member, through a probe module, stock as the oracle ------


PROBE_SRC = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "ulprobe")


@pytest.fixture(scope="module")
def ulprobe_so():
    """test/ulprobe built as a module of the Kamailio tree (KAMAILIO_SRC),
    against that tree's usrloc.h."""
    ksrc = os.environ.get("KAMAILIO_SRC")
    assert ksrc and os.path.isdir(os.path.join(ksrc, "src", "modules")), \
        "KAMAILIO_SRC must name the Kamailio tree (see the Makefile)"
    dst = os.path.join(ksrc, "src", "modules", "ulprobe")
    os.makedirs(dst, exist_ok=True)
    for f in ("ulprobe.c", "Makefile"):
        shutil.copy(os.path.join(PROBE_SRC, f), dst)
    r = subprocess.run(["make", "-C", ksrc, "modules=src/modules/ulprobe",
                        "modules"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return os.path.join(dst, "ulprobe.so")


def probe(k, *args):
    """An ulprobe.* RPC: its output as an ordered list of (key, value)."""
    out = k.kamcmd("ulprobe." + args[0], *args[1:], check=False)
    return re.findall(r"^\s*([a-z_]+):\s*(\S.*?)\s*$", out, re.M)


def first(pairs, key):
    for k, v in pairs:
        if k == key:
            return v
    return None


def uris(pairs):
    return sorted(v for k, v in pairs if k in ("uri", "contact"))


def run_members(k, user, ruid_of):
    """The same sequence of API calls against k; returns what each gave,
    with what differs by design (ruids, exact expiry) normalized."""
    aor = k.aor_key(user)
    c1 = "sip:%s@127.0.0.1:5071" % user
    c2 = "sip:%s@127.0.0.1:5072" % user
    res = []

    def step(name, pairs, keep=("rc", "get_ucontact")):
        res.append((name, tuple((kk, v) for kk, v in pairs if kk in keep),
                    tuple(uris(pairs))))
        return pairs

    step("domain location", probe(k, "domain", "location"))
    step("domain nosuch", probe(k, "domain", "nosuch"))
    step("get unknown aor", probe(k, "get", "location", aor))
    step("insert c1", probe(k, "put", "location", aor, c1, 300, 1))
    p = step("update c1 newer cseq", probe(k, "put", "location", aor, c1,
                                           600, 2))
    exp = [int(v) for kk, v in p if kk == "expires"]
    assert exp and 595 <= exp[0] <= 600, p
    step("same cseq again", probe(k, "put", "location", aor, c1, 600, 2))
    step("older cseq", probe(k, "put", "location", aor, c1, 600, 1))
    g = step("get", probe(k, "get", "location", aor), keep=("rc", "hash_ok"))
    ruid = first(g, "ruid")
    ruid_of.append(ruid)
    step("by ruid", probe(k, "by_ruid", "location", aor, ruid))
    step("by unknown ruid", probe(k, "by_ruid", "location", aor,
                                  "no-such-ruid"))
    # the ruid the consumer gave at the insert finds the contact too
    step("by the inserter's ruid", probe(k, "by_ruid", "location", aor,
                                         "ulprobe-ruid-1"))
    with sip.Client(k.port) as c:
        assert c.register(k.aor(user), [c2], expires=300).status == 200
    step("get after a REGISTER", probe(k, "get", "location", aor))
    all_ = probe(k, "all")
    res.append(("all has both", first(all_, "rc"),
                c1 in uris(all_) and c2 in uris(all_)))
    step("delete c1", probe(k, "del", "location", aor, c1))
    step("get after delete", probe(k, "get", "location", aor))
    step("delete unknown contact", probe(k, "del", "location", aor,
                                         "sip:nobody@127.0.0.1"))
    step("delete record", probe(k, "delrec", "location", aor))
    step("get after delete record", probe(k, "get", "location", aor))
    cbs = probe(k, "cbs")
    res.append(("callbacks", tuple(cbs)))
    return res


def test_every_record_member_behaves_as_stock(kamailio_factory, user,
                                              ulprobe_so):
    """A consumer module (test/ulprobe) calls get_udomain, get_urecord,
    insert_urecord, get_ucontact (not found, newer, equal and older CSeq),
    insert_ucontact, update_ucontact, get_urecord_by_ruid (found, unknown),
    get_all_ucontacts, delete_ucontact, delete_urecord, lock/unlock_udomain
    and release_urecord, and its callback (every type) reads the record
    again through the API: the codes, the records and the callback counts
    are stock's."""
    got = {}
    for impl in ("stock", "aor"):
        k = kamailio_factory(impl=impl, extra='loadmodule "%s"\n' % ulprobe_so,
                             modparams={"nat_source": 0,
                                        "min_expires_mode": 0,
                                        "case_sensitive": 0})
        ruids = []
        got[impl] = run_members(k, user, ruids)
        assert ruids[0], got[impl]
    assert got["aor"] == got["stock"], "\n".join(
        "%s\n  stock %s\n  aor   %s" % (s[0], s[1:], a[1:])
        for s, a in zip(got["stock"], got["aor"]) if s != a)


# -- memory: nathelper's walk over 100,000 bindings -------------------------

def pkg_used_total(k):
    """pkg memory used by all processes (kamcmd pkg.stats)."""
    out = k.kamcmd("pkg.stats")
    return sum(int(v) for v in re.findall(r"^\s*used:\s*(\d+)", out, re.M))


def shm_used_now(k):
    out = k.kamcmd("core.shmmem")
    return int(re.search(r"used:\s*(\d+)", out).group(1))


def test_nathelper_rounds_over_100000_bindings_leave_memory_as_it_was(
        kamailio_factory, tmp_path):
    """100,000 bindings (loaded from a snapshot), nathelper pinging every
    one (ping_nated_only 0) in natping_interval 2 partitions: round after
    round, get_all_ucontacts leaves pkg and shm where they were, and the
    bindings all stay."""
    import test_snapshot
    path = str(tmp_path / "snap.xml")
    n = 100000
    test_snapshot.make_snapshot(path, ["m%06d" % i for i in range(n)])
    # the snapshot's contact of user i is at port 20000 + i % 10000: one
    # port is the Contact of 10 AoRs, spread over the slots
    ear = None
    for port in range(20000, 30000, 97):
        try:
            ear = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ear.bind(("127.0.0.1", port))
            break
        except OSError:
            ear.close()
            ear = None
    assert ear is not None
    listener = Listener(ear)
    extra = """
loadmodule "nathelper.so"
modparam("nathelper", "natping_interval", 2)
modparam("nathelper", "ping_nated_only", 0)
"""
    k = kamailio_factory(impl="aor", extra=extra, args=["-m", "256",
                                                        "-M", "16"],
                         modparams={"snapshot_file": path,
                                    "snapshot_interval": 3600,
                                    "nat_source": 0})
    assert k.count()[1] == n
    # nathelper's buffer is allocated and freed each round: the level
    # between rounds is the least of samples taken through a window
    def low_water(seconds):
        pk, sh = [], []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pk.append(pkg_used_total(k))
            sh.append(shm_used_now(k))
            time.sleep(0.2)
        return min(pk), min(sh)

    # two rounds to reach the steady state (the buffer reaches its size)
    pkg0, shm0 = low_water(2 * 2 + 0.5)
    listener.thread.start()
    pkg1, shm1 = low_water(3 * 2 + 0.5)
    listener.stop = True
    listener.thread.join(2)
    ear.close()
    # each of the 10 AoRs of that port pinged once per interval (3 rounds;
    # at least half of them on a loaded machine)
    kas = [g for g in listener.got if g[2] == b"\0\0\0\0"]
    assert 15 <= len(kas) <= 45, len(kas)
    assert k.alive()
    assert k.count()[1] == n
    # nothing left behind round after round (less is fine)
    assert pkg1 <= pkg0 + 64 * 1024, (pkg0, pkg1)
    assert shm1 <= shm0 + 256 * 1024, (shm0, shm1)


# -- Debian's kamailio.cfg with WITH_NAT -------------------------------------

DEBIAN_CFG = "/etc/kamailio/kamailio.cfg"


def debian_cfg(impl, workdir, port):
    """Debian's cfg, read now; for aor the two loadmodule lines swapped and
    the usrloc/registrar modparams renamed; the listen address, the RPC
    socket and the working directory made the test's own."""
    with open(DEBIAN_CFG) as f:
        text = f.read()
    if impl == "aor":
        text = text.replace('loadmodule "usrloc.so"',
                            'loadmodule "%s"' % kammod.AOR_SO)
        text = text.replace('loadmodule "registrar.so"\n', "")
        text = re.sub(r'modparam\("(usrloc|registrar)"', 'modparam("aor"',
                      text)
        text = text.replace('modparam("nathelper|registrar"',
                            'modparam("nathelper|aor"')
    text = text.replace('loadmodule "ctl.so"',
                        'loadmodule "ctl.so"\nmodparam("ctl", "binrpc", '
                        '"unix:%s/ctl")' % workdir)
    path = os.path.join(workdir, "kamailio.cfg")
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.mark.skipif(not os.path.isfile(DEBIAN_CFG),
                    reason="Debian's kamailio package installs it")
def test_debian_cfg_with_nat_starts_with_aor_as_with_stock(tmp_path):
    """Debian's cfg with -A WITH_NAT -A WITH_NATSIPPING (nathelper with
    natping_interval 30 binds ul_bind_usrloc in its mod_init): it starts
    and answers with aor as with stock."""
    for impl in ("stock", "aor"):
        d = str(tmp_path / impl)
        os.makedirs(d)
        port = sip.free_udp_port()
        cfg = debian_cfg(impl, d, port)
        with open(os.path.join(d, "kamailio.log"), "w") as log:
            p = subprocess.Popen(
                [kammod.KAMAILIO, "-DD", "-E", "-f", cfg, "-A", "WITH_NAT",
                 "-A", "WITH_NATSIPPING", "-l", "udp:127.0.0.1:%d" % port,
                 "-n", "1", "-w", d, "-Y", d],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with sip.Client(port) as c:
                ok = sip.wait_until(lambda: p.poll() is None and _pings(c), 10)
            with open(os.path.join(d, "kamailio.log")) as f:
                out = f.read()
            assert ok, (impl, out[-2000:])
            assert "can't find usrloc" not in out
        finally:
            os.killpg(p.pid, 15)
            p.wait(5)


def _pings(c):
    try:
        return c.options(timeout=0.5).status in (200, 404, 483, 403)
    except sip.Timeout:
        return False


# -- the registrar API through the probe: bind_registrar ---------------------

REGAPI_REGISTER = """
        if($hdr(X-Q) != $null) {
            reg_api("set_q_override", "location", "$hdr(X-Q)");
        }
        if($hdr(X-Uri) != $null) {
            $var(r) = reg_api("save", "location", "$hdr(X-Uri)");
        } else {
            $var(r) = reg_api("save", "location");
        }
        if($var(r) < 0) {
            sl_send_reply("500", "API save failed");
        }
        exit;
"""

REGAPI_ROUTE = """
    if(!is_method("MESSAGE")) {
        sl_send_reply("405", "Method Not Allowed");
        exit;
    }
    $var(op) = $hdr(X-Op);
    if($hdr(X-Uri) != $null) {
        $var(r) = reg_api("$var(op)", "location", "$hdr(X-Uri)");
    } else {
        $var(r) = reg_api("$var(op)", "location");
    }
    append_to_reply("X-Rc: $var(r)\\r\\nX-Ruri: $ru\\r\\nX-Nb: $branch(count)\\r\\n");
    sl_send_reply("200", "Probe");
    exit;
"""


def regapi(k, c, user, op, uri=None):
    hdrs = [("X-Op", op)] + ([("X-Uri", uri)] if uri else [])
    data, cid, cs = c.request("MESSAGE", k.ruri(user), k.ruri(user),
                              call_id=sip.token(16), headers=hdrs)
    r = c.transact(data, cid, cs)
    ruri = r.get("x-ruri")
    return (r.status, r.get("x-rc"), ruri.replace(str(k.port), "PORT")
            if ruri else None, r.get("x-nb"))


def test_registrar_api_members_behave_as_stock(kamailio_factory, user,
                                               ulprobe_so):
    """save, save_uri, lookup, lookup_uri, registered and lookup_to_dset of
    bind_registrar, called by a module (test/ulprobe) from the script: the
    same replies, return codes, Request-URI and branches as stock's, and
    set_q_override's q in the 200 of the save() after it."""
    got = {}
    for impl in ("stock", "aor"):
        k = kamailio_factory(impl=impl, extra='loadmodule "%s"\n' % ulprobe_so,
                             register=REGAPI_REGISTER, route=REGAPI_ROUTE,
                             modparams={"nat_source": 0,
                                        "min_expires_mode": 0,
                                        "case_sensitive": 0})
        res = []
        with sip.Client(k.port) as c:
            c1 = "sip:%s@127.0.0.1:5081" % user
            c2 = "sip:%s@127.0.0.1:5082" % user
            r = c.register(k.aor(user), [c1], expires=300)
            res.append(("save", r.status, r.contact_uris()))
            other = "sip:%sother@127.0.0.1" % user
            r = c.register(k.aor(user), [c2], expires=300,
                           headers=[("X-Uri", other)])
            res.append(("save_uri", r.status, r.contact_uris()))
            res.append(("query after save_uri", c.query(k.aor(user))
                        .contact_uris()))
            res.append(("lookup", regapi(k, c, user, "lookup")))
            res.append(("lookup_uri", regapi(k, c, user, "lookup", other)))
            res.append(("registered", regapi(k, c, user, "registered")))
            res.append(("registered unknown",
                        regapi(k, c, user + "nobody", "registered")))
            res.append(("lookup unknown", regapi(k, c, user + "nobody",
                                                 "lookup")))
            res.append(("lookup_to_dset", regapi(k, c, user,
                                                 "lookup_to_dset")))
            res.append(("lookup_to_dset uri", regapi(k, c, user,
                                                     "lookup_to_dset",
                                                     other)))
            # set_q_override before save: the contact's q=0.9 becomes 0.3
            r = c.register(k.aor(user), ["<%s>;q=0.9" % c1], expires=300,
                           headers=[("X-Q", "0.3")])
            res.append(("set_q_override", r.status,
                        [(x.uri, x.q) for x in r.contacts()]))
        got[impl] = res
    assert ("set_q_override", 200, [("sip:%s@127.0.0.1:5081" % user, 0.3)]) \
        in got["aor"], got["aor"]
    assert got["aor"] == got["stock"], "\n".join(
        "stock %s\naor   %s" % (s, a)
        for s, a in zip(got["stock"], got["aor"]) if s != a)


# -- pua_reginfo's reginfo_handle_notify: a consumer writing through the API

NOTIFY_ROUTE = """
    if(is_method("NOTIFY")) {
        reginfo_handle_notify("location");
        sl_send_reply("200", "OK");
        exit;
    }
    sl_send_reply("404", "Not Found");
    exit;
"""


def reginfo_notify_body(aor, contacts, state="active"):
    cs = "".join(
        '<contact id="c%d" state="%s" event="%s" expires="%d" callid="cid%d" '
        'cseq="%d"><uri>%s</uri></contact>'
        % (i, st, ev, exp, i, 10 + i, uri)
        for i, (uri, st, ev, exp) in enumerate(contacts))
    return ('<?xml version="1.0"?>\n<reginfo xmlns="urn:ietf:params:xml:ns:'
            'reginfo" version="0" state="full"><registration aor="%s" '
            'id="r1" state="%s">%s</registration></reginfo>'
            % (aor, state, cs))


def test_pua_reginfo_notify_writes_through_the_record_api(kamailio_factory,
                                                          user, tmp_path,
                                                          ulprobe_so):
    """reginfo_handle_notify (a NOTIFY of RFC 3680 reginfo from an S-CSCF)
    stores its contacts with lock_udomain, get_urecord, insert_urecord,
    get_ucontact, insert_ucontact and update_ucontact, and a terminated
    registration with delete_urecord: the records, read back through the
    API, are stock's."""
    got = {}
    for impl in ("stock", "aor"):
        db = os.path.join(str(tmp_path), "db-%s" % impl)
        os.makedirs(db)
        for t in ("pua", "version"):
            shutil.copy(os.path.join(DBTEXT, t), db)
        extra = """
loadmodule "db_text.so"
loadmodule "pua.so"
loadmodule "pua_reginfo.so"
loadmodule "%(probe)s"
modparam("pua", "db_url", "text://%(db)s")
modparam("pua", "db_mode", 0)
modparam("pua_reginfo", "publish_reginfo", 0)
modparam("pua_reginfo", "server_address", "sip:reginfo@127.0.0.1")
""" % {"db": db, "probe": ulprobe_so}
        k = kamailio_factory(impl=impl, extra=extra, route=NOTIFY_ROUTE,
                             modparams={"nat_source": 0,
                                        "min_expires_mode": 0,
                                        "case_sensitive": 0})
        aor = "sip:%s@127.0.0.1" % user
        # pua_reginfo's key with use_domain 0 is user@host (notify.c takes
        # strlen() of the user part, which runs to the end of the AoR)
        key = "%s@127.0.0.1" % user
        a = "sip:%s@127.0.0.1:5091" % user
        b = "sip:%s@127.0.0.1:5092" % user
        steps = [
            [(a, "active", "registered", 300)],
            [(a, "active", "refreshed", 600), (b, "active", "created", 300)],
            [(a, "terminated", "unregistered", 0),
             (b, "active", "registered", 300)],
        ]
        res = []
        with sip.Client(k.port) as c:
            for n, cs in enumerate(steps + [None]):
                body = reginfo_notify_body(aor, cs) if cs else \
                    reginfo_notify_body(aor, [], state="terminated")
                data, cid, cseq = c.request(
                    "NOTIFY", k.ruri(user), aor, call_id=sip.token(16),
                    headers=[("Event", "reg"),
                             ("Subscription-State", "active"),
                             ("Content-Type",
                              "application/reginfo+xml")],
                    body=body)
                assert c.transact(data, cid, cseq).status == 200
                p = probe(k, "get", "location", key)
                # (uri, minutes left) of the valid contacts: stock keeps an
                # expired one in memory until its timer passes, we do not
                cs, cur = [], None
                for kk, v in p:
                    if kk == "uri":
                        cur = v
                    elif kk == "expires" and int(v) > 0:
                        cs.append((cur, int(v) // 60))
                res.append((first(p, "rc") if cs else "no valid contact",
                            sorted(cs)))
        got[impl] = res
    assert got["stock"][0][0] == "0", got
    assert got["aor"] == got["stock"], got


def test_keepalive_timeout_shortens_silent_contacts_as_stock(
        kamailio_factory, user):
    """nathelper's keepalive_timeout (set_keepalive_timeout): a UDP
    contact that answers the SIP pings keeps its expiry (refresh_keepalive
    records the answers); one that stays silent longer than the timeout is
    no longer pinged and expires within 10 s. Same as stock."""
    res = {}
    for impl in ("stock", "aor"):
        k = nat_kamailio(kamailio_factory, impl, sipping=True, interval=1,
                         more='modparam("nathelper", "keepalive_timeout", 3)\n')
        alive_c, alive_uri = nated_register(k, user + "a")
        silent_c, silent_uri = nated_register(k, user + "s")
        la = Listener(alive_c.sock, answer=True)
        ls = Listener(silent_c.sock, answer=False)
        th = threading.Thread(target=ls.run_for, args=(6.5,))
        th.start()
        la.run_for(6.5)
        th.join(5)
        with sip.Client(k.port) as c:
            ea = c.query(k.aor(user + "a")).contacts()[0].expires
            es = c.query(k.aor(user + "s")).contacts()[0].expires
        res[impl] = (ea > 3000, es <= 10, len(la.got) >= 5,
                     len(ls.got) <= 5)
        alive_c.close()
        silent_c.close()
    assert res["stock"] == (True, True, True, True), res
    assert res["aor"] == res["stock"], res


def test_get_ucontact_by_instance_as_stock(kamailio_factory, user,
                                           ulprobe_so):
    """get_ucontact_by_instance: the contact registered with that
    +sip.instance and reg-id (RFC 5626), angle brackets aside; another
    reg-id or instance is not found. Same as stock."""
    inst = '"<urn:uuid:00000000-0000-1000-8000-%012d>"' % 42
    got = {}
    for impl in ("stock", "aor"):
        k = kamailio_factory(impl=impl, extra='loadmodule "%s"\n' % ulprobe_so,
                             modparams={"nat_source": 0,
                                        "min_expires_mode": 0,
                                        "case_sensitive": 0})
        uri = "sip:%s@127.0.0.1:5095;ob" % user
        with sip.Client(k.port) as c:
            r = c.register(k.aor(user), ["<%s>;+sip.instance=%s;reg-id=1"
                                         % (uri, inst)], expires=300,
                           headers=[("Supported", "outbound")])
            assert r.status == 200, r
        key = k.aor_key(user)
        bare = inst.strip('"')
        got[impl] = [
            tuple(probe(k, "by_instance", "location", key, bare, 1)),
            tuple(probe(k, "by_instance", "location", key, bare.strip("<>"),
                        1)),
            tuple(probe(k, "by_instance", "location", key, bare, 2)),
            tuple(probe(k, "by_instance", "location", key,
                        "<urn:uuid:other>", 1)),
            tuple(probe(k, "by_instance", "location", key + "x", bare, 1)),
        ]
    assert got["stock"][0][0] == ("rc", "0"), got
    assert got["aor"] == got["stock"], got


def test_delete_urecord_by_ruid_removes_that_contact(kamailio_factory, user,
                                                     ulprobe_so):
    """delete_urecord_by_ruid (stock has it only with db_mode 3, no oracle
    here): the contact of that ruid goes, the AoR's other one stays; an
    unknown ruid is -1; a removal through the API runs the delete callback."""
    k = kamailio_factory(impl="aor", extra='loadmodule "%s"\n' % ulprobe_so,
                         modparams={"nat_source": 0})
    c1 = "sip:%s@127.0.0.1:5096" % user
    c2 = "sip:%s@127.0.0.1:5097" % user
    with sip.Client(k.port) as c:
        assert c.register(k.aor(user), [c1, c2], expires=300).status == 200
    key = k.aor_key(user)
    g = probe(k, "get", "location", key)
    ruids = dict(zip([v for kk, v in g if kk == "uri"],
                     [v for kk, v in g if kk == "ruid"]))
    deletes = int(first(probe(k, "cbs"), "delete"))
    assert first(probe(k, "delruid", "location", ruids[c1]), "rc") == "0"
    assert uris(probe(k, "get", "location", key)) == [c2]
    assert first(probe(k, "delruid", "location", ruids[c1]), "rc") == "-1"
    assert first(probe(k, "delruid", "location", "nonsense"), "rc") == "-1"
    assert int(first(probe(k, "cbs"), "delete")) == deletes + 1


def test_get_urecord_lists_contacts_in_stock_order(kamailio_factory, user,
                                                   ulprobe_so):
    """A record read through the API (get_urecord) lists its contacts as
    stock usrloc keeps them: highest q first (no q lowest), equal q oldest
    first, a refresh not moving one; with desc_time_order the last
    registered or refreshed first. get_urecord_by_ruid finds each contact
    by its ruid. Same as stock (pua_reginfo's NOTIFYs list them so)."""
    got = {}
    for impl in ("stock", "aor"):
        for dto in (0, 1):
            k = kamailio_factory(impl=impl,
                                 extra='loadmodule "%s"\n' % ulprobe_so,
                                 modparams={"nat_source": 0,
                                            "min_expires_mode": 0,
                                            "case_sensitive": 0,
                                            "desc_time_order": dto})
            cs = [("sip:%s@127.0.0.1:%d" % (user, 5201 + i), q)
                  for i, q in enumerate((None, "0.5", None, "0.9", "0.5"))]
            with sip.Client(k.port) as c:
                for uri, q in cs + [cs[0]]:
                    r = c.register(k.aor(user), [(uri, q and {"q": q})],
                                   expires=300, call_id=uri)
                    assert r.status == 200, r
                    # modified is in seconds: desc_time_order's order
                    # needs the refresh of cs[0] a second after the rest
                    if dto and uri == cs[-1][0]:
                        time.sleep(1.1)
            key = k.aor_key(user)
            g = probe(k, "get", "location", key)
            order = [v for kk, v in g if kk == "uri"]
            ruids = [v for kk, v in g if kk == "ruid"]
            found = [first(probe(k, "by_ruid", "location", key, ru), "uri")
                     for ru in ruids]
            got[(impl, dto)] = (order, found)
    u = ["sip:%s@127.0.0.1:%d" % (user, 5201 + i) for i in range(5)]
    assert got[("stock", 0)][0] == [u[3], u[1], u[4], u[0], u[2]], got
    assert got[("stock", 1)][0][0] == u[0], got
    for dto in (0, 1):
        assert got[("aor", dto)] == got[("stock", dto)], (dto, got)
        assert got[("aor", dto)][1] == got[("aor", dto)][0], got


# -- pua_bla: register_ulcb for every contact change, SUBSCRIBE dialog;sla --

class SubscribeSink(RequestSink):
    """An outbound proxy stand-in for pua_bla: answers every SUBSCRIBE 200
    with its Expires."""

    method = "SUBSCRIBE"

    def headers(self, m):
        return [("Contact", "<sip:bla@127.0.0.1:%d>" % self.port),
                ("Expires", m.get("expires") or "0"),
                ("Content-Length", "0")]


PUA_BLA_REGISTER = """
        bla_set_flag();
        if(!save("location")) {
            xlog("L_INFO", "save failed\\n");
        }
        exit;
"""


def test_pua_bla_subscribes_as_with_stock(kamailio_factory, user, tmp_path):
    """pua_bla registers UL_CONTACT_INSERT/UPDATE/DELETE/EXPIRE callbacks
    and, for a REGISTER marked with bla_set_flag(), SUBSCRIBEs (Event
    dialog;sla) on behalf of the registered AoR: after a registration, a
    refresh and an unregistration the SUBSCRIBEs sent are those stock sends
    for the same steps, step by step, with its Expires."""
    runs, steps = {}, {}
    for impl in ("stock", "aor"):
        sink = SubscribeSink()
        sink.start()
        db = os.path.join(str(tmp_path), "dbtext-bla-%s" % impl)
        os.makedirs(db, exist_ok=True)
        for t in ("pua", "version"):
            shutil.copy(os.path.join(DBTEXT, t), db)
        extra = """
loadmodule "db_text.so"
loadmodule "pua.so"
loadmodule "pua_bla.so"
modparam("pua", "db_url", "text://%(db)s")
modparam("pua", "db_mode", 0)
modparam("pua_bla", "server_address", "sip:bla@127.0.0.1")
modparam("pua_bla", "default_domain", "127.0.0.1")
modparam("pua_bla", "header_name", "Sender")
modparam("pua_bla", "outbound_proxy", "sip:127.0.0.1:%(port)d")
""" % {"db": db, "port": sink.port}
        k = kamailio_factory(impl=impl, extra=extra, children=1,
                             register=PUA_BLA_REGISTER, modparams={
                                 "nat_source": 0, "min_expires_mode": 0,
                                 "case_sensitive": 0})
        runs[impl] = (k, sink)
    for impl, (k, sink) in runs.items():
        with sip.Client(k.port) as c:
            a = "sip:%s@127.0.0.1:%d" % (user, c.port)
            for n, exp in enumerate((300, 300, 0), 1):
                assert c.register(k.aor(user), [a],
                                  expires=exp).status == 200
                # whatever pua sends for this step has gone once pua has
                # handled the answers (one worker: the OPTIONS after them)
                sip.wait_until(lambda: len(sink.msgs) >= n, 1.0)
                assert c.options().status == 200
                steps.setdefault(impl, []).append(len(sink.msgs))
    got = {}
    for impl, (k, sink) in runs.items():
        sink.close()
        got[impl] = [(m.get("event"), int(m.get("expires") or -1) // 10,
                      m.get("to").split(";")[0], m.get("from").split(";")[0],
                      # the R-URI is the contact: each client's own port
                      m.first_line.split()[1].rsplit(":", 1)[0])
                     for m in sink.msgs]
    # stock: one at the registration and one at the refresh, each with
    # the binding's Expires (pua sends no ending SUBSCRIBE for the
    # unregistration's callback)
    assert steps["aor"] == steps["stock"], (steps, got)
    assert len(got["stock"]) >= 2, got
    assert got["aor"] == got["stock"], got
    assert got["aor"][0][1] == 300 // 10 + 1, got
